#include "apd/core/monitor.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "parallel.hpp"

namespace apd {

namespace {

// The scan, written once and compiled twice: with the popcnt instruction
// (every x86-64 since 2008, checked at run time) and without it, where
// std::popcount becomes a library call per word. Both give the same numbers.
#define APD_INLINE inline __attribute__((always_inline))

// d(a, b), or once it is known to be >= limit, some value >= limit.
APD_INLINE std::uint32_t distance_below(const std::uint64_t* a, const std::uint64_t* b, std::size_t words,
                                        std::uint32_t limit) noexcept {
  std::uint32_t d = 0;
  std::size_t w = 0;
  for (; w + 4 <= words; w += 4) {
    d += static_cast<std::uint32_t>(std::popcount(a[w] ^ b[w]) + std::popcount(a[w + 1] ^ b[w + 1]) +
                                    std::popcount(a[w + 2] ^ b[w + 2]) + std::popcount(a[w + 3] ^ b[w + 3]));
    if (d >= limit) return d;
  }
  for (; w < words; ++w) d += static_cast<std::uint32_t>(std::popcount(a[w] ^ b[w]));
  return d;
}

APD_INLINE std::uint32_t scan(const std::uint64_t* rows, std::size_t n, std::size_t words,
                              const std::uint64_t* query) noexcept {
  std::uint32_t best = kNoDistance;
  for (std::size_t i = 0; i < n && best > 0; ++i) {
    best = std::min(best, distance_below(query, rows + i * words, words, best));
  }
  return best;
}

__attribute__((target("popcnt"))) std::uint32_t scan_popcnt(const std::uint64_t* rows, std::size_t n, std::size_t words,
                                                            const std::uint64_t* query) {
  return scan(rows, n, words, query);
}
std::uint32_t scan_portable(const std::uint64_t* rows, std::size_t n, std::size_t words, const std::uint64_t* query) {
  return scan(rows, n, words, query);
}

bool has_popcnt() noexcept {
  static const bool has = __builtin_cpu_supports("popcnt") != 0;
  return has;
}

}  // namespace

std::uint32_t hamming_distance(std::span<const std::uint64_t> a, std::span<const std::uint64_t> b) noexcept {
  const std::size_t words = std::min(a.size(), b.size());
  return has_popcnt() ? scan_popcnt(a.data(), 1, words, b.data()) : scan_portable(a.data(), 1, words, b.data());
}

HammingIndex::HammingIndex(std::size_t width, std::vector<std::uint64_t> rows)
    : width_(width), words_((width + 63) / 64), rows_(std::move(rows)) {
  if (words_ == 0 || rows_.size() % words_ != 0) {
    throw Error(fmt::format("a pattern set of width {} cannot hold {} words", width, rows_.size()));
  }
}

std::optional<std::uint32_t> HammingIndex::nearest(std::span<const std::uint64_t> query) const {
  if (size() == 0) return std::nullopt;
  if (query.size() != words_) {
    throw Error(fmt::format("a pattern of {} words queried against patterns of {} words", query.size(), words_));
  }
  return has_popcnt() ? scan_popcnt(rows_.data(), size(), words_, query.data())
                      : scan_portable(rows_.data(), size(), words_, query.data());
}

namespace {

// The distinct rows of `rows` (n x words), in ascending '0'/'1' order.
std::vector<std::uint64_t> distinct_sorted(const std::vector<std::uint64_t>& rows, std::size_t words) {
  const std::size_t n = words == 0 ? 0 : rows.size() / words;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const auto row = [&](std::size_t i) { return std::span(rows.data() + i * words, words); };
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return compare_patterns(row(a), row(b)) < 0; });
  std::vector<std::uint64_t> out;
  for (std::size_t k = 0; k < n; ++k) {
    if (k > 0 && compare_patterns(row(order[k - 1]), row(order[k])) == 0) continue;
    const auto r = row(order[k]);
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

void check_labels(std::span<const std::int32_t> labels, std::size_t classes, const char* what) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<std::size_t>(labels[i]) >= classes) {
      throw Error(fmt::format("{} label {} of instance {} is outside the classes {}", what, labels[i], i,
                              index_range(classes)));
    }
  }
}

}  // namespace

