#include "apd/io/monitor_scores.hpp"

#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/output.hpp"
#include "json_fields.hpp"

namespace apd {

namespace {

const std::vector<std::string> kHeaderColumns{"format", "gamma", "monitor_file", "model_file", "model_sha256"};

Table header_table(const MonitorScores& m, const ScoresSource& source) {
  return {"monitor",
          kHeaderColumns,
          {{Cell{std::string(kMonitorScoresFormat)}, Cell{std::uint64_t{m.gamma}}, Cell{source.monitor_file},
            Cell{source.model_file}, Cell{source.model_sha256}}}};
}

// Appends `value`, or an empty cell when there is none.
template <typename T>
void add_cell(std::vector<Cell>& row, bool present, T value) {
  if (present) {
    row.emplace_back(std::move(value));
  } else {
    row.emplace_back();
  }
}

// Set, index, label, predicted, correct, the distances, combined, flagged.
std::vector<Cell> instance_row(const MonitorScores& m, const ScoredSet& s, std::size_t i) {
  const bool labelled = !s.truth.empty();
  std::vector<Cell> row{Cell{s.name}, Cell{s.index[i]}};
  add_cell(row, labelled, std::int64_t{labelled ? s.truth[i] : 0});
  row.emplace_back(std::int64_t{s.predicted[i]});
  add_cell(row, labelled, labelled && s.truth[i] == s.predicted[i]);
  for (const auto& d : s.distance) add_cell(row, d[i] != kNoDistance, std::uint64_t{d[i]});
  const double c = combined_distance(m, s, i);
  add_cell(row, !std::isinf(c), Decimal{c, 4});
  row.emplace_back(flagged(s, i, m.gamma));
  if (!m.in.logits.empty()) {
    const LogitScores& z = s.logits[i];
    row.insert(row.end(), {Cell{Decimal{z.msp, 4}}, Cell{Decimal{z.max_logit, 4}}, Cell{Decimal{z.energy, 4}}});
  }
  return row;
}

}  // namespace

namespace {
constexpr std::array<const char*, 3> kLogitColumns{"msp", "max_logit", "energy"};
}  // namespace

std::string distance_column(std::size_t layer) { return fmt::format("distance_l{}", layer); }

Table monitor_layers_table(const MonitorScores& m) {
  Table t{"layers", {"layer", "width"}, {}};
  for (std::size_t k = 0; k < m.layers.size(); ++k) {
    t.rows.push_back({Cell{std::uint64_t{m.layers[k]}}, Cell{std::uint64_t{m.widths[k]}}});
  }
  return t;
}

Table monitor_instances_table(const MonitorScores& m) {
  Table t{"instances", {"set", "index", "label", "predicted", "correct"}, {}};
  for (const std::size_t l : m.layers) t.columns.push_back(distance_column(l));
  t.columns.insert(t.columns.end(), {"combined", "flagged"});
  if (!m.in.logits.empty()) t.columns.insert(t.columns.end(), kLogitColumns.begin(), kLogitColumns.end());
  for (const ScoredSet* s : {&m.in, m.ood ? &*m.ood : nullptr}) {
    if (s == nullptr) continue;
    for (std::size_t i = 0; i < s->size(); ++i) t.rows.push_back(instance_row(m, *s, i));
  }
  return t;
}

void write_monitor_scores(const std::filesystem::path& path, const MonitorScores& m, const ScoresSource& source,
                          const std::vector<Table>& summary, TableFormat format) {
  switch (format) {
    case TableFormat::json: {
      std::vector<Table> tables{header_table(m, source), monitor_layers_table(m)};
      tables.insert(tables.end(), summary.begin(), summary.end());
      tables.push_back(monitor_instances_table(m));
      write_output(path, render_json(tables));
      break;
    }
    case TableFormat::csv: write_output(path, render_csv(monitor_instances_table(m))); break;
    case TableFormat::text:
    case TableFormat::markdown: throw UsageError("--format: the scores are written as json or csv");
  }
}

namespace {

class ScoresReader {
 public:
  explicit ScoresReader(std::string name) : r_(std::move(name)) {}

