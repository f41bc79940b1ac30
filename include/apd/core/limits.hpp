// The documented ranges of the tools' options (README, "Contract"): values
// beyond them are usage errors rather than hours of thrashing or an
// allocation of exabytes.
#pragma once

#include <cstddef>
#include <cstdint>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

inline constexpr int kMaxThreads = 256;
inline constexpr std::int64_t kMaxBatchSize = std::int64_t{1} << 20;
inline constexpr std::int64_t kMaxLayerWidth = std::int64_t{1} << 16;
inline constexpr int kMaxEpochs = 1'000'000;
// --input-shape: dimensions per instance, and the size of each.
inline constexpr std::size_t kMaxInputDims = 8;
inline constexpr std::int64_t kMaxInputSize = std::int64_t{1} << 24;
inline constexpr std::size_t kMaxPurityBins = 1000;
// Above 1.01 a 64-bit strength needs at most ~4,500 logarithmic bins.
inline constexpr double kMinStrengthBase = 1.01;
inline constexpr double kMaxStrengthBase = 1e6;
// --shard I/N: N, and so the shard records apd-merge accepts.
inline constexpr std::size_t kMaxShards = 1'000'000;
// Monitor files (apd-monitor): classes of a model, its ReLU layers, and the
// width of one (a conv layer's C x H x W).
inline constexpr std::size_t kMaxClasses = std::size_t{1} << 20;
inline constexpr std::size_t kMaxMonitorLayers = 4096;
inline constexpr std::int64_t kMaxMonitorWidth = std::int64_t{1} << 24;

// What readers accept from a file, whatever it declares: ReLU layers of an
// APD (graph.widths), the bytes of one JSON value the APD reader holds at
// once (a node, link or instance record, or the graph metadata; its strings
// included), one line of metrics.jsonl, and a run.json.
inline constexpr std::size_t kMaxApdLayers = 4096;
inline constexpr std::size_t kMaxJsonValueBytes = std::size_t{64} << 20;
inline constexpr std::size_t kMaxJsonLineBytes = std::size_t{1} << 20;
inline constexpr std::size_t kMaxRunInfoBytes = std::size_t{16} << 20;
// Files read whole into a JSON document (memory ~8x their size): a monitor
// (patterns of a few layers) and a scores file (~45 bytes per instance and
// score, so ~2M instances).
inline constexpr std::size_t kMaxMonitorFileBytes = std::size_t{256} << 20;
inline constexpr std::size_t kMaxScoresFileBytes = std::size_t{256} << 20;
// apd-report's gallery pictures, base64 PNGs in one page (MNIST: ~330 bytes
// an image, so ~800,000 images).
inline constexpr std::size_t kMaxThumbnailBytes = std::size_t{256} << 20;

// A count option within 1..max; throws UsageError "OPTION: V must be at
// least 1" or "OPTION: V exceeds the maximum of MAX".
template <typename T>
void check_count_option(const char* option, T value, T max) {
  if (value <= 0) throw UsageError(fmt::format("{}: {} must be at least 1", option, value));
  if (value > max) throw UsageError(fmt::format("{}: {} exceeds the maximum of {}", option, value, max));
}

}  // namespace apd