Monitor build_monitor(const PatternStore& store, std::span<const std::size_t> layers,
                      std::span<const std::int32_t> truth, std::span<const std::int32_t> predicted, std::size_t classes,
                      bool all_instances, std::size_t threads) {
  const std::size_t n = store.size();
  if (layers.size() != store.layers() || truth.size() != n || predicted.size() != n) {
    throw Error(fmt::format("build_monitor: {} layers, {} instances, {} labels and {} predictions", layers.size(), n,
                            truth.size(), predicted.size()));
  }
  check_labels(truth, classes, "true");
  check_labels(predicted, classes, "predicted");
  Monitor m{classes, std::vector<std::uint64_t>(classes, 0), all_instances, {}};
  for (std::size_t i = 0; i < n; ++i) {
    if (all_instances || truth[i] == predicted[i]) ++m.instances[static_cast<std::size_t>(predicted[i])];
  }
  for (std::size_t k = 0; k < store.layers(); ++k) {
    const std::size_t words = store.words(k);
    std::vector<std::vector<std::uint64_t>> rows(classes);
    for (std::size_t i = 0; i < n; ++i) {
      if (!all_instances && truth[i] != predicted[i]) continue;
      const auto r = store.row(k, i);
      auto& into = rows[static_cast<std::size_t>(predicted[i])];
      into.insert(into.end(), r.begin(), r.end());
    }
    MonitorLayer layer{layers[k], store.width(k), std::vector<HammingIndex>(classes), std::nullopt};
    parallel_for(classes, threads,
                 [&](std::size_t c) { layer.classes[c] = HammingIndex(layer.width, distinct_sorted(rows[c], words)); });
    m.layers.push_back(std::move(layer));
  }
  return m;
}

std::vector<std::vector<std::uint32_t>> monitor_distances(const Monitor& monitor, const PatternStore& store,
                                                          std::span<const std::int32_t> predicted,
                                                          std::size_t threads) {
  const std::size_t n = store.size();
  if (store.layers() != monitor.layers.size() || predicted.size() != n) {
    throw Error(
        fmt::format("monitor_distances: {} layers and {} predictions for a monitor of {} layers and {} "
                    "instances",
                    store.layers(), predicted.size(), monitor.layers.size(), n));
  }
  check_labels(predicted, monitor.classes, "predicted");
  std::vector<std::vector<std::uint32_t>> out(store.layers(), std::vector<std::uint32_t>(n));
  for (std::size_t k = 0; k < store.layers(); ++k) {
    if (store.width(k) != monitor.layers[k].width) {
      throw Error(fmt::format("monitor_distances: layer {} has width {}, the monitor's {}", monitor.layers[k].layer,
                              store.width(k), monitor.layers[k].width));
    }
  }
  constexpr std::size_t kChunk = 256;
  const std::size_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, threads, [&](std::size_t chunk) {
    for (std::size_t i = chunk * kChunk; i < std::min(n, (chunk + 1) * kChunk); ++i) {
      const auto c = static_cast<std::size_t>(predicted[i]);
      for (std::size_t k = 0; k < store.layers(); ++k) {
        out[k][i] = monitor.layers[k].classes[c].nearest(store.row(k, i)).value_or(kNoDistance);
      }
    }
  });
  return out;
}

}  // namespace apd

namespace apd {

bool flagged(const ScoredSet& s, std::size_t i, std::uint32_t gamma) noexcept {
  return std::any_of(s.distance.begin(), s.distance.end(), [&](const auto& d) { return d[i] > gamma; });
}

double combined_distance(const MonitorScores& m, const ScoredSet& s, std::size_t i) noexcept {
  double sum = 0;
  for (std::size_t k = 0; k < s.distance.size(); ++k) {
    if (s.distance[k][i] == kNoDistance) return std::numeric_limits<double>::infinity();
    sum += static_cast<double>(s.distance[k][i]) / static_cast<double>(m.widths[k]);
  }
  return sum;
}

LogitScores logit_scores(std::span<const float> logits) noexcept {
  double top = -std::numeric_limits<double>::infinity();
  for (const float z : logits) top = std::max(top, static_cast<double>(z));
  double sum = 0;
  for (const float z : logits) sum += std::exp(static_cast<double>(z) - top);
  const double lse = top + std::log(sum);
  return {1.0 / sum, top, -lse};
}

}  // namespace apd
