// The paper's training study from files: APD files of the same instances at
// different epochs (apd-extract --epochs, over an apd-train run or over
// checkpoints trained anywhere), read in graph.epoch order, two at a time.
// Per epoch: unique patterns and singletons per layer, churn per layer and
// the flow ARI against the previous epoch (the definitions and arithmetic of
// apd-train's metrics.jsonl), and the errors table's AUROCs; per instance,
// its correctness at every epoch, for the forgetting tables.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apd/io/table.hpp"
#include "apd/report/forgetting.hpp"
#include "apd/report/stats.hpp"

namespace apd {

struct SeriesEpoch {
  std::int64_t epoch = 0;
  std::string file;
  std::uint64_t instances = 0, errors = 0;
  std::vector<std::uint64_t> unique;    // per layer: |A*_l(D)|
  std::vector<double> singleton_share;  // per layer: share of instances whose pattern no other instance has
  std::vector<double> churn;            // per layer, against the previous epoch (empty for the first)
  std::optional<double> flow_ari;       // of the flows (the last two layers), against the previous epoch
  ErrorFlags flags;                     // small strength / low purity AUROCs on the flow layers
  std::optional<double> small_cluster;  // small decision-tree cluster AUROC
};

struct Series {
  std::vector<SeriesEpoch> epochs;  // ascending
  RunDynamics dynamics;             // per instance, over the files' epochs
};

// Reads `files` (at least two) in graph.epoch order, holding two diagrams
// at a time. They must hold the same instances: the same dataset,
// selection, layers, views and label corruption in their metadata, and the
// same instance indices and labels; otherwise an apd::Error names the first
// file that differs and what. A file without graph.epoch, two of one
// epoch, or one without instance records is an apd::Error too.
[[nodiscard]] Series read_series(std::span<const std::string> files);

// One row per epoch: epoch, file, instances, accuracy, unique_lL,
// singletons_lL, churn_lL, flow_ari, auroc_small_strength,
// auroc_low_purity, auroc_small_cluster.
[[nodiscard]] Table series_table(const Series& s);

}  // namespace apd
