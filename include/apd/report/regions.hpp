// What apd-stats reads off the size of the instances' linear regions
// (apd-extract --geometry: each instance's region radius r and boundary
// distance d): their spread per flow and per pattern node, how small r or d
// flags the misclassified instances (AUROC), and the Spearman correlation of
// r with d and with the strength of the instance's flow, per file (the
// paper's "linear regions are denser around decision boundaries", as a number).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"
#include "apd/core/flows.hpp"
#include "apd/report/stats.hpp"

namespace apd {

// The minimum, median (the mean of the two middle values for an even count)
// and maximum of `values` (+infinity sorts last); NaN for none.
struct Spread {
  double min = 0, median = 0, max = 0;
};
[[nodiscard]] Spread spread_of(std::vector<double> values);

// Spearman's rank correlation of paired samples, ties given their average
// rank (+infinity ranks above every finite value); empty for fewer than two
// pairs or when either side is constant.
[[nodiscard]] std::optional<double> spearman(std::span<const double> x, std::span<const double> y);

// The AUROC of score = -r and score = -d as flags of the wrong instances,
// appended to the errors table; nothing for a file without distances.
void add_region_error_rows(StatsTables& t, const std::string& file, const Diagram& d);

// The regions table (per flow over `spec.flow_layers`, the largest
// `spec.top`, then per pattern node, the largest `spec.top` of each layer) and
// the region_correlations table. Throws apd::Error naming the file when it
// has no distances.
void add_region_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec);

// apd-report's Figure 3 panel of one APD with distances: per strength bin of
// its flows over the last two layers (the heatmaps' bins), the median and
// quartiles (nearest rank) of the instances' region radius, the median of
// the wrong ones, and the two Spearman correlations; +infinity as null.
[[nodiscard]] nlohmann::json region_panel_json(const Diagram& d, const BinSpec& bins);

}  // namespace apd
