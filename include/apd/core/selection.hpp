// Which instances a job reads, of a pool of candidates (a split's indices,
// ascending): the true labels to keep (--labels), at most --limit of them,
// the first ones or a seeded random sample (--select, --seed), and with
// --shard i/n only the i-th of n contiguous slices, forwarded inside the
// whole batches that hold it in a one-process run. Every tool that reads a
// dataset selects through this one type; its record goes in the files.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/names.hpp"

namespace apd {

// Which instances --limit keeps: the first by index, or a seeded random sample.
enum class Pick { first, random };
inline constexpr NameTable<Pick, 2> kPickNames{{{"first", Pick::first}, {"random", Pick::random}}};

// --shard i/n: the i-th (0-based) of n contiguous slices of the selection.
struct Shard {
  std::size_t index = 0, count = 1;
};

struct Selection {
  std::vector<std::int64_t> labels;  // true labels to keep; empty = all
  std::optional<std::size_t> limit;  // at most this many instances
  Pick pick = Pick::first;
  std::uint64_t seed = 0;  // of Pick::random: the same instances at every epoch
  std::optional<Shard> shard;
};

// Checks the values on their own (--limit 0, a negative label); throws
// UsageError naming the option.
void validate(const Selection& s);

// The selection's record in a file's metadata (split, labels, limit, select,
// seed); `split` is null for data read whole (an .npy file).
[[nodiscard]] nlohmann::json selection_record(const Selection& s, std::optional<std::string_view> split);

// The instances of `pool` (ascending indices into `labels`) that the labels,
// the limit and the pick keep, ascending; records "available" in `record`
// (a limit above it keeps them all). `split` names the pool in messages.
[[nodiscard]] std::vector<std::int64_t> select_instances(const Selection& s, std::vector<std::int64_t> pool,
                                                         std::span<const std::int64_t> labels, std::string_view split,
                                                         nlohmann::json& record);

// Rows [begin, end) of the instances forwarded are the ones kept; the
// others are forwarded only to fill the batches around them (--shard: every
// instance is forwarded in the batch, at the row, it has in one process,
// because BLAS kernels round a row's sums differently at another row or in
// a batch of another size, and a ReLU input within rounding of 0 would flip).
struct KeptRows {
  std::size_t begin = 0;
  std::size_t end = SIZE_MAX;

  // The part of the batch [first, first + rows) that is kept, relative to
  // the batch: [lo, hi), empty when lo == hi.
  [[nodiscard]] std::pair<std::size_t, std::size_t> in_batch(std::size_t first, std::size_t rows) const {
    const std::size_t lo = std::clamp(begin, first, first + rows) - first;
    return {lo, std::max(lo, std::clamp(end, first, first + rows) - first)};
  }
};

// The instances a job forwards, and which of them are its own.
struct ShardWindow {
  std::vector<std::int64_t> forward;
  KeptRows kept;  // forward[kept.begin, kept.end)
  [[nodiscard]] std::span<const std::int64_t> own() const;
};

// Without a shard, all of `selected`. With shard i/n, its own instances are
// the i-th of n contiguous slices of `selected` (instances floor(i N / n) ..
// floor((i + 1) N / n) - 1), recorded as record.shard (index, count, begin,
// end, of N), and it forwards them within the whole batches of `batch_size`
// that hold them in a one-process run: the shards' patterns are then those
// of one process, bit for bit.
[[nodiscard]] ShardWindow shard_window(const Selection& s, std::vector<std::int64_t> selected, std::size_t batch_size,
                                       nlohmann::json& record);

}  // namespace apd
