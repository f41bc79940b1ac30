// The two kinds of failure a user can act on. Executables map them to exit
// codes in main(): UsageError -> 2 (a bad option or argument), Error -> 1 (bad
// data, a missing file, a runtime failure). Messages name the file or option.
#pragma once

#include <stdexcept>
#include <string>

namespace apd {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace apd
