// apd-merge's job: the APD of a sharded extraction (apd-extract --shard i/n)
// from its n shard files, equal to extracting the whole selection in one
// process (DiagramMerger does the arithmetic). The shards must be the n
// slices of one extraction: the same model, checkpoint, epoch, dataset,
// preprocessing, selection and tool, each slice once, disjoint instances.
// Files may come in any order; two are read ahead on other threads, so
// memory is the merged diagram plus three shards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"
#include "apd/core/merge.hpp"

namespace apd {

// The checks and the merge on diagrams already read: each shard is checked
// against the first added (`file` names it in errors); finish() checks that
// every shard came, without overlaps, and merges their metadata too.
class ShardMerge {
 public:
  ShardMerge();
  ShardMerge(const ShardMerge&) = delete;
  ShardMerge& operator=(const ShardMerge&) = delete;
  ~ShardMerge();

  void add(const Diagram& shard, const std::string& file);
  [[nodiscard]] Diagram finish();

 private:
  struct Seen;
  void check_complete() const;
  [[nodiscard]] nlohmann::json merged_corruption() const;

  DiagramMerger merger_;
  nlohmann::json reference_;  // the first shard's metadata, without what differs by shard
  std::string reference_file_;
  std::uint64_t count_ = 0, of_ = 0;
  std::size_t added_ = 0;
  std::vector<std::optional<Seen>> seen_;  // per shard index
};

// Throws apd::Error naming the files on any mismatch, a missing or
// duplicated shard, or overlapping instances.
[[nodiscard]] Diagram merge_shard_files(std::span<const std::filesystem::path> files);

}  // namespace apd
