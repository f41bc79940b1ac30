// Names of enum values, written once per enum as a table: the same table
// parses a name, prints a value, lists the choices in --help and messages,
// and maps command-line values straight into the enum (apps/app_support).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace apd {

template <typename Enum, std::size_t N>
using NameTable = std::array<std::pair<std::string_view, Enum>, N>;

template <typename Enum, std::size_t N>
[[nodiscard]] constexpr std::optional<Enum> from_name(const NameTable<Enum, N>& table, std::string_view name) noexcept {
  for (const auto& [n, value] : table) {
    if (n == name) return value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
[[nodiscard]] constexpr std::string_view name_of(const NameTable<Enum, N>& table, Enum value) noexcept {
  for (const auto& [n, v] : table) {
    if (v == value) return n;
  }
  return "?";
}

// "a, b or c"
template <typename Enum, std::size_t N>
[[nodiscard]] std::string choices(const NameTable<Enum, N>& table) {
  std::string out;
  for (std::size_t k = 0; k < N; ++k) {
    if (k > 0) out += k + 1 == N ? " or " : ", ";
    out += table[k].first;
  }
  return out;
}

}  // namespace apd
