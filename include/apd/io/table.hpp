// A table of typed cells and its renderings: aligned text, markdown, CSV (a
// header row, one row per record) and JSON (an array of records, which
// pandas.DataFrame reads as is). Numbers print deterministically: text and
// markdown round them for reading, CSV and JSON keep every digit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/names.hpp"

namespace apd {

struct Decimal {
  double value = 0;
  int digits = 4;            // shown in text and markdown: after the point, or significant ones
  bool significant = false;  // for values spanning orders of magnitude (distances); +inf shows as "inf"
};

using Cell = std::variant<std::monostate, std::int64_t, std::uint64_t, Decimal, std::string, bool>;

struct Table {
  std::string name;
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
};

enum class TableFormat { text, csv, json, markdown };
inline constexpr NameTable<TableFormat, 4> kTableFormatNames{{{"text", TableFormat::text},
                                                              {"csv", TableFormat::csv},
                                                              {"json", TableFormat::json},
                                                              {"markdown", TableFormat::markdown}}};

[[nodiscard]] std::string render_text(const Table& t);
[[nodiscard]] std::string render_markdown(const Table& t);
[[nodiscard]] std::string render_csv(const Table& t);
// An HTML <table> of class t.name, cells as in text, markup escaped.
[[nodiscard]] std::string render_html(const Table& t);
// {"<table name>": [{column: value, ...}, ...], ...}, columns in order, written
// directly (no DOM: a flow table can hold a million rows).
[[nodiscard]] std::string render_json(const std::vector<Table>& tables);

}  // namespace apd
