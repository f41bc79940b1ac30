#include "apd/core/utf8.hpp"

#include <cstdint>

namespace apd {

namespace {

// The number of continuation bytes after lead byte `b`, and the range the
// first of them must fall in (which excludes overlongs, surrogates and code
// points past U+10FFFF); -1 for a byte that cannot start a sequence.
struct Lead {
  int continuation = -1;
  std::uint8_t low = 0x80, high = 0xBF;
};

Lead lead_of(std::uint8_t b) noexcept {
  if (b < 0x80) return {0};
  if (b >= 0xC2 && b <= 0xDF) return {1};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) return {2};
  if (b == 0xED) return {2, 0x80, 0x9F};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3};
  if (b == 0xF4) return {3, 0x80, 0x8F};
  return {};
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    const Lead lead = lead_of(static_cast<std::uint8_t>(text[i]));
    if (lead.continuation < 0 || text.size() - i <= static_cast<std::size_t>(lead.continuation)) return false;
    for (int k = 1; k <= lead.continuation; ++k) {
      const auto c = static_cast<std::uint8_t>(text[i + static_cast<std::size_t>(k)]);
      const std::uint8_t low = k == 1 ? lead.low : std::uint8_t{0x80}, high = k == 1 ? lead.high : std::uint8_t{0xBF};
      if (c < low || c > high) return false;
    }
    i += static_cast<std::size_t>(lead.continuation) + 1;
  }
  return true;
}

std::string quoted_bytes(std::string_view bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes.substr(0, max)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out += c;
    } else {
      out += {'\\', 'x', kHex[b >> 4], kHex[b & 15]};
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace apd
