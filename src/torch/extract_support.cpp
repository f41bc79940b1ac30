#include "extract_support.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/random.hpp"
#include "apd/io/apd_json.hpp"

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
  if (o.shard) {
    const auto [i, n] = *o.shard;
    const std::size_t total = pool.size();
    if (n > total) {
      throw UsageError(
          fmt::format("--shard {}/{}: the selection holds {} instances, fewer than the shards", i, n, total));
    }
    // i N / n without overflow: N and n are far below 2^32.
    const std::size_t begin = i * total / n, end = (i + 1) * total / n;
    selection["shard"] = {{"index", i}, {"count", n}, {"begin", begin}, {"end", end}, {"of", total}};
    pool = std::vector<std::int64_t>(pool.begin() + static_cast<std::ptrdiff_t>(begin),
                                     pool.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return pool;
}

void write_apd(const Diagram& d, const std::string& out, const ExtractOptions& o) {
  save_diagram(d, out, o.format, {.instances = o.instances, .patterns = o.patterns});
  if (out != "-") {
    spdlog::info("{}: {} instances, {} errors, unique patterns per layer {}", out, d.instances, d.errors,
                 fmt::join(d.unique_patterns(), "/"));
  }
}

}  // namespace apd
