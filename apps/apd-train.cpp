// apd-train: the paper's training run (and any variation of it) with a
// checkpoint per epoch and the number of unique activation patterns per layer.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/torch/train.hpp"
#include "app_support.hpp"

namespace {

// Every setting is kept only when given: with --resume, those given must
// agree with run.json and the others come from it; a new run takes the
// paper's defaults (shown in --help) for the others.
void add_model_options(CLI::App& app, apd::TrainOptions& o, const apd::TrainSettings& d) {
  using apd::app::add_optional;
  add_optional(app, "--data", o.data, "IDX dataset directory")->default_str(d.data.string());
  add_optional(app, "--hidden", o.hidden, "Hidden layer widths (1 to 65536 each), comma-separated")
      ->delimiter(',')
      ->default_str(fmt::format("{}", fmt::join(d.hidden, ",")));
  add_optional(app, "--classes", o.classes,
               "Output classes; every label must be below it (default: 1 + the largest label)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{256}));
  apd::app::add_enum_option<apd::Normalization>(
      app, "--normalize", apd::kNormalizationNames, [&o](apd::Normalization n) { o.normalize = n; },
      "Pixel scaling: unit (x/255), standard ((x/255-0.1307)/0.3081), symmetric (x/127.5-1)")
      ->default_str(std::string(apd::to_string(d.normalize)));
}

void add_training_options(CLI::App& app, apd::TrainOptions& o, const apd::TrainSettings& d) {
  using apd::app::add_optional;
  add_optional(app, "--epochs", o.epochs, "Number of epochs")->default_str(std::to_string(d.epochs));
  add_optional(app, "--lr", o.lr, "SGD learning rate")->default_str(fmt::format("{}", d.lr));
  add_optional(app, "--momentum", o.momentum, "SGD momentum (PyTorch semantics)")
      ->default_str(fmt::format("{}", d.momentum));
  add_optional(app, "--batch-size", o.batch_size, "Mini-batch size, 1 to 1048576")
      ->default_str(std::to_string(d.batch_size));
  add_optional(app, "--val-split", o.val_split, "Share of the training images held out for validation")
      ->default_str(fmt::format("{}", d.val_split));
  add_optional(app, "--seed", o.seed, "Seed of the split, the initialisation and the batch order")
      ->check(apd::app::non_negative())
      ->default_str(std::to_string(d.seed));
  add_optional(app, "--threads", o.threads,
               "CPU threads (LibTorch and OpenBLAS), 1 to 256; results are reproducible per count")
      ->default_str(std::to_string(d.threads));
  add_optional(app, "--corrupt-labels", o.corrupt_labels,
               "Replace each training label with probability P by a uniformly drawn class (Zhang et al.); "
               "run.json lists the changed ones")
      ->default_str(fmt::format("{}", d.corrupt_labels));
  add_optional(app, "--corrupt-seed", o.corrupt_seed, "Seed of the label corruption")
      ->check(apd::app::non_negative())
      ->default_str(std::to_string(d.corrupt_seed));
}

void add_run_options(CLI::App& app, apd::TrainOptions& o, const apd::TrainSettings& d) {
  app.add_option("--out", o.out, "Run directory to create (or continue with --resume)")->required();
  apd::app::add_optional(app, "--checkpoint-every", o.checkpoint_every,
                         "Write a checkpoint every N epochs (and at the last)")
      ->default_str(std::to_string(d.checkpoint_every));
  app.add_flag_callback(
      "--no-track-patterns", [&o] { o.track_patterns = false; },
      "Do not track the training split per epoch (unique patterns, correctness, churn)");
  app.add_flag("--resume", o.resume, "Continue the run in --out from its last complete checkpoint");
  apd::app::add_verbosity_flags(app, o.verbosity);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-train";
  apd::TrainOptions o;
  const apd::TrainSettings defaults;
  CLI::App app{
      "Train a ReLU MLP with SGD, checkpointing every epoch and tracking the number of unique "
      "activation patterns per hidden layer over the training split.",
      program};
  app.get_formatter()->column_width(34);
  add_model_options(app, o, defaults);
  add_training_options(app, o, defaults);
  add_run_options(app, o, defaults);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  apd::app::setup_logging(program, o.verbosity);
  return apd::app::run_guarded([&] { return apd::run_training(o); });
}
