// apd-train: the paper's training run (and any variation of it) with a
// checkpoint per epoch and the number of unique activation patterns per layer.
#include "apd/torch/train.hpp"
#include "app_support.hpp"

namespace {

void add_options(CLI::App& app, apd::TrainOptions& o) {
  app.add_option("--data", o.data, "IDX dataset directory")->capture_default_str();
  app.add_option("--hidden", o.hidden, "Hidden layer widths (1 to 65536 each), comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--classes", o.classes,
                 "Output classes; every label must be below it (default: 1 + the largest label)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{256}));
  app.add_option("--epochs", o.epochs, "Number of epochs")->capture_default_str();
  app.add_option("--lr", o.lr, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum (PyTorch semantics)")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Mini-batch size, 1 to 1048576")->capture_default_str();
  app.add_option("--val-split", o.val_split, "Share of the training images held out for validation")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the split, the initialisation and the batch order")
      ->check(apd::app::non_negative())
      ->capture_default_str();
  app.add_option("--threads", o.threads,
                 "CPU threads (LibTorch and OpenBLAS), 1 to 256; results are reproducible per count")
      ->capture_default_str();
  apd::app::add_enum_option(app, "--normalize", apd::kNormalizationNames, o.normalize,
                            "Pixel scaling: unit (x/255), standard ((x/255-0.1307)/0.3081), symmetric (x/127.5-1)");
  app.add_option("--out", o.out, "Run directory to create (or continue with --resume)")->required();
  app.add_option("--checkpoint-every", o.checkpoint_every, "Write a checkpoint every N epochs (and at the last)")
      ->capture_default_str();
  app.add_flag_callback(
      "--no-track-patterns", [&o] { o.track_patterns = false; },
      "Do not track the training split per epoch (unique patterns, correctness, churn)");
  app.add_option("--corrupt-labels", o.corrupt_labels,
                 "Replace each training label with probability P by a uniformly drawn class (Zhang et al.); "
                 "run.json lists the changed ones")
      ->capture_default_str();
  app.add_option("--corrupt-seed", o.corrupt_seed, "Seed of the label corruption")
      ->check(apd::app::non_negative())
      ->capture_default_str();
  app.add_flag("--resume", o.resume, "Continue the run in --out from its last complete checkpoint");
  apd::app::add_verbosity_flags(app, o.verbosity);
  // With --resume, options given again must agree with run.json: remember which were given.
  app.parse_complete_callback([&app, &o] {
    for (const auto* opt : app.get_options()) {
      if (opt->count() > 0 && !opt->get_lnames().empty()) o.given.insert(opt->get_lnames().front());
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-train";
  apd::TrainOptions o;
  CLI::App app{
      "Train a ReLU MLP with SGD, checkpointing every epoch and tracking the number of unique "
      "activation patterns per hidden layer over the training split.",
      program};
  app.get_formatter()->column_width(34);
  add_options(app, o);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  apd::app::setup_logging(program, o.verbosity);
  return apd::app::run_guarded([&] { return apd::run_training(o); });
}
