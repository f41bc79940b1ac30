#include "apd/io/apd_merge.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/merge.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/io/apd_json.hpp"

namespace apd {

namespace {

struct ShardRecord {
  std::uint64_t index = 0, count = 0, begin = 0, end = 0, of = 0;
};

// graph.selection.shard, checked: index < count, begin <= end <= of.
ShardRecord shard_record(const Diagram& d, const std::string& file) {
  const auto selection = d.graph.find("selection");
  if (selection == d.graph.end() || !selection->is_object() || !selection->contains("shard")) {
    throw Error(
        fmt::format("{}: not a shard (no graph.selection.shard; extract it with apd-extract --shard I/N)", file));
  }
  const nlohmann::json& s = (*selection)["shard"];
  const auto field = [&](const char* key) {
    const auto it = s.find(key);
    if (!s.is_object() || it == s.end() || !it->is_number_unsigned()) {
      throw Error(fmt::format("{}: graph.selection.shard.{}: expected a non-negative integer", file, key));
    }
    return it->get<std::uint64_t>();
  };
  ShardRecord r{field("index"), field("count"), field("begin"), field("end"), field("of")};
  if (r.count > kMaxShards || r.of > std::numeric_limits<std::uint32_t>::max()) {
    throw Error(
        fmt::format("{}: graph.selection.shard: {} shards of {} instances exceed apd's limits ({} shards, "
                    "2^32 instances)",
                    file, r.count, r.of, kMaxShards));
  }
  if (r.index >= r.count || r.begin > r.end || r.end > r.of) {
    throw Error(fmt::format("{}: graph.selection.shard: shard {} of {} over [{}, {}) of {} instances is impossible",
                            file, r.index, r.count, r.begin, r.end, r.of));
  }
  if (r.begin != r.index * r.of / r.count || r.end != (r.index + 1) * r.of / r.count) {
    throw Error(fmt::format("{}: graph.selection.shard: [{}, {}) is not slice {} of {} of {} instances", file, r.begin,
                            r.end, r.index, r.count, r.of));
  }
  if (d.instances != r.end - r.begin) {
    throw Error(fmt::format("{}: holds {} instances, its shard record says {}", file, d.instances, r.end - r.begin));
  }
  return r;
}

// What must be equal in every shard: the metadata without what the diagram
// computes (counts) and what differs by shard (its slice, its corrupted labels).
nlohmann::json extraction_of(const Diagram& d) {
  nlohmann::json g = d.graph;
  for (const char* computed : {"schema", "layers", "widths", "unique_patterns", "instances", "errors"})
    g.erase(computed);
  g.erase("label_corruption");
  if (g.contains("selection") && g["selection"].is_object()) g["selection"].erase("shard");
  return g;
}

// The first top-level metadata key whose value differs, for the message.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : a.items()) keys.push_back(k);
  for (const auto& [k, v] : b.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) {
    if (!a.contains(k) || !b.contains(k) || a[k] != b[k]) return k;
  }
  return "metadata";
}

}  // namespace

struct ShardMerge::Seen {
  std::string file;
  std::optional<std::int64_t> first_index, last_index;
  nlohmann::json corruption;  // its graph.label_corruption, or null
};

ShardMerge::ShardMerge() = default;
ShardMerge::~ShardMerge() = default;

void ShardMerge::add(const Diagram& shard, const std::string& file) {
  const ShardRecord r = shard_record(shard, file);
  if (reference_file_.empty()) {
    reference_ = extraction_of(shard);
    reference_file_ = file;
    count_ = r.count;
    of_ = r.of;
    seen_.resize(r.count);
  } else {
    if (const nlohmann::json mine = extraction_of(shard); mine != reference_) {
      throw Error(fmt::format("{}: its {} differs from {}'s: not a shard of the same extraction", file,
                              first_difference(mine, reference_), reference_file_));
    }
    if (r.count != count_ || r.of != of_) {
      throw Error(fmt::format("{}: shard {} of {} over {} instances, but {} is one of {} over {}", file, r.index,
                              r.count, r.of, reference_file_, count_, of_));
    }
  }
  auto& slot = seen_[r.index];
  if (slot) throw Error(fmt::format("{} and {} are both shard {} of {}", slot->file, file, r.index, r.count));
  slot = Seen{file, {}, {}, shard.graph.value("label_corruption", nlohmann::json())};
  ++added_;
  if (shard.has_instances && shard.instances > 0) {
    if (!std::is_sorted(shard.index.begin(), shard.index.end())) {
      throw Error(fmt::format("{}: its instances are not in selection order (ascending index)", file));
    }
    slot->first_index = shard.index.front();
    slot->last_index = shard.index.back();
  }
  // r.of agrees with this shard's own instance count (shard_record), so the
  // room asked for is that of the merged diagram's records.
  if (added_ == 1 && shard.has_instances && shard.instances > 0) merger_.reserve(r.of);
  try {
    merger_.add(shard, r.begin);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {} (against {})", file, e.what(), reference_file_));
  }
}

