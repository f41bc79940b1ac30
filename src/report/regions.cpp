#include "apd/report/regions.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

// The strength of each instance's flow.
std::vector<double> flow_strengths(const Diagram& d, const FlowSet& fs) {
  std::vector<double> strength(d.instances);
  for (std::size_t i = 0; i < d.instances; ++i) strength[i] = static_cast<double>(fs.flows[fs.flow_of[i]].strength);
  return strength;
}

Cell distance_cell(double x) { return Decimal{x, 4, true}; }

// Average ranks (1-based) of `x`, ties sharing the mean of their positions.
std::vector<double> ranks(std::span<const double> x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> r(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    const double mean = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t k = i; k < j; ++k) r[order[k]] = mean;
    i = j;
  }
  return r;
}

void require_distances(const Diagram& d, const std::string& file) {
  if (!d.region_radius.empty() || (d.has_instances && d.instances == 0 && d.graph.contains("geometry"))) return;
  throw Error(
      fmt::format("{}: no region_radius or boundary_distance in its instance records (extract it with "
                  "apd-extract --geometry)",
                  file));
}

// The spread of r and d over the instances `members`, as cells.
void append_spreads(std::vector<Cell>& row, const Diagram& d, const std::vector<std::size_t>& members) {
  for (const auto* column : {&d.region_radius, &d.boundary_distance}) {
    std::vector<double> values;
    values.reserve(members.size());
    for (const auto i : members) values.push_back((*column)[i]);
    const Spread s = spread_of(std::move(values));
    for (const double v : {s.min, s.median, s.max}) row.push_back(distance_cell(v));
  }
}

void add_flow_region_rows(StatsTables& t, const std::string& file, const Diagram& d, const FlowSet& fs,
                          std::size_t top) {
  std::vector<std::vector<std::size_t>> members(fs.flows.size());
  for (std::size_t i = 0; i < d.instances; ++i) members[fs.flow_of[i]].push_back(i);
  const std::size_t shown = top == 0 ? fs.flows.size() : std::min(top, fs.flows.size());
  for (std::size_t k = 0; k < shown; ++k) {
    const Flow& f = fs.flows[k];
    std::vector<Cell> row{
        file, epoch_cell(d), std::string("flow"), fmt::format("f{}", k), f.strength, Decimal{f.purity(), 4}, f.errors};
    append_spreads(row, d, members[k]);
    t.regions.rows.push_back(std::move(row));
  }
}

void add_node_region_rows(StatsTables& t, const std::string& file, const Diagram& d, std::size_t top) {
  std::vector<std::vector<std::size_t>> members(d.nodes.size());
  for (std::size_t i = 0; i < d.instances; ++i) {
    for (std::size_t l = 1; l <= d.layers(); ++l) members[d.path_node(i, l)].push_back(i);
  }
  std::vector<std::size_t> shown_in_layer(d.layers() + 2, 0);
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    const Node& n = d.nodes[k];
    if (n.kind != NodeKind::pattern || (top != 0 && shown_in_layer[n.layer]++ >= top)) continue;
    std::uint64_t majority = 0;
    for (const LabelCount& c : d.predicted_labels(k)) majority = std::max(majority, c.count);
    const double purity = n.count == 0 ? 0.0 : static_cast<double>(majority) / static_cast<double>(n.count);
    std::vector<Cell> row{file,    epoch_cell(d), std::string("node"), d.node_id(k), n.count, Decimal{purity, 4},
                          n.errors};
    append_spreads(row, d, members[k]);
    t.regions.rows.push_back(std::move(row));
  }
}

void add_correlation_rows(StatsTables& t, const std::string& file, const Diagram& d, const FlowSet& fs) {
  const std::vector<double> strength = flow_strengths(d, fs);
  const std::vector<std::pair<const std::vector<double>*, std::string>> against{
      {&d.boundary_distance, "boundary_distance"},
      {&strength, fmt::format("flow_strength ({})", fmt::join(fs.layers, "+"))}};
  for (const auto& [y, name] : against) {
    const auto rho = spearman(d.region_radius, *y);
    t.region_correlations.rows.push_back({file, epoch_cell(d), std::string("region_radius"), name,
                                          rho ? Cell{Decimal{*rho, 4}} : Cell{std::monostate{}},
                                          static_cast<std::uint64_t>(d.instances)});
  }
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  if (values.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan};
  }
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2.0;
  return {values.front(), median, values.back()};
}

