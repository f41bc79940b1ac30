// The scores file of `apd-monitor score` (format "apd-monitor-scores/1"):
// with --format json, the tables "monitor" (format, gamma, the monitor and
// model files), "layers", the summary tables apd-monitor computes ("flags",
// "detection": report/monitor_stats.hpp) and "instances", one row per
// scored instance (pandas-ready); with --format csv, the instances alone.
// Its one writer and its one reader (apd-report --monitor) live here, and
// so do its column names. Reading it back takes the layers and the
// instances; the summary tables are recomputed from them.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "apd/core/monitor.hpp"
#include "apd/io/table.hpp"

namespace apd {

inline constexpr std::string_view kMonitorScoresFormat = "apd-monitor-scores/1";

// Which monitor and model the scores come from (the "monitor" table).
struct ScoresSource {
  std::string monitor_file, model_file, model_sha256;
};

// The instances table's column of a monitored layer's distance: "distance_l<layer>".
[[nodiscard]] std::string distance_column(std::size_t layer);

// One row per monitored layer: layer, width.
[[nodiscard]] Table monitor_layers_table(const MonitorScores& m);
// One row per instance: set, index, label, predicted, correct,
// distance_l<layer>..., combined, flagged (at the scores' gamma).
// Undefined values are empty (null in JSON).
[[nodiscard]] Table monitor_instances_table(const MonitorScores& m);

// Writes the scores to `path` ("-" for stdout), json (every table, the
// summary ones between layers and instances) or csv (the instances).
void write_monitor_scores(const std::filesystem::path& path, const MonitorScores& m, const ScoresSource& source,
                          const std::vector<Table>& summary, TableFormat format);

// Parses and checks a scores file written with --format json; throws
// apd::Error "NAME: where: what".
[[nodiscard]] MonitorScores parse_monitor_scores(std::string_view bytes, const std::string& name);
[[nodiscard]] MonitorScores read_monitor_scores(const std::filesystem::path& path);

}  // namespace apd
