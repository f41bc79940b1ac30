#include "apd/io/table.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/markup.hpp"

namespace apd {

namespace {

std::string shown(const Cell& c) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "n/a";
        } else if constexpr (std::is_same_v<T, Decimal>) {
          if (v.significant && std::isinf(v.value) && v.value > 0) return "inf";
          if (!std::isfinite(v.value)) return "n/a";
          return v.significant ? fmt::format("{:.{}g}", v.value, v.digits) : fmt::format("{:.{}f}", v.value, v.digits);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "yes" : "";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else {
          return fmt::format("{}", v);
        }
      },
      c);
}

// Full precision (shortest round-trip form) for machine-readable output.
std::string exact(const Cell& c) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return "";
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return std::isfinite(v.value) ? fmt::format("{}", v.value) : "";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else {
          return fmt::format("{}", v);
        }
      },
      c);
}

bool numeric(const Cell& c) {
  return std::holds_alternative<std::int64_t>(c) || std::holds_alternative<std::uint64_t>(c) ||
         std::holds_alternative<Decimal>(c);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

}  // namespace

std::string render_text(const Table& t) {
  std::vector<std::size_t> width(t.columns.size());
  for (std::size_t c = 0; c < t.columns.size(); ++c) width[c] = t.columns[c].size();
  std::vector<std::vector<std::string>> cells;
  for (const auto& row : t.rows) {
    cells.emplace_back();
    for (std::size_t c = 0; c < row.size(); ++c) {
      cells.back().push_back(shown(row[c]));
      width[c] = std::max(width[c], cells.back().back().size());
    }
  }
  std::string out = fmt::format("== {} ==\n", t.name);
  auto line = [&](const std::vector<std::string>& values, const std::vector<Cell>* row) {
    std::string l;
    for (std::size_t c = 0; c < values.size(); ++c) {
      const bool right = row != nullptr && numeric((*row)[c]);
      l += c == 0 ? "" : "  ";
      l += right ? fmt::format("{:>{}}", values[c], width[c]) : fmt::format("{:<{}}", values[c], width[c]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(t.columns, nullptr);
  for (std::size_t r = 0; r < t.rows.size(); ++r) line(cells[r], &t.rows[r]);
  if (t.rows.empty()) out += "(no rows)\n";
  return out;
}

std::string render_markdown(const Table& t) {
  std::string out = fmt::format("### {}\n\n| {} |\n|", t.name, fmt::join(t.columns, " | "));
  for (std::size_t c = 0; c < t.columns.size(); ++c) {
    const bool right = !t.rows.empty() && numeric(t.rows[0][c]);
    out += right ? "---:|" : "---|";
  }
  out += "\n";
  for (const auto& row : t.rows) {
    std::vector<std::string> values;
    for (const auto& cell : row) {
      std::string v = shown(cell);
      std::string escaped;
      for (const char ch : v) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
      values.push_back(escaped);
    }
    out += fmt::format("| {} |\n", fmt::join(values, " | "));
  }
  return out;
}

std::string render_html(const Table& t) {
  std::string out = fmt::format("<table class=\"{}\">\n<tr>", escape_markup(t.name));
  for (const auto& c : t.columns) out += "<th>" + escape_markup(c) + "</th>";
  out += "</tr>\n";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (const auto& cell : row)
      out += (numeric(cell) ? "<td class=\"num\">" : "<td>") + escape_markup(shown(cell)) + "</td>";
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string render_csv(const Table& t) {
  std::string out;
  std::vector<std::string> header;
  header.reserve(t.columns.size());
  for (const auto& c : t.columns) header.push_back(csv_field(c));
  out += fmt::format("{}\n", fmt::join(header, ","));
  for (const auto& row : t.rows) {
    std::vector<std::string> values;
    values.reserve(row.size());
    for (const auto& cell : row) values.push_back(csv_field(exact(cell)));
    out += fmt::format("{}\n", fmt::join(values, ","));
  }
  return out;
}

std::string render_json(const std::vector<Table>& tables) {
  std::string out = "{";
  for (std::size_t k = 0; k < tables.size(); ++k) {
    const Table& t = tables[k];
    std::vector<std::string> keys;
    for (const auto& c : t.columns) keys.push_back(nlohmann::json(c).dump());
    out += fmt::format("{}\n{}: [", k == 0 ? "" : ",", nlohmann::json(t.name).dump());
    for (std::size_t r = 0; r < t.rows.size(); ++r) {
      out += r == 0 ? "\n  {" : ",\n  {";
      for (std::size_t c = 0; c < t.rows[r].size(); ++c) {
        const Cell& cell = t.rows[r][c];
        std::string value;
        if (std::holds_alternative<std::string>(cell)) {
          value = nlohmann::json(std::get<std::string>(cell)).dump();
        } else if (std::holds_alternative<std::monostate>(cell) ||
                   (std::holds_alternative<Decimal>(cell) && !std::isfinite(std::get<Decimal>(cell).value))) {
          value = "null";
        } else {
          value = exact(cell);
        }
        out += fmt::format("{}{}: {}", c == 0 ? "" : ", ", keys[c], value);
      }
      out += '}';
    }
    out += t.rows.empty() ? "]" : "\n]";
  }
  out += "\n}\n";
  return out;
}

}  // namespace apd
