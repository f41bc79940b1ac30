#include "apd/torch/monitor_job.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/monitor_file.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/report/monitor_stats.hpp"
#include "apd/torch/observer.hpp"
#include "threading.hpp"

namespace apd {

namespace {

nlohmann::json tool_record() { return {{"name", "apd-monitor"}, {"version", version()}, {"git_sha", git_sha()}}; }

// The preprocessing options of `build`: a run's comes from its run.json,
// and only a TorchScript model takes a shape, means and deviations.
void validate_preprocessing(const ModelChoice& m, const DataChoice& d) {
  if (m.model.empty() && d.has_preprocessing()) {
    throw UsageError("--mean/--std/--input-shape apply to --model (TorchScript) only");
  }
  if (!m.run.empty() && d.normalize) throw UsageError("--normalize: a run's preprocessing comes from its run.json");
  validate(d);
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
  validate(o.compute);
  validate(o.model);
  validate_preprocessing(o.model, o.data);
  validate(o.selection);
  validate(o.views);
  if (o.out.empty()) throw UsageError("--out: the monitor file to write is required");
  refuse_output_in_running_run(o.out);
  const std::vector<std::filesystem::path> inputs{o.model.checkpoint, o.model.model,
                                                  o.data.data.value_or(std::filesystem::path{}), o.data.targets};
  refuse_output_over_inputs(o.out, inputs);
  set_thread_count(o.compute.threads);
  Stopwatch clock;
  Observer observer(o.model, o.compute);
  observer.probe(o.data);
  const auto layers = monitored_layers(o.layers, observer.model());
  Observation seen = observer.observe(o.data, o.selection, true, layers);
  spdlog::debug("forward pass of {} instances in {:.2f} s", seen.indices.size(), clock.lap());
  // Views: top:K chooses its neurons from the training instances the monitor is built from.
  auto views = planned_views(o.views, layers, observer.viewed_model(), false);
  if (views) {
    choose_open_views(*views, seen.patterns);
    seen.patterns = apply_views(seen.patterns, *views);
  }
  MonitorFile file;
  file.model = observer.model();
  // Absolute, so that `score` finds them from any directory.
  if (!file.model.file.empty()) file.model.file = std::filesystem::absolute(file.model.file).string();
  if (file.model.run) file.model.run = std::filesystem::absolute(*file.model.run).string();
  file.preprocessing = observer.preprocessing();
  file.tool = tool_record();
  file.monitor = build_monitor(seen.patterns, layers, seen.truth, seen.predicted, file.model.classes, o.all_instances,
                               static_cast<std::size_t>(o.compute.threads));
  for (std::size_t k = 0; views && k < views->size(); ++k) file.monitor.layers[k].view = (*views)[k];
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

// A path the monitor records: a relative one (monitors before 2026-12-07
// recorded paths as given) is taken relative to the monitor file's directory.
std::filesystem::path recorded_path(const std::string& recorded, const std::filesystem::path& monitor) {
  const std::filesystem::path p(recorded);
  return p.is_absolute() ? p : monitor.parent_path() / p;
}

// The model to score with: the options', or the one the monitor records.
ModelChoice scoring_model(const MonitorScoreOptions& o, const MonitorFile& m) {
  ModelChoice c = o.model;
  if (c.run.empty() && c.checkpoint.empty() && c.model.empty()) {
    if (m.model.kind == "torchscript") {
      c.model = recorded_path(m.model.file, o.monitor);
    } else if (m.model.run && m.model.epoch) {
      c.run = recorded_path(*m.model.run, o.monitor);
      c.epochs = {std::to_string(*m.model.epoch)};
    } else {
      c.checkpoint = recorded_path(m.model.file, o.monitor);
    }
  }
  return c;
}

// The data with the monitor's preprocessing, which the model was built with.
DataChoice scoring_data(const MonitorScoreOptions& o, const MonitorFile& m) {
  if (o.data.normalize || o.data.has_preprocessing()) {
    throw UsageError("--normalize/--mean/--std/--input-shape: the preprocessing comes from the monitor");
  }
  DataChoice d = o.data;
  d.normalize = from_name(kNormalizationNames, m.preprocessing.normalize);
  if (m.model.kind == "torchscript") {
    d.mean = m.preprocessing.mean;
    d.std = m.preprocessing.std;
    d.input_shape = m.preprocessing.input_shape;
  }
  return d;
}

// The out-of-distribution data: --ood, read as the in-distribution data, without labels.
DataChoice ood_data(const MonitorScoreOptions& o, DataChoice in) {
  in.data = *o.ood;
  in.targets.clear();
  in.split = o.ood_split;
  return in;
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

// The observed full patterns seen through the monitor's views (its layers without one stay full).
PatternStore seen_through(const Monitor& monitor, PatternStore full) {
  std::vector<LayerView> views;
  bool any = false;
  for (std::size_t k = 0; k < monitor.layers.size(); ++k) {
    const MonitorLayer& l = monitor.layers[k];
    any = any || l.view.has_value();
    ViewSpec spec;
    spec.layer = l.layer;
    views.push_back(l.view ? *l.view
                           : resolve_view(spec, std::vector<std::int64_t>{static_cast<std::int64_t>(l.width)}));
  }
  return any ? apply_views(full, views) : full;
}

ScoredSet score_set(const std::string& name, Observation seen, const Monitor& monitor, int threads) {
  seen.patterns = seen_through(monitor, std::move(seen.patterns));
  ScoredSet s{name, std::move(seen.indices), std::move(seen.truth), std::move(seen.predicted),
              {},   std::move(seen.logits)};
  s.distance = monitor_distances(monitor, seen.patterns, s.predicted, static_cast<std::size_t>(threads));
  return s;
}

std::string summary_text(const MonitorScores& m) {
  return render_text(monitor_flags_table(m)) + "\n" + render_text(monitor_detection_table(m));
}

// The scores record the model that was run (its file as opened, its SHA-256
// as computed now), not the path the monitor file claims.
void write_scores(const MonitorScoreOptions& o, const MonitorScores& m, const MonitorModel& ran) {
  if (o.out.empty()) return;
  write_monitor_scores(o.out, m, {o.monitor.string(), ran.file, ran.sha256},
                       {monitor_flags_table(m), monitor_detection_table(m)}, o.format);
}

}  // namespace

int run_monitor_score(const MonitorScoreOptions& o) {
  validate(o.compute);
  validate(o.selection);
  if (o.gamma < 0) throw UsageError(fmt::format("--gamma: {} is negative (a Hamming distance tolerance)", o.gamma));
  if (o.gamma > kMaxMonitorWidth) throw UsageError(fmt::format("--gamma: {} exceeds {}", o.gamma, kMaxMonitorWidth));
  if (o.format != TableFormat::json && o.format != TableFormat::csv) {
    throw UsageError("--format: the scores are written as json or csv");
  }
  if (!o.out.empty()) {
    refuse_output_in_running_run(o.out);
    const std::vector<std::filesystem::path> inputs{o.monitor, o.data.data.value_or(std::filesystem::path{}),
                                                    o.data.targets, o.ood.value_or(std::filesystem::path{})};
    refuse_output_over_inputs(o.out, inputs);
  }
  set_thread_count(o.compute.threads);
  Stopwatch clock;
  const MonitorFile file = read_monitor_file(o.monitor);
  spdlog::debug("read {} in {:.2f} s", o.monitor.string(), clock.lap());
  const DataChoice in = scoring_data(o, file);
  Observer observer(scoring_model(o, file), o.compute);
  observer.probe(in);
  check_same_model(observer.model(), file.model, o.monitor.string());

  MonitorScores scores;
  for (const MonitorLayer& l : file.monitor.layers) {
    scores.layers.push_back(l.layer);
    scores.widths.push_back(l.width);
  }
  scores.gamma = static_cast<std::uint32_t>(o.gamma);
  scores.in = score_set("in", observer.observe(in, o.selection, true, scores.layers), file.monitor, o.compute.threads);
  spdlog::debug("scored {} instances in {:.2f} s", scores.in.size(), clock.lap());
  if (o.ood) {
    Selection all = o.selection;
    all.labels.clear();
    scores.ood =
        score_set("ood", observer.observe(ood_data(o, in), all, false, scores.layers), file.monitor, o.compute.threads);
    spdlog::debug("scored {} out-of-distribution instances in {:.2f} s", scores.ood->size(), clock.lap());
  }
  write_scores(o, scores, observer.model());
  if (o.out != "-") fmt::print("{}", summary_text(scores));
  return 0;
}

}  // namespace apd
