// The toolkit's version and the git commit it was built from; every
// executable prints both for --version, and every output file records them.
#pragma once

#include <string_view>

namespace apd {

[[nodiscard]] std::string_view version() noexcept;
[[nodiscard]] std::string_view git_sha() noexcept;

}  // namespace apd
