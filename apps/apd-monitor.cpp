// apd-monitor: runtime monitors from activation patterns. `build` keeps the
// patterns of a model's correctly classified training instances per
// predicted class; `score` flags inputs whose pattern is far (in Hamming
// distance) from every known pattern of their predicted class, and reports
// how well that detects misclassified and out-of-distribution inputs.
#include "apd/io/atomic_file.hpp"
#include "apd/torch/monitor_job.hpp"
#include "app_support.hpp"

namespace {

// --run/--epoch/--checkpoint/--model and their preprocessing options.
void add_model_options(CLI::App& app, apd::ModelChoice& m, bool scoring) {
  const std::string fallback = scoring ? " (default: the model the monitor records)" : "";
  auto* run = app.add_option("--run", m.run, "apd-train run directory" + fallback);
  app.add_option("--epoch", m.epoch, "Epoch of --run: a number, best or last (default last)")->needs(run);
  app.add_option("--checkpoint", m.checkpoint, "A state_dict of Linear/ReLU layers (torch.save(model.state_dict()))")
      ->excludes(run);
  app.add_option("--model", m.model, "A TorchScript model (runs its code: load only models you trust)")->excludes(run);
  if (scoring) return;  // the preprocessing comes from the monitor
  apd::app::add_enum_option<apd::Normalization>(
      app, "--normalize", apd::kNormalizationNames, [&m](apd::Normalization n) { m.normalize = n; },
      "Value scaling without --run: unit (x/255), standard, symmetric or none");
  app.add_option("--mean", m.mean, "Per-channel means subtracted after --normalize (--model)")->delimiter(',');
  app.add_option("--std", m.std, "Per-channel standard deviations divided by after --mean (--model)")->delimiter(',');
  app.add_option("--input-shape", m.input_shape, "Each instance's shape for --model, e.g. 1,28,28")->delimiter(',');
}

// --data/--targets/--split/--labels/--limit/--select/--seed.
void add_data_options(CLI::App& app, apd::DataChoice& d) {
  app.add_option_function<std::string>(
      "--data", [&d](const std::string& path) { d.data = path; },
      "IDX dataset directory (default: the run's, or data/mnist), or X.npy with --model");
  app.add_option("--targets", d.targets, "Integer labels y.npy, shape [N], with --data X.npy");
  apd::app::add_enum_option(app, "--split", apd::kDataSplitNames, d.split, "train or val (a run's own split), or test");
  app.add_option("--labels", d.labels, "True labels to keep, comma-separated (default all)")->delimiter(',');
  app.add_option_function<std::size_t>(
         "--limit", [&d](const std::size_t& n) { d.limit = n; }, "At most N instances")
      ->check(apd::app::non_negative());
  apd::app::add_enum_option(app, "--select", apd::kSelectionNames, d.select,
                            "Which instances --limit keeps: first (by index) or random");
  app.add_option("--seed", d.seed, "Seed of --select random")->check(apd::app::non_negative());
}

void add_run_options(CLI::App& app, apd::ModelChoice& m, int& threads) {
  app.add_option("--batch-size", m.batch_size, "Instances per forward batch (default 1024; 256 with --model)")
      ->check(apd::app::non_negative());
  app.add_option("--threads", threads, "CPU threads for the forward pass, 1 to 256")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-monitor";
  apd::MonitorBuildOptions build;
  apd::MonitorScoreOptions score;
  score.data.split = apd::DataSplit::test;
  apd::Verbosity verbosity = apd::Verbosity::normal;
  CLI::App app{
      "Runtime monitors from activation patterns (Cheng et al., DATE 2019; Olber et al., CVPR 2023): build one "
      "from a model's training data, then score inputs by the Hamming distance of their pattern to the nearest "
      "known pattern of their predicted class.",
      program};
  app.get_formatter()->column_width(34);
  app.require_subcommand(1);

  auto* b = app.add_subcommand("build",
                               "Keep, per monitored layer and predicted class, the distinct patterns of "
                               "the correctly classified training instances");
  add_model_options(*b, build.model, false);
  add_data_options(*b, build.data);
  b->add_option("--layers", build.layers, "ReLU layers to monitor, e.g. 3 or 2,3 (default the last)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  b->add_flag("--all-instances", build.all_instances, "Keep misclassified instances' patterns too");
  b->add_option("--out", build.out, "The monitor file to write (JSON, apd-monitor/1)")->required();
  add_run_options(*b, build.model, build.threads);

  auto* s = app.add_subcommand("score",
                               "Score instances: per monitored layer the Hamming distance to the nearest "
                               "known pattern of the predicted class; flags, AUROC, FPR at 95% TPR");
  s->add_option("--monitor", score.monitor, "A monitor file written by apd-monitor build")->required();
  add_model_options(*s, score.model, true);
  add_data_options(*s, score.data);
  s->add_option_function<std::string>(
      "--ood", [&score](const std::string& path) { score.ood = path; },
      "Out-of-distribution data (IDX directory or X.npy), e.g. data/fashion-mnist");
  apd::app::add_enum_option(*s, "--ood-split", apd::kDataSplitNames, score.ood_split,
                            "Which IDX file of --ood: test or train");
  s->add_option("--gamma", score.gamma, "Hamming tolerance of the flagged column: flagged = distance > gamma")
      ->capture_default_str();
  s->add_option("--out", score.out, "Per-instance scores and the summary tables, - for stdout");
  apd::app::add_enum_option(*s, "--format", apd::kTableFormatNames, score.format,
                            "json (every table; apd-report --monitor reads it) or csv (the instances)");
  add_run_options(*s, score.model, score.threads);

  for (auto* sub : {b, s}) apd::app::add_verbosity_flags(*sub, verbosity);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  // As apd-extract: keep the large batch buffers in the heap between batches.
  apd::app::use_one_heap(std::size_t{512} << 20);
  apd::app::setup_logging(program, verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded(
      [&] { return b->parsed() ? apd::run_monitor_build(build) : apd::run_monitor_score(score); });
}
