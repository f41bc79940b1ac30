// The two kinds of failure a user can act on. Executables map them to exit
// codes in main(): UsageError -> 2 (a bad option or argument), Error -> 1 (bad
// data, a missing file, a runtime failure). Messages name the file or option.
#pragma once

#include <cstdint>
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

// The valid indices of `count` things for a message: "0..9", or "0..-1"
// never: "(none)" when there are none.
[[nodiscard]] inline std::string index_range(std::uint64_t count) {
  return count == 0 ? std::string("(none)") : "0.." + std::to_string(count - 1);
}

}  // namespace apd