void ShardMerge::check_complete() const {
  std::vector<std::size_t> missing;
  for (std::size_t k = 0; k < seen_.size(); ++k) {
    if (!seen_[k]) missing.push_back(k);
  }
  if (!missing.empty()) {
    // One line whatever the count: the first few, then how many in all.
    constexpr std::size_t kShown = 8;
    const std::string list =
        missing.size() <= kShown
            ? fmt::format("{}", fmt::join(missing, ", "))
            : fmt::format("{}, ... ({} in all)", fmt::join(missing.begin(), missing.begin() + kShown, ", "),
                          missing.size());
    throw Error(fmt::format("shard{} {} of {} missing: {} file{} given, the extraction has {} shards",
                            missing.size() > 1 ? "s" : "", list, count_, added_, added_ > 1 ? "s" : "", count_));
  }
  // Slices of an ascending selection: each shard's instances come after the previous shard's.
  const Seen* before = nullptr;
  for (const auto& s : seen_) {
    if (!s->first_index) continue;
    if (before != nullptr && *s->first_index <= *before->last_index) {
      throw Error(fmt::format("{} and {} overlap: instance indices {} and {} are out of selection order", before->file,
                              s->file, *before->last_index, *s->first_index));
    }
    before = &*s;
  }
}

// The shards' label_corruption records, concatenated in shard order (null if none).
nlohmann::json ShardMerge::merged_corruption() const {
  // Every shard holds the same record but for its own instances: all or
  // none have one, with the same probability and seed.
  const auto parameters = [](nlohmann::json c) {
    if (c.is_object()) {
      c.erase("indices");
      c.erase("train_labels");
    }
    return c;
  };
  const Seen& first = *seen_.front();
  for (const auto& s : seen_) {
    if (parameters(s->corruption) != parameters(first.corruption)) {
      throw Error(
          fmt::format("{}: its label_corruption ({}) differs from {}'s ({}): not a shard of the same extraction",
                      s->file, s->corruption.is_null() ? "none" : parameters(s->corruption).dump(), first.file,
                      first.corruption.is_null() ? "none" : parameters(first.corruption).dump()));
    }
  }
  if (!first.corruption.is_object()) return nullptr;
  nlohmann::json merged = seen_.front()->corruption;
  merged["indices"] = nlohmann::json::array();
  merged["train_labels"] = nlohmann::json::array();
  for (const auto& s : seen_) {
    for (const char* key : {"indices", "train_labels"}) {
      const auto part = s->corruption.find(key);
      if (!s->corruption.is_object() || part == s->corruption.end() || !part->is_array()) {
        throw Error(fmt::format("{}: graph.label_corruption.{}: expected an array", s->file, key));
      }
      merged[key].insert(merged[key].end(), part->begin(), part->end());
    }
  }
  return merged;
}

Diagram ShardMerge::finish() {
  if (added_ == 0) throw UsageError("no shard files to merge");
  check_complete();
  nlohmann::json metadata = reference_;
  if (nlohmann::json corruption = merged_corruption(); !corruption.is_null()) {
    metadata["label_corruption"] = std::move(corruption);
  }
  return merger_.finish(std::move(metadata));
}

Diagram merge_shard_files(std::span<const std::filesystem::path> files) {
  ShardMerge merge;
  Stopwatch clock;
  // Two files are read ahead on other threads while the main thread merges:
  // reading is the cost, and the merged result does not depend on the order
  // of the parts. Errors surface in the order of the files.
  constexpr std::size_t kReadAhead = 2;
  std::deque<std::future<Diagram>> reading;
  std::size_t next = 0;
  const auto read_next = [&] {
    if (next < files.size()) reading.push_back(std::async(std::launch::async, read_apd_file, files[next++]));
  };
  for (std::size_t k = 0; k < kReadAhead; ++k) read_next();
  for (const auto& path : files) {
    const Diagram d = reading.front().get();
    reading.pop_front();
    read_next();
    spdlog::debug("{}: read in {:.2f} s", path.string(), clock.lap());
    merge.add(d, path.string());
    spdlog::debug("{}: {} instances merged in {:.2f} s", path.string(), d.instances, clock.lap());
  }
  Diagram merged = merge.finish();
  spdlog::debug("ordered the merged diagram in {:.2f} s", clock.lap());
  return merged;
}

}  // namespace apd
