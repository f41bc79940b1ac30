// apd-train: the paper's training run (and any variation of it) with a
// checkpoint per epoch and the number of unique activation patterns per layer.
#include "app_support.hpp"
#include "apd/torch/train.hpp"

int main(int argc, char** argv) {
  const std::string program = "apd-train";
  apd::TrainOptions o;
  std::string normalize = "unit";
  bool no_track = false;
  bool quiet = false;
  bool verbose = false;

  CLI::App app{"Train a ReLU MLP with SGD, checkpointing every epoch and tracking the number of unique "
               "activation patterns per hidden layer over the training split.",
               program};
  app.get_formatter()->column_width(34);
  app.add_option("--data", o.data, "IDX dataset directory")->capture_default_str();
  app.add_option("--hidden", o.hidden, "Hidden layer widths, comma-separated")->delimiter(',')->capture_default_str();
  app.add_option("--epochs", o.epochs, "Number of epochs")->capture_default_str();
  app.add_option("--lr", o.lr, "SGD learning rate")->capture_default_str();
  app.add_option("--momentum", o.momentum, "SGD momentum (PyTorch semantics)")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Mini-batch size")->capture_default_str();
  app.add_option("--val-split", o.val_split, "Share of the training images held out for validation")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the split, the initialisation and the batch order")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (LibTorch and OpenBLAS); results are reproducible per count")
      ->capture_default_str();
  app.add_option("--normalize", normalize, "Pixel scaling: unit (x/255), standard ((x/255-0.1307)/0.3081), symmetric (x/127.5-1)")
      ->check(CLI::IsMember({"unit", "standard", "symmetric"}))
      ->capture_default_str();
  app.add_option("--out", o.out, "Run directory to create (or continue with --resume)")->required();
  app.add_option("--checkpoint-every", o.checkpoint_every, "Write a checkpoint every N epochs (and at the last)")
      ->capture_default_str();
  app.add_flag("--no-track-patterns", no_track, "Do not count unique activation patterns per epoch");
  app.add_flag("--resume", o.resume, "Continue the run in --out from its last complete checkpoint");
  app.add_flag("--quiet", quiet, "Print only errors");
  app.add_flag("--verbose", verbose, "Print debugging details");
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;

  for (const auto* opt : app.get_options()) {
    if (opt->count() > 0 && !opt->get_lnames().empty()) o.given.insert(opt->get_lnames().front());
  }
  o.verbosity = quiet ? apd::Verbosity::quiet : (verbose ? apd::Verbosity::verbose : apd::Verbosity::normal);
  apd::app::setup_logging(program, o.verbosity);
  return apd::app::run_guarded([&] {
    o.normalize = apd::parse_normalization(normalize);
    o.track_patterns = !no_track;
    return apd::run_training(o);
  });
}