std::optional<double> spearman(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size() || x.size() < 2) return std::nullopt;
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double mean = (static_cast<double>(x.size()) + 1.0) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx == 0 || syy == 0) return std::nullopt;
  return sxy / std::sqrt(sxx * syy);
}

void add_region_error_rows(StatsTables& t, const std::string& file, const Diagram& d) {
  if (d.region_radius.empty()) return;
  std::uint64_t wrong = 0;
  for (std::size_t i = 0; i < d.instances; ++i) wrong += d.label[i] != d.predicted[i];
  for (const auto& [column, name] : {std::pair{&d.region_radius, "small_region_radius"},
                                     std::pair{&d.boundary_distance, "small_boundary_distance"}}) {
    std::vector<ScoredGroup> groups;
    groups.reserve(d.instances);
    for (std::size_t i = 0; i < d.instances; ++i) {
      groups.push_back({-(*column)[i], 1, d.label[i] != d.predicted[i] ? 1U : 0U});
    }
    const auto a = auroc(std::move(groups));
    t.errors.rows.push_back({file, epoch_cell(d), std::string(name), a ? Cell{Decimal{*a, 4}} : Cell{std::monostate{}},
                             static_cast<std::uint64_t>(d.instances), wrong, std::string("instance")});
  }
}

void add_region_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec) {
  require_distances(d, file);
  const auto layers = spec.flow_layers.empty() ? default_flow_layers(d.layers()) : spec.flow_layers;
  const FlowSet fs = compute_flows(d, layers);
  add_flow_region_rows(t, file, d, fs, spec.top);
  add_node_region_rows(t, file, d, spec.top);
  add_correlation_rows(t, file, d, fs);
}

namespace {

nlohmann::json finite_or_null(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(nullptr); }

// The nearest-rank quantile q of sorted `v` (+infinity sorts last).
double quantile(const std::vector<double>& v, double q) {
  return v[static_cast<std::size_t>(std::floor(q * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

nlohmann::json region_panel_json(const Diagram& d, const BinSpec& bins) {
  const FlowSet fs = compute_flows(d, default_flow_layers(d.layers()));
  std::vector<std::vector<double>> all, wrong;
  for (std::size_t i = 0; i < d.instances; ++i) {
    const std::size_t b = strength_bin(fs.flows[fs.flow_of[i]].strength, bins.strength_base);
    if (b >= all.size()) all.resize(b + 1), wrong.resize(b + 1);
    all[b].push_back(d.region_radius[i]);
    if (d.label[i] != d.predicted[i]) wrong[b].push_back(d.region_radius[i]);
  }
  nlohmann::json j = {{"x", nlohmann::json::array()},
                      {"median", nlohmann::json::array()},
                      {"q1", nlohmann::json::array()},
                      {"q3", nlohmann::json::array()},
                      {"instances", nlohmann::json::array()},
                      {"wrong_median", nlohmann::json::array()},
                      {"flow_layers", fs.layers}};
  for (std::size_t b = 0; b < all.size(); ++b) {
    if (all[b].empty()) continue;
    std::sort(all[b].begin(), all[b].end());
    j["x"].push_back(fmt::format("[{}, {})", std::pow(bins.strength_base, static_cast<double>(b)),
                                 std::pow(bins.strength_base, static_cast<double>(b + 1))));
    j["median"].push_back(finite_or_null(spread_of(all[b]).median));
    j["q1"].push_back(finite_or_null(quantile(all[b], 0.25)));
    j["q3"].push_back(finite_or_null(quantile(all[b], 0.75)));
    j["instances"].push_back(all[b].size());
    j["wrong_median"].push_back(wrong[b].empty() ? nlohmann::json(nullptr)
                                                 : finite_or_null(spread_of(wrong[b]).median));
  }
  const std::vector<double> strength = flow_strengths(d, fs);
  const auto rho_s = spearman(d.region_radius, strength), rho_d = spearman(d.region_radius, d.boundary_distance);
  j["spearman_strength"] = rho_s ? nlohmann::json(*rho_s) : nlohmann::json(nullptr);
  j["spearman_boundary"] = rho_d ? nlohmann::json(*rho_d) : nlohmann::json(nullptr);
  return j;
}

}  // namespace apd
