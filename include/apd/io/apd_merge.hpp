// apd-merge's job: the APD of a sharded extraction (apd-extract --shard i/n)
// from its n shard files, equal to extracting the whole selection in one
// process (DiagramMerger does the arithmetic). The shards must be the n
// slices of one extraction: the same model, checkpoint, epoch, dataset,
// preprocessing, selection and tool, each slice once, disjoint instances.
// Files may come in any order; two are read ahead on other threads, so
// memory is the merged diagram plus three shards.
#pragma once

#include <filesystem>
#include <span>

#include "apd/core/diagram.hpp"

namespace apd {

// Throws apd::Error naming the files on any mismatch, a missing or
// duplicated shard, or overlapping instances.
[[nodiscard]] Diagram merge_shard_files(std::span<const std::filesystem::path> files);

}  // namespace apd
