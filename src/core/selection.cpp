#include "apd/core/selection.hpp"

#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/core/random.hpp"

namespace apd {

void validate(const Selection& s) {
  if (s.limit && *s.limit == 0) throw UsageError("--limit: 0 selects nothing");
  for (const auto l : s.labels) {
    if (l < 0) throw UsageError(fmt::format("--labels: {} is not a label", l));
  }
}

nlohmann::json selection_record(const Selection& s, std::optional<std::string_view> split) {
  return {{"split", split ? nlohmann::json(std::string(*split)) : nlohmann::json(nullptr)},
          {"labels", s.labels.empty() ? nlohmann::json("all") : nlohmann::json(s.labels)},
          {"limit", s.limit ? nlohmann::json(*s.limit) : nlohmann::json(nullptr)},
          {"select", name_of(kPickNames, s.pick)},
          {"seed", s.seed}};
}

namespace {

// Keeps the instances of `pool` whose label is one of `keep`, each of
// which must occur.
void keep_labels(std::vector<std::int64_t>& pool, const std::vector<std::int64_t>& keep,
                 std::span<const std::int64_t> labels, std::string_view split) {
  std::map<std::int64_t, std::size_t> present;
  for (const auto i : pool) ++present[labels[static_cast<std::size_t>(i)]];
  for (const auto l : keep) {
    if (present.count(l) != 0) continue;
    std::vector<std::int64_t> have;
    have.reserve(present.size());
    for (const auto& [k, v] : present) have.push_back(k);
    throw Error(fmt::format("--labels: label {} does not occur in the {} split (labels present: {})", l, split,
                            fmt::join(have, ",")));
  }
  const std::set<std::int64_t> wanted(keep.begin(), keep.end());
  std::erase_if(pool, [&](std::int64_t i) { return wanted.count(labels[static_cast<std::size_t>(i)]) == 0; });
}

}  // namespace

std::vector<std::int64_t> select_instances(const Selection& s, std::vector<std::int64_t> pool,
                                           std::span<const std::int64_t> labels, std::string_view split,
                                           nlohmann::json& record) {
  if (!s.labels.empty()) keep_labels(pool, s.labels, labels, split);
  record["available"] = pool.size();
  if (pool.empty()) {
    throw Error(fmt::format("the selection is empty ({} split, labels {})", split, record["labels"].dump()));
  }
  if (s.limit && *s.limit < pool.size()) {
    if (s.pick == Pick::random) {
      Rng rng(s.seed);
      shuffle(std::span(pool), rng);
      pool.resize(*s.limit);
      std::sort(pool.begin(), pool.end());
    } else {
      pool.resize(*s.limit);
    }
  }
  return pool;
}

std::span<const std::int64_t> ShardWindow::own() const {
  return std::span(forward).subspan(kept.begin, kept.end - kept.begin);
}

ShardWindow shard_window(const Selection& s, std::vector<std::int64_t> selected, std::size_t batch_size,
                         nlohmann::json& record) {
  if (!s.shard) {
    const std::size_t n = selected.size();
    return {std::move(selected), {0, n}};
  }
  const auto [i, n] = *s.shard;
  const std::size_t total = selected.size();
  if (n > total) {
    throw UsageError(
        fmt::format("--shard {}/{}: the selection holds {} instances, fewer than the shards", i, n, total));
  }
  // i N / n without overflow: N and n are far below 2^32.
  const std::size_t begin = i * total / n, end = (i + 1) * total / n;
  record["shard"] = {{"index", i}, {"count", n}, {"begin", begin}, {"end", end}, {"of", total}};
  // Whole batches of the one-process batching (batch k = instances k B ..
  // (k + 1) B - 1 of the selection) around the slice.
  const std::size_t from = begin / batch_size * batch_size;
  const std::size_t to = std::min(total, (end + batch_size - 1) / batch_size * batch_size);
  return {std::vector<std::int64_t>(selected.begin() + static_cast<std::ptrdiff_t>(from),
                                    selected.begin() + static_cast<std::ptrdiff_t>(to)),
          {begin - from, end - from}};
}

}  // namespace apd
