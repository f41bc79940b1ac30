// Flows (the paper's clusters): instances grouped by their activation patterns
// on a chosen set of layers (by default the last two hidden layers: the
// paper's layers 2 and 3 for L = 3). Strength = number of instances; purity =
// share of the most frequent predicted label (the paper's definition);
// accuracy = share predicted correctly (what the authors' public code calls
// purity). Also the log-binned strength x purity distribution of Figure 3 and
// per-layer pattern summaries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "apd/core/diagram.hpp"

namespace apd {

struct Flow {
  std::uint64_t strength = 0;
  std::uint64_t errors = 0;
  std::int32_t majority_label = 0;  // most frequent predicted label (smallest on ties)
  std::uint64_t majority_count = 0;

  [[nodiscard]] double purity() const noexcept {
    return static_cast<double>(majority_count) / static_cast<double>(strength);
  }
  [[nodiscard]] double accuracy() const noexcept {
    return static_cast<double>(strength - errors) / static_cast<double>(strength);
  }
};

struct FlowSet {
  std::vector<std::size_t> layers;        // 1-based, ascending
  std::vector<Flow> flows;                // by descending strength, then node indices
  std::vector<std::uint32_t> flow_of;     // flow index of every instance
  std::vector<std::uint32_t> flow_nodes;  // flows x layers: each flow's pattern node per flow layer

  [[nodiscard]] std::span<const std::uint32_t> nodes(std::size_t flow) const {
    return {flow_nodes.data() + flow * layers.size(), layers.size()};
  }
};

// The paper's default: the last two hidden layers (layer 1 alone when L = 1).
[[nodiscard]] std::vector<std::size_t> default_flow_layers(std::size_t layers);
// Checks `layers` against 1..L, sorts and deduplicates; throws UsageError.
[[nodiscard]] std::vector<std::size_t> normalize_flow_layers(std::vector<std::size_t> layers, std::size_t L);
// Needs per-instance records (d.has_instances); throws apd::Error otherwise.
[[nodiscard]] FlowSet compute_flows(const Diagram& d, std::span<const std::size_t> layers);

struct BinSpec {
  double strength_base = 2.0;    // strength bin k = [base^k, base^(k+1))
  std::size_t purity_bins = 10;  // equal-width bins over [0, 1], the last one closed
};

struct BinCell {
  std::size_t strength_bin = 0;
  double strength_lo = 0, strength_hi = 0;  // [lo, hi)
  std::size_t purity_bin = 0;
  double purity_lo = 0, purity_hi = 0;  // [lo, hi), the last bin [lo, 1]
  std::uint64_t flows = 0;
  std::uint64_t instances = 0;
  std::uint64_t wrong = 0;
};

// The dense grid of strength bins 0..(bin of the strongest flow) x purity
// bins, strength-major. Throws UsageError on a base <= 1 or zero purity bins.
[[nodiscard]] std::vector<BinCell> bin_flows(const FlowSet& flows, const BinSpec& spec = {});
[[nodiscard]] std::size_t strength_bin(std::uint64_t strength, double base);
[[nodiscard]] std::size_t purity_bin(std::uint64_t majority, std::uint64_t strength, std::size_t bins);

struct LayerSummary {
  std::size_t layer = 0;  // 1-based
  std::size_t width = 0;
  std::uint64_t instances = 0;
  std::uint64_t unique_patterns = 0;  // |A*_l(D)|
  std::uint64_t singletons = 0;       // instances whose pattern no other instance has
  double singleton_share = 0;
  std::uint64_t largest = 0;  // instances of the most frequent pattern
  double entropy_bits = 0;    // of the pattern distribution
};

[[nodiscard]] std::vector<LayerSummary> summarize_layers(const Diagram& d);

}  // namespace apd
