// What apd-monitor score reports of scored instances (core/monitor.hpp):
// Cheng et al.'s figures at Hamming tolerance gamma (share flagged, share
// of misclassified instances flagged, precision of the flags), and the
// distance as a detector (AUROC, FPR at 95% TPR) of misclassified
// in-distribution instances and of out-of-distribution ones, per monitored
// layer and combined (sum of distances / widths). Undefined distances (a
// class without patterns) rank above every defined one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/monitor.hpp"
#include "apd/io/monitor_scores.hpp"
#include "apd/io/table.hpp"

namespace apd {

// The gammas of the flags table: 0, 1, 2 and the scores' own.
[[nodiscard]] std::vector<std::uint32_t> flag_gammas(const MonitorScores& m);

// Per set and gamma: instances, flagged and their share; for labelled sets
// the misclassified, those flagged, their share (recall) and the precision.
[[nodiscard]] Table monitor_flags_table(const MonitorScores& m);
// Per task (misclassification, ood) and score (layer l, combined): AUROC
// and FPR at 95% TPR, with the positives and negatives they count.
[[nodiscard]] Table monitor_detection_table(const MonitorScores& m);

}  // namespace apd

namespace apd {

// apd-report's monitor section for the scores in `file`: the flags and
// detection tables (HTML), and per score (each layer's distance, the
// combined one) the histograms of correct, wrong and out-of-distribution
// instances over shared bins, with the count of undefined distances.
[[nodiscard]] nlohmann::json monitor_report_json(const MonitorScores& m, const std::string& file);

}  // namespace apd
