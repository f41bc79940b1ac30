// Escaping for text placed in XML (GraphML) and HTML (reports).
#pragma once

#include <string>
#include <string_view>

namespace apd {

[[nodiscard]] inline std::string escape_markup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace apd
