// apd-report's page: the paper's three figures for a run and its APD files,
// as one self-contained HTML file (Plotly.js embedded, data inline).
//   Figure 1: train/validation loss per epoch (best epoch marked), unique
//             patterns per layer per epoch (linear or log scale);
//   Figure 2: one Sankey diagram per APD file;
//   Figure 3: strength (log bins) x purity heatmaps of all and wrong instances;
//   Monitor:  apd-monitor's flags and detection tables, and the histograms of
//             distances to the nearest known pattern of correct, wrong and
//             out-of-distribution instances.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"
#include "apd/report/gallery.hpp"

namespace apd {

// The Sankey diagram of one APD: one column per hidden layer plus one of
// predicted labels; at most `max_nodes` nodes per column, the smallest
// patterns merged into one "other (n patterns)" node, links re-aggregated.
struct SankeyView {
  struct ViewNode {
    std::size_t column = 0;  // 1..L patterns, L+1 labels
    std::string label;       // shown next to the node ("" for patterns)
    std::string hover;       // pattern, count, errors, label histogram
    std::uint64_t count = 0, errors = 0;
    std::size_t merged = 1;      // patterns behind the node
    double median_radius = 0;    // of its instances' region_radius (files of apd-extract --geometry)
    double median_boundary = 0;  // and boundary_distance
  };
  struct ViewLink {
    std::size_t source = 0, target = 0;
    std::uint64_t count = 0, errors = 0;
    double median_radius = 0, median_boundary = 0;
  };
  std::vector<ViewNode> nodes;
  std::vector<ViewLink> links;
};

// With the instances' distances (apd-extract --geometry), every node's and
// link's hover also gives their medians.
[[nodiscard]] SankeyView sankey_view(const Diagram& d, std::size_t max_nodes);

// The nodes per column a Sankey of `d` draws: `max_nodes`, or fewer (the
// most, never under 2) when it would draw more than `max_links` links
// (0: no limit). A 60,000-instance MNIST APD draws ~15,000 links at 500
// nodes per column, and the browser takes seconds to draw them.
[[nodiscard]] std::size_t sankey_node_cap(const Diagram& d, std::size_t max_nodes, std::size_t max_links);

// Of a column of `size` nodes, how many a Sankey of at most `max_nodes`
// per column draws as themselves: all when they fit, else max_nodes - 1
// (the rest merge into one "other" node drawn after them).
[[nodiscard]] constexpr std::size_t drawn_alone(std::size_t size, std::size_t max_nodes) noexcept {
  return size > max_nodes ? max_nodes - 1 : size;
}

// The nodes of each Sankey column c = 1..L+1 (index 0 empty) in drawing
// order: descending count, file order among equals (the file's order
// already, for files apd wrote).
[[nodiscard]] std::vector<std::vector<std::size_t>> column_order(const Diagram& d);

struct ReportOptions {
  std::filesystem::path run;                // optional: Figure 1 and the header
  std::vector<std::filesystem::path> apds;  // Figures 2 and 3
  // Optional, instead of a run: APD files of one model at several epochs
  // (report/series.hpp): Figure 1 from them, and Figures 2 and 3 of the
  // files at `figure_epochs` (empty: four spread over the series).
  std::vector<std::filesystem::path> series;
  std::vector<std::int64_t> figure_epochs;
  std::filesystem::path monitor;  // optional: apd-monitor score's JSON (the monitor section)
  std::size_t max_nodes = 500;    // per Sankey column
  std::size_t max_links = 4000;   // per Sankey: fewer nodes per column beyond it (0: no limit)
  std::string title;
  GalleryOptions gallery;  // where the galleries' pictures come from
};

// Everything the page draws, as JSON; warnings (e.g. an APD file from another
// run) are appended to `warnings`. Throws apd::Error on unusable input.
[[nodiscard]] nlohmann::json report_data(const ReportOptions& options, std::vector<std::string>& warnings);

// What the page embeds: Plotly.js, the drawing script and the style sheet.
struct ReportAssets {
  std::string_view plotly_js;
  std::string_view script;   // the figures
  std::string_view gallery;  // the galleries (after `script`, in the same script element)
  std::string_view style;
};
// The copies built into apd::report (src/report/assets/).
[[nodiscard]] ReportAssets embedded_assets() noexcept;

// The HTML page: `data` from report_data, drawn with `assets`.
[[nodiscard]] std::string render_report(const nlohmann::json& data, const ReportAssets& assets = embedded_assets());

}  // namespace apd
