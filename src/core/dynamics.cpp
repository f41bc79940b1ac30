#include "apd/core/dynamics.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

// Pair counts reach n^2/2 and their products n^4/4: 128-bit integers keep
// the adjusted Rand index exact up to its final division.
__extension__ using Int128 = __int128;
__extension__ using Uint128 = unsigned __int128;

Uint128 pairs(std::uint64_t k) { return Uint128{k} * (k - (k > 0 ? 1 : 0)) / 2; }

Uint128 pair_sum(std::span<const std::uint64_t> counts) {
  Uint128 sum = 0;
  for (const auto c : counts) sum += pairs(c);
  return sum;
}

}  // namespace

void CorrectnessHistory::append_row(std::span<const std::uint8_t> row) {
  if (row.size() != row_bytes()) {
    throw Error(fmt::format("correctness row of {} bytes, expected {}", row.size(), row_bytes()));
  }
  rows_.insert(rows_.end(), row.begin(), row.end());
  ++epochs_;
}

std::vector<std::uint8_t> correctness_row(std::span<const std::int32_t> predicted,
                                          std::span<const std::int32_t> labels) {
  if (predicted.size() != labels.size()) {
    throw Error(fmt::format("{} predictions for {} labels", predicted.size(), labels.size()));
  }
  std::vector<std::uint8_t> row(CorrectnessHistory::row_bytes(labels.size()), 0);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (predicted[i] == labels[i]) row[i / 8] = static_cast<std::uint8_t>(row[i / 8] | (1U << (i % 8)));
  }
  return row;
}

std::vector<InstanceDynamics> instance_dynamics(const CorrectnessHistory& history) {
  std::vector<InstanceDynamics> out(history.instances());
  for (std::size_t e = 0; e < history.epochs(); ++e) {
    for (std::size_t i = 0; i < out.size(); ++i) {
      const bool now = history.correct(e, i);
      const bool before = e > 0 && history.correct(e - 1, i);
      InstanceDynamics& d = out[i];
      if (now && !before) {
        ++d.learning_events;
        if (d.first_learned == 0) d.first_learned = static_cast<int>(e + 1);
      }
      if (!now && before) ++d.forgetting_events;
    }
  }
  return out;
}

std::vector<std::uint64_t> pattern_changes(const PatternStore& before, const PatternStore& after) {
  if (before.widths() != after.widths() || before.size() != after.size()) {
    throw Error("pattern_changes: the two pattern stores hold different instances or widths");
  }
  std::vector<std::uint64_t> changed(before.layers(), 0);
  for (std::size_t l = 0; l < before.layers(); ++l) {
    for (std::size_t i = 0; i < before.size(); ++i) {
      const auto a = before.row(l, i), b = after.row(l, i);
      if (!std::equal(a.begin(), a.end(), b.begin())) ++changed[l];
    }
  }
  return changed;
}

Grouping flow_partition(std::span<const Grouping> by_layer) {
  const std::size_t L = by_layer.size();
  if (L == 0) throw Error("flow_partition: no layers");
  if (L == 1) return by_layer[0];
  return group_pairs(by_layer[L - 2].id, by_layer[L - 1].id);
}

std::optional<double> adjusted_rand_index(const Grouping& a, const Grouping& b) {
  if (a.id.size() != b.id.size()) throw Error("adjusted_rand_index: the partitions cover different instances");
  const std::size_t n = a.id.size();
  if (n < 2) return std::nullopt;
  const Uint128 together = pair_sum(group_pairs(a.id, b.id).count);  // pairs together in both
  const Uint128 sa = pair_sum(a.count), sb = pair_sum(b.count), total = pairs(n);
  // ARI = (together - sa sb / total) / ((sa + sb) / 2 - sa sb / total), times 2 total:
  const Int128 numerator = static_cast<Int128>(together * total) - static_cast<Int128>(sa * sb);
  const Uint128 denominator = sa * (total - sb) + sb * (total - sa);
  if (denominator == 0) return 1.0;  // both one group, or both all singletons: the same partition
  return static_cast<double>(2.0L * static_cast<long double>(numerator) / static_cast<long double>(denominator));
}

}  // namespace apd
