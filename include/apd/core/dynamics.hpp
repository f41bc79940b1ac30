// How training instances move between epochs: learning and forgetting events
// from per-epoch correctness (Toneva et al., ICLR 2019), the share of
// instances whose pattern A_l(x) changed between two epochs (churn), and the
// adjusted Rand index between two partitions (the flows of two epochs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "apd/core/pattern_store.hpp"

namespace apd {

// Which instances were classified as their training label at the end of
// each epoch: one row of ceil(n/8) bytes per epoch, instance i at bit i % 8
// (least significant first) of byte i / 8, unused high bits 0; the layout
// of the run's dynamics.bin (numpy: unpackbits(..., bitorder="little")).
class CorrectnessHistory {
 public:
  explicit CorrectnessHistory(std::size_t instances) : instances_(instances) {}

  [[nodiscard]] static std::size_t row_bytes(std::size_t instances) noexcept { return (instances + 7) / 8; }
  [[nodiscard]] std::size_t instances() const noexcept { return instances_; }
  [[nodiscard]] std::size_t epochs() const noexcept { return epochs_; }
  [[nodiscard]] std::size_t row_bytes() const noexcept { return row_bytes(instances_); }

  // Appends one epoch's row (row_bytes() bytes; unused high bits must be 0).
  void append_row(std::span<const std::uint8_t> row);
  [[nodiscard]] std::span<const std::uint8_t> row(std::size_t epoch_index) const {
    return {rows_.data() + epoch_index * row_bytes(), row_bytes()};
  }
  [[nodiscard]] bool correct(std::size_t epoch_index, std::size_t instance) const {
    return ((row(epoch_index)[instance / 8] >> (instance % 8)) & 1U) != 0;
  }

 private:
  std::size_t instances_;
  std::size_t epochs_ = 0;
  std::vector<std::uint8_t> rows_;
};

// One row from predicted and training labels (same length).
[[nodiscard]] std::vector<std::uint8_t> correctness_row(std::span<const std::int32_t> predicted,
                                                        std::span<const std::int32_t> labels);

// One instance's history. A learning event is a wrong -> correct transition
// between consecutive recorded epochs, or being correct at the first one; a
// forgetting event is correct at epoch t-1, wrong at epoch t.
struct InstanceDynamics {
  int first_learned = 0;  // first epoch classified correctly; 0 = never learned
  std::uint32_t learning_events = 0;
  std::uint32_t forgetting_events = 0;

  [[nodiscard]] bool never_learned() const noexcept { return first_learned == 0; }
  // Learned at some point and never forgotten.
  [[nodiscard]] bool unforgettable() const noexcept { return first_learned != 0 && forgetting_events == 0; }
};

// Per instance, over the history's epochs (epoch numbers 1..epochs()).
[[nodiscard]] std::vector<InstanceDynamics> instance_dynamics(const CorrectnessHistory& history);

// Per layer, the number of instances whose pattern differs between two
// stores of the same instances and widths.
[[nodiscard]] std::vector<std::uint64_t> pattern_changes(const PatternStore& before, const PatternStore& after);

// The flows: instances grouped by their patterns on the last two layers
// (the last one alone when there is one layer), from the groupings of every
// layer (group_patterns).
[[nodiscard]] Grouping flow_partition(std::span<const Grouping> by_layer);

// Adjusted Rand index (Hubert and Arabie) of two partitions of the same
// instances, from exact pair counts: 1 for identical partitions (and for two
// partitions that agree on every pair, e.g. both all-singletons), about 0
// for independent ones. Empty for fewer than two instances.
[[nodiscard]] std::optional<double> adjusted_rand_index(const Grouping& a, const Grouping& b);

}  // namespace apd
