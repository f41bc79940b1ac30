// apd-monitor: runtime monitors from activation patterns. `build` keeps the
// patterns of a model's correctly classified training instances per
// predicted class; `score` flags inputs whose pattern is far (in Hamming
// distance) from every known pattern of their predicted class, and reports
// how well that detects misclassified and out-of-distribution inputs.
#include "apd/io/atomic_file.hpp"
#include "apd/torch/monitor_job.hpp"
#include "app_support.hpp"
#include "model_options.hpp"

int main(int argc, char** argv) {
  const std::string program = "apd-monitor";
  apd::MonitorBuildOptions build;
  apd::MonitorScoreOptions score;
  score.data.split = apd::DataSplit::test;
  const apd::app::ModelOptionStyle build_model{.series = false, .fallback = ""};
  const apd::app::ModelOptionStyle score_model{.series = false,
                                               .fallback = " (default: the model the monitor records)"};
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
  apd::app::add_model_options(*b, build.model, build_model);
  apd::app::add_data_options(*b, build.data, true);
  apd::app::add_selection_options(*b, build.selection, false);
  b->add_option("--layers", build.layers, "ReLU layers to monitor, e.g. 3 or 2,3 (default the last)")
      ->delimiter(',')
      ->check(apd::app::non_negative());
  b->add_flag("--all-instances", build.all_instances, "Keep misclassified instances' patterns too");
  b->add_option("--out", build.out, "The monitor file to write (JSON, apd-monitor/1)")->required();
  apd::app::add_view_options(*b, build.views);
  apd::app::add_compute_options(*b, build.compute);

  auto* s = app.add_subcommand("score",
                               "Score instances: per monitored layer the Hamming distance to the nearest "
                               "known pattern of the predicted class; flags, AUROC, FPR at 95% TPR");
  s->add_option("--monitor", score.monitor, "A monitor file written by apd-monitor build")->required();
  apd::app::add_model_options(*s, score.model, score_model);
  apd::app::add_data_options(*s, score.data, false);
  apd::app::add_selection_options(*s, score.selection, false);
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
  apd::app::add_compute_options(*s, score.compute);

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