  MonitorScores read(dom::element root) const {
    const dom::object o = r_.object(root, "the top level");
    MonitorScores m;
    read_header(r_.array(r_.field(o, "monitor", "the top level"), "monitor"), m);
    for (const dom::element row : r_.array(r_.field(o, "layers", "the top level"), "layers")) {
      const auto where = fmt::format("layers[{}]", m.layers.size());
      if (m.layers.size() == kMaxMonitorLayers) r_.fail("layers", "holds too many layers");
      const dom::object l = r_.object(row, where);
      m.layers.push_back(r_.count(r_.field(l, "layer", where), where + ".layer", kMaxMonitorLayers));
      m.widths.push_back(r_.count(r_.field(l, "width", where), where + ".width", kMaxMonitorWidth));
      if (m.widths.back() == 0) r_.fail(where + ".width", "is 0");
    }
    if (m.layers.empty()) r_.fail("layers", "is empty");
    m.in.name = "in";
    m.in.distance.resize(m.layers.size());
    std::vector<std::string> columns;
    for (const std::size_t l : m.layers) columns.push_back(distance_column(l));
    std::size_t n = 0;
    for (const dom::element row : r_.array(r_.field(o, "instances", "the top level"), "instances")) {
      read_instance(row, fmt::format("instances[{}]", n++), columns, m);
    }
    if (m.in.size() == 0) r_.fail("instances", "holds no in-distribution instance");
    for (ScoredSet* s : {&m.in, m.ood ? &*m.ood : nullptr}) {
      if (s && !s->logits.empty() && s->logits.size() != s->size()) {
        r_.fail("instances", "some rows have msp, max_logit and energy and some do not");
      }
    }
    if (m.ood && m.ood->logits.empty() != m.in.logits.empty()) {
      r_.fail("instances", "some rows have msp, max_logit and energy and some do not");
    }
    return m;
  }

 private:
  void read_header(dom::array rows, MonitorScores& m) const {
    std::size_t n = 0;
    for (const dom::element row : rows) {
      if (n++ > 0) r_.fail("monitor", "holds more than one row");
      const dom::object h = r_.object(row, "monitor[0]");
      if (const auto f = r_.string(r_.field(h, "format", "monitor[0]"), "monitor[0].format");
          f != kMonitorScoresFormat) {
        r_.fail("monitor[0].format", fmt::format("'{}' is not {}", f, kMonitorScoresFormat));
      }
      m.gamma = static_cast<std::uint32_t>(
          r_.count(r_.field(h, "gamma", "monitor[0]"), "monitor[0].gamma", kMaxMonitorWidth));
    }
    if (n == 0) r_.fail("monitor", "is empty");
  }

  void read_instance(dom::element row, const std::string& where, const std::vector<std::string>& columns,
                     MonitorScores& m) const {
    const dom::object o = r_.object(row, where);
    const std::string set = r_.string(r_.field(o, "set", where), where + ".set");
    if (set != "in" && set != "ood") r_.fail(where + ".set", fmt::format("'{}' is not in or ood", set));
    if (set == "ood" && !m.ood) {
      m.ood = ScoredSet{"ood", {}, {}, {}, std::vector<std::vector<std::uint32_t>>(m.layers.size()), {}};
    }
    ScoredSet& s = set == "in" ? m.in : *m.ood;
    std::int64_t index = 0;
    if (r_.field(o, "index", where).get(index) != simdjson::SUCCESS || index < 0) {
      r_.fail(where + ".index", "is not a non-negative integer");
    }
    s.index.push_back(index);
    s.predicted.push_back(label(r_.field(o, "predicted", where), where + ".predicted"));
    if (set == "in") s.truth.push_back(label(r_.field(o, "label", where), where + ".label"));
    for (std::size_t k = 0; k < columns.size(); ++k) {
      const dom::element d = r_.field(o, columns[k], where);
      s.distance[k].push_back(
          d.is_null() ? kNoDistance : static_cast<std::uint32_t>(r_.count(d, where + "." + columns[k], m.widths[k])));
    }
    read_logit_scores(o, where, s);
  }

  // msp, max_logit, energy: all three or none (files that predate them).
  void read_logit_scores(dom::object o, const std::string& where, ScoredSet& s) const {
    dom::element e;
    if (o["msp"].get(e) != simdjson::SUCCESS) return;
    std::array<double, 3> v{};
    for (std::size_t k = 0; k < v.size(); ++k) {
      const dom::element c = r_.field(o, kLogitColumns[k], where);
      v[k] = c.is_null() ? std::numeric_limits<double>::quiet_NaN()
                         : r_.number(c, fmt::format("{}.{}", where, kLogitColumns[k]));
    }
    s.logits.push_back({v[0], v[1], v[2]});
  }

  std::int32_t label(dom::element e, const std::string& where) const {
    return static_cast<std::int32_t>(r_.count(e, where, kMaxClasses - 1));
  }

  JsonFields r_;
};

}  // namespace

MonitorScores parse_monitor_scores(std::string_view bytes, const std::string& name) {
  dom::parser parser;
  simdjson::padded_string padded;
  return ScoresReader(name).read(parse_json_document(parser, padded, bytes, name));
}

MonitorScores read_monitor_scores(const std::filesystem::path& path) {
  return parse_monitor_scores(read_text_file(path, kMaxScoresFileBytes, "scores file"), path.string());
}

}  // namespace apd
