#include "extract_support.hpp"

#include <algorithm>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/random.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/idx.hpp"

namespace apd {

std::string replace_epoch(std::string text, int epoch) {
  for (auto at = text.find(kEpochToken); at != std::string::npos; at = text.find(kEpochToken)) {
    text.replace(at, std::string_view(kEpochToken).size(), std::to_string(epoch));
  }
  return text;
}

nlohmann::json selection_record(const ExtractOptions& o) {
  return {{"split", name_of(kDataSplitNames, o.split)},
          {"labels", o.labels.empty() ? nlohmann::json("all") : nlohmann::json(o.labels)},
          {"limit", o.limit ? nlohmann::json(*o.limit) : nlohmann::json(nullptr)},
          {"select", name_of(kSelectionNames, o.select)},
          {"seed", o.seed}};
}

nlohmann::json forward_pass_record(const ExtractOptions& o) {
  return {{"batch_size", o.batch_size}, {"threads", o.threads}};
}

std::vector<std::int64_t> select_instances(const ExtractOptions& o, std::vector<std::int64_t> pool,
                                           const std::vector<std::int64_t>& labels, nlohmann::json& selection) {
  if (!o.labels.empty()) {
    std::map<std::int64_t, std::size_t> present;
    for (const auto i : pool) ++present[labels[static_cast<std::size_t>(i)]];
    for (const auto l : o.labels) {
      if (present.count(l) == 0) {
        std::vector<std::int64_t> have;
        for (const auto& [k, v] : present) have.push_back(k);
        throw Error(fmt::format("--labels: label {} does not occur in the {} split (labels present: {})", l,
                                name_of(kDataSplitNames, o.split), fmt::join(have, ",")));
      }
    }
    const std::set<std::int64_t> keep(o.labels.begin(), o.labels.end());
    std::erase_if(pool, [&](std::int64_t i) { return keep.count(labels[static_cast<std::size_t>(i)]) == 0; });
  }
  selection["available"] = pool.size();
  if (pool.empty())
    throw Error(fmt::format("the selection is empty ({} split, labels {})", name_of(kDataSplitNames, o.split),
                            selection["labels"].dump()));
  if (o.limit && *o.limit < pool.size()) {
    if (o.select == Selection::random) {
      Rng rng(o.seed);
      shuffle(std::span(pool), rng);
      pool.resize(*o.limit);
      std::sort(pool.begin(), pool.end());
    } else {
      pool.resize(*o.limit);
    }
  } else if (o.limit && *o.limit > pool.size()) {
    spdlog::warn("--limit {}: the selection holds only {} instances; using all of them", *o.limit, pool.size());
  }
  return pool;
}

std::span<const std::int64_t> ShardWindow::own() const {
  return std::span(forward).subspan(kept.begin, kept.end - kept.begin);
}

ShardWindow shard_window(const ExtractOptions& o, std::vector<std::int64_t> selected, nlohmann::json& selection) {
  if (!o.shard) {
    const std::size_t n = selected.size();
    return {std::move(selected), {0, n}};
  }
  const auto [i, n] = *o.shard;
  const std::size_t total = selected.size();
  if (n > total) {
    throw UsageError(
        fmt::format("--shard {}/{}: the selection holds {} instances, fewer than the shards", i, n, total));
  }
  // i N / n without overflow: N and n are far below 2^32.
  const std::size_t begin = i * total / n, end = (i + 1) * total / n;
  selection["shard"] = {{"index", i}, {"count", n}, {"begin", begin}, {"end", end}, {"of", total}};
  // Whole batches of the one-process batching (batch k = instances k B ..
  // (k + 1) B - 1 of the selection) around the slice.
  const auto batch = static_cast<std::size_t>(o.batch_size);
  const std::size_t from = begin / batch * batch, to = std::min(total, (end + batch - 1) / batch * batch);
  return {std::vector<std::int64_t>(selected.begin() + static_cast<std::ptrdiff_t>(from),
                                    selected.begin() + static_cast<std::ptrdiff_t>(to)),
          {begin - from, end - from}};
}

int resolve_epoch(const std::string& text, const RunPaths& run, const std::vector<int>& available) {
  auto listing = [&] {
    if (available.empty()) return std::string("none");
    if (available.size() <= 12) return fmt::format("{}", fmt::join(available, ", "));
    return fmt::format("{}, {}, ..., {} ({} in all)", available[0], available[1], available.back(), available.size());
  };
  int epoch = 0;
  if (text == "last") {
    if (available.empty()) throw Error(fmt::format("{}: the run has no checkpoints", run.dir.string()));
    return available.back();
  }
  if (text == "best") {
    const auto metrics = read_metrics(run.metrics());
    const auto best = best_epoch(metrics);
    if (!best) throw Error(fmt::format("{}: no epochs recorded, so no best epoch", run.metrics().string()));
    epoch = best->epoch;
  } else {
    std::size_t used = 0;
    try {
      epoch = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || epoch <= 0) {
      throw UsageError(fmt::format("--epoch: '{}' is not an epoch number, 'best' or 'last'", text));
    }
  }
  if (!std::binary_search(available.begin(), available.end(), epoch)) {
    throw Error(fmt::format("{}: no checkpoint for epoch {}{} (available: {})", run.dir.string(), epoch,
                            text == "best" ? " (the best validation epoch)" : "", listing()));
  }
  return epoch;
}

// The IDX indices of the split, ascending.
std::vector<std::int64_t> split_indices(DataSplit split, const std::optional<RunInfo>& info, std::size_t count) {
  if (split == DataSplit::test || !info) {
    std::vector<std::int64_t> out(count);
    std::iota(out.begin(), out.end(), std::int64_t{0});
    return out;
  }
  return split == DataSplit::val ? info->split.val_indices : info->train_indices();
}

SplitData open_split(const ExtractOptions& o, const std::optional<RunInfo>& info,
                     const std::filesystem::path& data_dir) {
  SplitData s;
  s.files = find_dataset(data_dir);
  const bool train_file = o.split != DataSplit::test;
  s.images_path = train_file ? s.files.train_images : s.files.test_images;
  s.labels_path = train_file ? s.files.train_labels : s.files.test_labels;
  s.labels = read_idx_labels(s.labels_path);
  if (!info) return s;
  const auto run_json = RunPaths{o.run}.run_json().string();
  for (const auto& p : {s.images_path, s.labels_path}) {
    const auto recorded = info->data.sha256.find(p.filename().string());
    if (recorded != info->data.sha256.end() && recorded->second != sha256_file(p)) {
      throw Error(
          fmt::format("{}: differs from the file the run was trained with (SHA-256 in {})", p.string(), run_json));
    }
  }
  if (train_file && info->split.source_count != s.labels.size()) {
    throw Error(fmt::format("{}: holds {} labels, the run's split was made of {} ({})", s.labels_path.string(),
                            s.labels.size(), info->split.source_count, run_json));
  }
  return s;
}

void write_apd(const Diagram& d, const std::string& out, const ExtractOptions& o) {
  save_diagram(d, out, o.format, {.instances = o.instances, .patterns = o.patterns});
  if (out != "-") {
    spdlog::info("{}: {} instances, {} errors, unique patterns per layer {}", out, d.instances, d.errors,
                 fmt::join(d.unique_patterns(), "/"));
  }
}

}  // namespace apd
