// Runtime monitors from activation patterns (Cheng, Nührenberg and Yasuoka,
// DATE 2019; Olber et al., CVPR 2023): per monitored ReLU layer l and
// predicted class c, the set P_{l,c} of distinct patterns A_l(x) of the
// correctly classified training instances predicted as c. An input x
// predicted as c is scored, per layer, by the Hamming distance from A_l(x)
// to the nearest pattern of P_{l,c} (0 = "in pattern"); it is flagged when
// that distance exceeds a tolerance gamma on any layer. A class without
// patterns has no distance: the input is flagged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apd/core/pattern_store.hpp"
#include "apd/core/views.hpp"

namespace apd {

// Hamming distance of two packed rows of equal length.
[[nodiscard]] std::uint32_t hamming_distance(std::span<const std::uint64_t> a,
                                             std::span<const std::uint64_t> b) noexcept;

// Exact nearest-neighbour search in Hamming distance over a fixed set of
// distinct packed patterns: a scan that XORs and counts 64 bits per
// instruction (popcnt, chosen at run time; a portable count otherwise) and
// abandons a pattern once its partial distance reaches the best so far.
// Measured on LeNet-5's 3456-bit layer (README, "Performance"), this beat a
// pivot table (LAESA, 16 farthest-first pivots) 2.4x: nearest distances
// there are hundreds of bits, so triangle-inequality bounds prune almost
// nothing and only cost their sorting.
class HammingIndex {
 public:
  HammingIndex() = default;
  // `rows` holds size = rows.size() / words patterns of `width` bits, each
  // ceil(width / 64) words with unused high bits 0.
  HammingIndex(std::size_t width, std::vector<std::uint64_t> rows);

  [[nodiscard]] std::size_t width() const noexcept { return width_; }
  [[nodiscard]] std::size_t words() const noexcept { return words_; }
  [[nodiscard]] std::size_t size() const noexcept { return words_ == 0 ? 0 : rows_.size() / words_; }
  [[nodiscard]] std::span<const std::uint64_t> row(std::size_t i) const { return {rows_.data() + i * words_, words_}; }

  // The smallest Hamming distance from `query` (words() words) to a pattern
  // of the set; nothing when the set is empty.
  [[nodiscard]] std::optional<std::uint32_t> nearest(std::span<const std::uint64_t> query) const;

 private:
  std::size_t width_ = 0, words_ = 0;
  std::vector<std::uint64_t> rows_;
};

// Distance of an input whose predicted class has no known pattern.
inline constexpr std::uint32_t kNoDistance = std::numeric_limits<std::uint32_t>::max();

struct MonitorLayer {
  std::size_t layer = 0;              // 1-based ReLU layer of the model
  std::size_t width = 0;              // of its patterns: the view's when it has one
  std::vector<HammingIndex> classes;  // P_{l,c}, one per class
  std::optional<LayerView> view;      // the view its patterns are seen through (core/views.hpp); none: full
};

struct Monitor {
  std::size_t classes = 0;
  // Training instances that went into each class's sets (correctly
  // classified ones predicted as c, or all predicted as c with all_instances).
  std::vector<std::uint64_t> instances;
  bool all_instances = false;
  std::vector<MonitorLayer> layers;
};

// Builds the monitor from a store of patterns of `layers` (store layer k is
// model ReLU layer layers[k]), the true and predicted labels of its
// instances, and the class count. Patterns of each set are distinct and in
// ascending order of their '0'/'1' text. Throws apd::Error on a label outside
// 0..classes-1. Sorts the classes' sets on up to `threads` threads.
[[nodiscard]] Monitor build_monitor(const PatternStore& store, std::span<const std::size_t> layers,
                                    std::span<const std::int32_t> truth, std::span<const std::int32_t> predicted,
                                    std::size_t classes, bool all_instances, std::size_t threads = 1);

// distance[k][i]: the distance of instance i's pattern in monitored layer k
// to its predicted class's set, kNoDistance when that set is empty. The
// store holds the monitor's layers, in its order. Runs on up to `threads`
// threads; the result does not depend on how many.
[[nodiscard]] std::vector<std::vector<std::uint32_t>> monitor_distances(const Monitor& monitor,
                                                                        const PatternStore& store,
                                                                        std::span<const std::int32_t> predicted,
                                                                        std::size_t threads);

}  // namespace apd

namespace apd {

// Scored instances of one set: in-distribution ("in", with labels) or
// out-of-distribution ("ood", without).
// The baselines every pattern monitor is measured against, from an
// instance's logits z: the maximum softmax probability max_c softmax(z)_c
// (Hendrycks and Gimpel, 2017), the maximum logit max_c z_c, and the energy
// -logsumexp_c z_c (Liu et al., 2020; temperature 1). As detectors a low
// msp, a low max logit and a high energy are suspicious.
struct LogitScores {
  double msp = 0;
  double max_logit = 0;
  double energy = 0;
};
// Computed in double precision, the maximum subtracted before exponentiating.
[[nodiscard]] LogitScores logit_scores(std::span<const float> logits) noexcept;

struct ScoredSet {
  std::string name;
  std::vector<std::int64_t> index;  // in the set's file
  std::vector<std::int32_t> truth;  // empty for an out-of-distribution set
  std::vector<std::int32_t> predicted;
  std::vector<std::vector<std::uint32_t>> distance;  // [monitored layer][instance]; kNoDistance: undefined
  std::vector<LogitScores> logits;                   // per instance; empty in scores files that predate them

  [[nodiscard]] std::size_t size() const noexcept { return predicted.size(); }
  [[nodiscard]] bool labelled() const noexcept { return !truth.empty() || predicted.empty(); }
};

// What `apd-monitor score` computes, and its scores file holds.
struct MonitorScores {
  std::vector<std::size_t> layers, widths;  // monitored ReLU layers (1-based) and their widths
  std::uint32_t gamma = 0;                  // the tolerance of the "flagged" column
  ScoredSet in;
  std::optional<ScoredSet> ood;
};

// Flagged at tolerance gamma: some layer's distance exceeds gamma (or is undefined).
[[nodiscard]] bool flagged(const ScoredSet& s, std::size_t i, std::uint32_t gamma) noexcept;
// The combined score: sum over layers of distance / width; +infinity when
// a distance is undefined.
[[nodiscard]] double combined_distance(const MonitorScores& m, const ScoredSet& s, std::size_t i) noexcept;

}  // namespace apd
