// What apd-stats reads off APD files and runs, as tables: per-layer pattern
// summaries, flows with strength / purity / accuracy, the strength x purity
// distribution of all and wrong instances (the paper's Figure 3), and how
// well small strength or low purity flags misclassified instances (AUROC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "apd/core/clusters.hpp"
#include "apd/core/diagram.hpp"
#include "apd/core/flows.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/table.hpp"

namespace apd {

// AUROC of `score` (higher = more suspicious) as a detector of the positives,
// from per-group (score, instances, positives); ties count one half
// (the Mann-Whitney statistic with average ranks). Empty without positives
// or without negatives. A NaN score ranks above every other (as +infinity).
struct ScoredGroup {
  double score = 0;
  std::uint64_t instances = 0;
  std::uint64_t positives = 0;
};
[[nodiscard]] std::optional<double> auroc(std::vector<ScoredGroup> groups);
// The false-positive rate at 95% true-positive rate: flagging score >=
// t, the share of negatives flagged at the highest threshold t that flags
// at least 95% of the positives (equal scores flagged together). Empty
// without positives or without negatives.
[[nodiscard]] std::optional<double> fpr_at_95_tpr(std::vector<ScoredGroup> groups);

// How well a flow's small strength, or its low purity, flags the wrong
// instances in it: the AUROC of score = -strength and of score = -purity.
struct ErrorFlags {
  std::optional<double> small_strength;
  std::optional<double> low_purity;
  std::uint64_t wrong = 0;
};
[[nodiscard]] ErrorFlags error_flags(const FlowSet& flows);

struct StatsSpec {
  std::vector<std::size_t> flow_layers;  // empty: the last two hidden layers
  std::size_t top = 20;                  // flows shown; 0 = all
  BinSpec bins;
  bool full_patterns = true;  // false: abbreviated (text output)
  bool dense_bins = true;     // false: only cells holding flows (text output)
};

// Which instances of an APD had their training label replaced, and the
// label they were trained on, from graph.label_corruption (apd-extract --run
// of a run trained with --corrupt-labels); empty when the file has no such
// record. Throws apd::Error naming the file for a malformed record.
struct CorruptionMarks {
  std::vector<std::uint8_t> corrupted;    // per instance
  std::vector<std::int32_t> train_label;  // per instance
};
[[nodiscard]] std::optional<CorruptionMarks> corruption_marks(const Diagram& d, const std::string& file);

// One file's rows appended to the four tables (created with their columns by
// make_stats_tables). `file` names the source in the rows.
struct StatsTables {
  Table layers, flows, bins, errors, clusters, cluster_members, corruption, regions, region_correlations;
};
[[nodiscard]] StatsTables make_stats_tables();
// The epoch column of a file's rows: graph.epoch, or empty.
[[nodiscard]] Cell epoch_cell(const Diagram& d);
void add_layer_rows(StatsTables& t, const std::string& file, const Diagram& d);
// Needs per-instance records; throws apd::Error saying how to get them.
void add_flow_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec, bool flows,
                   bool bins, bool errors);

// The decision-tree clusters (core/clusters.hpp): one row per cluster, the
// largest first (`spec.top` of them; 0 = all), and with `members` one row per
// instance (its cluster and cluster size); how many of a cluster's instances
// had a corrupted training label when the file records it (graph.label_corruption).
// Needs per-instance records.
void add_cluster_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec, bool members);
// For an APD of a run trained with --corrupt-labels (graph.label_corruption,
// written by apd-extract --run): per group, clean and corrupted instances,
// the sizes of their clusters and flows and how many are predicted as their
// dataset label and as the label trained on. No rows for other files.
void add_corruption_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec);
// How well small cluster size flags the wrong instances (AUROC, ties 1/2).
[[nodiscard]] std::optional<double> small_cluster_auroc(const Clustering& c);

// The per-epoch table of a run (metrics.jsonl), the best validation epoch marked.
[[nodiscard]] Table run_table(const std::vector<EpochMetrics>& metrics);

}  // namespace apd
