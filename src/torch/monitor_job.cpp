#include "apd/torch/monitor_job.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/output.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/report/monitor_stats.hpp"
#include "threading.hpp"

namespace apd {

namespace {

nlohmann::json tool_record() { return {{"name", "apd-monitor"}, {"version", version()}, {"git_sha", git_sha()}}; }

void check_common(int threads, std::int64_t batch_size) {
  if (threads <= 0 || threads > kMaxThreads) {
    throw UsageError(fmt::format("--threads: {} is outside 1..{}", threads, kMaxThreads));
  }
  if (batch_size < 0 || batch_size > kMaxBatchSize) {
    throw UsageError(fmt::format("--batch-size: {} is outside 1..{}", batch_size, kMaxBatchSize));
  }
}

// The layers to monitor: --layers, or the model's last ReLU layer.
std::vector<std::size_t> monitored_layers(std::vector<std::size_t> layers, const MonitorModel& model) {
  if (layers.empty()) return {model.relu_widths.size()};
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

void warn_empty_classes(const Monitor& m) {
  for (std::size_t c = 0; c < m.classes; ++c) {
    if (m.instances[c] > 0) continue;
    spdlog::warn(
        "class {}: no {}training instance is predicted as it; inputs predicted as {} have no distance and are "
        "flagged",
        c, m.all_instances ? "" : "correctly classified ", c);
  }
}

}  // namespace

int run_monitor_build(const MonitorBuildOptions& o) {
  check_common(o.threads, o.model.batch_size);
  if (o.out.empty()) throw UsageError("--out: the monitor file to write is required");
  refuse_output_in_running_run(o.out);
  set_thread_count(o.threads);
  Stopwatch clock;
  Observer observer(o.model);
  observer.probe(o.data);
  const auto layers = monitored_layers(o.layers, observer.model());
  const Observation seen = observer.observe(o.data, layers);
  spdlog::debug("forward pass of {} instances in {:.2f} s", seen.indices.size(), clock.lap());
  MonitorFile file;
  file.model = observer.model();
  file.preprocessing = observer.preprocessing();
  file.tool = tool_record();
  file.monitor = build_monitor(seen.patterns, layers, seen.truth, seen.predicted, file.model.classes, o.all_instances,
                               static_cast<std::size_t>(o.threads));
  std::uint64_t correct = 0;
  for (std::size_t i = 0; i < seen.truth.size(); ++i) correct += seen.truth[i] == seen.predicted[i] ? 1 : 0;
  file.training = seen.record;
  file.training["correct"] = correct;
  warn_empty_classes(file.monitor);
  write_monitor_file(o.out, file);
  for (const MonitorLayer& l : file.monitor.layers) {
    std::size_t known = 0;
    for (const auto& set : l.classes) known += set.size();
    spdlog::info("{}: layer {} ({} neurons): {} known patterns from {} of {} training instances", o.out.string(),
                 l.layer, l.width, known, o.all_instances ? seen.indices.size() : correct, seen.indices.size());
  }
  spdlog::debug("monitor built and written in {:.2f} s", clock.lap());
  return 0;
}

namespace {

// The model to score with: the options', or the one the monitor records.
ModelChoice scoring_model(const MonitorScoreOptions& o, const MonitorFile& m) {
  ModelChoice c = o.model;
  if (c.normalize || !c.mean.empty() || !c.std.empty() || !c.input_shape.empty()) {
    throw UsageError("--normalize/--mean/--std/--input-shape: the preprocessing comes from the monitor");
  }
  if (c.run.empty() && c.checkpoint.empty() && c.model.empty()) {
    if (m.model.kind == "torchscript") {
      c.model = m.model.file;
    } else if (m.model.run && m.model.epoch) {
      c.run = *m.model.run;
      c.epoch = std::to_string(*m.model.epoch);
    } else {
      c.checkpoint = m.model.file;
    }
  }
  if (c.run.empty()) c.normalize = from_name(kNormalizationNames, m.preprocessing.normalize);
  if (!c.model.empty()) {
    c.mean = m.preprocessing.mean;
    c.std = m.preprocessing.std;
    c.input_shape = m.preprocessing.input_shape;
  }
  return c;
}

void check_same_model(const MonitorModel& mine, const MonitorModel& theirs, const std::string& monitor) {
  if (mine.sha256 != theirs.sha256) {
    throw Error(fmt::format("{}: this model's SHA-256 differs from the one {} was built for ({}, {}...)", mine.file,
                            monitor, theirs.file, theirs.sha256.substr(0, 12)));
  }
  if (mine.relu_widths != theirs.relu_widths || mine.classes != theirs.classes) {
    throw Error(fmt::format("{}: ReLU widths {} and {} classes differ from {}'s ({} and {})", mine.file,
                            fmt::join(mine.relu_widths, ","), mine.classes, monitor, fmt::join(theirs.relu_widths, ","),
                            theirs.classes));
  }
}

ScoredSet score_set(const std::string& name, Observation seen, const Monitor& monitor, int threads) {
  ScoredSet s{name, std::move(seen.indices), std::move(seen.truth), std::move(seen.predicted), {}};
  s.distance = monitor_distances(monitor, seen.patterns, s.predicted, static_cast<std::size_t>(threads));
  return s;
}

// Which monitor and model the scores come from (read back: format and gamma).
Table scores_header(const MonitorScores& m, const MonitorScoreOptions& o, const MonitorFile& file) {
  return {"monitor",
          {"format", "gamma", "monitor_file", "model_file", "model_sha256"},
          {{Cell{std::string(kMonitorScoresFormat)}, Cell{std::uint64_t{m.gamma}}, Cell{o.monitor.string()},
            Cell{file.model.file}, Cell{file.model.sha256}}}};
}

std::string summary_text(const MonitorScores& m) {
  return render_text(monitor_flags_table(m)) + "\n" + render_text(monitor_detection_table(m));
}

void write_scores(const MonitorScoreOptions& o, const MonitorScores& m, const MonitorFile& file) {
  if (o.out.empty()) return;
  switch (o.format) {
    case TableFormat::json:
      write_output(o.out, render_json({scores_header(m, o, file), monitor_layers_table(m), monitor_flags_table(m),
                                       monitor_detection_table(m), monitor_instances_table(m)}));
      break;
    case TableFormat::csv: write_output(o.out, render_csv(monitor_instances_table(m))); break;
    case TableFormat::text:
    case TableFormat::markdown: throw UsageError("--format: the scores are written as json or csv");
  }
}

}  // namespace

int run_monitor_score(const MonitorScoreOptions& o) {
  check_common(o.threads, o.model.batch_size);
  if (o.gamma < 0) throw UsageError(fmt::format("--gamma: {} is negative (a Hamming distance tolerance)", o.gamma));
  if (o.gamma > kMaxMonitorWidth) throw UsageError(fmt::format("--gamma: {} exceeds {}", o.gamma, kMaxMonitorWidth));
  if (o.format != TableFormat::json && o.format != TableFormat::csv) {
    throw UsageError("--format: the scores are written as json or csv");
  }
  if (!o.out.empty()) refuse_output_in_running_run(o.out);
  set_thread_count(o.threads);
  Stopwatch clock;
  const MonitorFile file = read_monitor_file(o.monitor);
  spdlog::debug("read {} in {:.2f} s", o.monitor.string(), clock.lap());
  Observer observer(scoring_model(o, file));
  observer.probe(o.data);
  check_same_model(observer.model(), file.model, o.monitor.string());

  MonitorScores scores;
  for (const MonitorLayer& l : file.monitor.layers) {
    scores.layers.push_back(l.layer);
    scores.widths.push_back(l.width);
  }
  scores.gamma = static_cast<std::uint32_t>(o.gamma);
  scores.in = score_set("in", observer.observe(o.data, scores.layers), file.monitor, o.threads);
  spdlog::debug("scored {} instances in {:.2f} s", scores.in.size(), clock.lap());
  if (o.ood) {
    DataChoice ood = o.data;
    ood.data = *o.ood;
    ood.targets.clear();
    ood.split = o.ood_split;
    ood.labels.clear();
    ood.labelled = false;
    scores.ood = score_set("ood", observer.observe(ood, scores.layers), file.monitor, o.threads);
    spdlog::debug("scored {} out-of-distribution instances in {:.2f} s", scores.ood->size(), clock.lap());
  }
  write_scores(o, scores, file);
  if (o.out != "-") fmt::print("{}", summary_text(scores));
  return 0;
}

}  // namespace apd
