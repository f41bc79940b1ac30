// UTF-8 validity (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), the test nlohmann::json applies when it writes a string: text a
// tool records in a JSON file (a page title, a path in run.json) is checked
// with it when the user gives it, not when the file is written.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace apd {

[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

// Bytes of a file quoted in a one-line message: printable ASCII as is, every
// other byte as \xNN (a NUL cuts no message, a newline splits none), and at
// most `max` bytes of it, then "...".
[[nodiscard]] std::string quoted_bytes(std::string_view bytes, std::size_t max = 64);

}  // namespace apd
