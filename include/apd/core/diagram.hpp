// The Activation Pattern Diagram APD(D) = (V, E) of the paper, extended with
// predicted labels: V holds the distinct (l, A_l(x)) over the instances plus
// one node per predicted label; E holds (A*_{l-1}(x), A*_l(x)) for l = 2..L
// and (A*_L(x), predicted label). Every node and edge counts its instances
// and its errors (predicted != true); pattern nodes also carry histograms of
// true and predicted labels. Layers are numbered 1..L as in the paper; label
// nodes sit in column L+1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/pattern_store.hpp"

namespace apd {

struct LabelCount {
  std::int32_t label = 0;
  std::uint64_t count = 0;
  friend bool operator==(const LabelCount&, const LabelCount&) = default;
};

enum class NodeKind : std::uint8_t { pattern, label };

struct Node {
  NodeKind kind = NodeKind::pattern;
  std::uint32_t layer = 0;  // 1..L for patterns, L+1 for labels
  std::uint32_t rank = 0;   // position within its layer; ids are "l<layer>n<rank>"
  std::int32_t label = 0;   // label nodes only
  std::uint64_t count = 0;
  std::uint64_t errors = 0;
  std::size_t pattern_offset = 0;             // into Diagram::pattern_words (pattern nodes)
  std::size_t true_begin = 0, true_size = 0;  // into Diagram::histograms
  std::size_t pred_begin = 0, pred_size = 0;
  friend bool operator==(const Node&, const Node&) = default;
};

struct Link {
  std::uint32_t source = 0;  // node indices
  std::uint32_t target = 0;
  std::uint64_t count = 0;
  std::uint64_t errors = 0;
  friend bool operator==(const Link&, const Link&) = default;
};

struct Diagram {
  nlohmann::json graph = nlohmann::json::object();  // metadata, see docs/apd-json.md
  std::vector<std::size_t> widths;                  // width of layers 1..L
  std::vector<Node> nodes;  // by layer, then descending count, then pattern (labels: then label)
  std::vector<Link> links;  // by source layer, then descending count, then source, target
  std::vector<LabelCount> histograms;
  std::vector<std::uint64_t> pattern_words;
  std::uint64_t instances = 0;
  std::uint64_t errors = 0;

  // Per-instance records (optional in files): N entries each, path N x L.
  bool has_instances = false;
  std::vector<std::int64_t> index;  // position of the image in its IDX file
  std::vector<std::int32_t> label;
  std::vector<std::int32_t> predicted;
  std::vector<std::uint32_t> path;  // node index of instance i in layer l: path[i * L + l - 1]
  // Per instance when measured (apd-extract --geometry), else empty: the L2
  // distance from x to the boundary of its linear region, and to the
  // decision hyperplane of its affine piece (torch/geometry.hpp); +infinity
  // (null in JSON) when nothing bounds it.
  std::vector<double> region_radius;
  std::vector<double> boundary_distance;

  [[nodiscard]] std::size_t layers() const noexcept { return widths.size(); }
  [[nodiscard]] std::size_t words(std::size_t layer) const { return (widths.at(layer - 1) + 63) / 64; }
  [[nodiscard]] std::string node_id(std::size_t node) const;
  [[nodiscard]] std::span<const std::uint64_t> pattern_row(std::size_t node) const;
  [[nodiscard]] std::string pattern(std::size_t node) const;
  [[nodiscard]] std::span<const LabelCount> true_labels(std::size_t node) const {
    return {histograms.data() + nodes[node].true_begin, nodes[node].true_size};
  }
  [[nodiscard]] std::span<const LabelCount> predicted_labels(std::size_t node) const {
    return {histograms.data() + nodes[node].pred_begin, nodes[node].pred_size};
  }
  [[nodiscard]] std::uint32_t path_node(std::size_t instance, std::size_t layer) const {
    return path[instance * layers() + layer - 1];
  }
  // Number of pattern nodes in each layer: |A*_l(D)|.
  [[nodiscard]] std::vector<std::size_t> unique_patterns() const;

  friend bool operator==(const Diagram&, const Diagram&) = default;
};

// Builds the APD of the instances in `store`. `true_labels`, `predicted` and
// `indices` have one entry per instance (labels >= 0). `metadata` becomes the
// graph metadata, completed with schema, widths, unique counts, instances and
// errors. Deterministic: identical input gives an identical Diagram.
[[nodiscard]] Diagram build_diagram(const PatternStore& store, std::span<const std::int32_t> true_labels,
                                    std::span<const std::int32_t> predicted, std::span<const std::int64_t> indices,
                                    nlohmann::json metadata = nlohmann::json::object());

// Fills in the computed metadata fields of `d.graph` from the diagram itself.
void complete_metadata(Diagram& d);

inline constexpr const char* kSchema = "apd/1";
// apd/1 plus "pattern_hex", the compact text of wide patterns: files that
// use it say "apd/2"; readers take both.
inline constexpr const char* kSchemaHex = "apd/2";

}  // namespace apd
