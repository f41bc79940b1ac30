// apd-extract: the APD (apd/1 JSON or GraphML) of a label subset at any epoch
// of an apd-train run, or under a state_dict saved by PyTorch.
#include "app_support.hpp"
#include "apd/torch/extract.hpp"

int main(int argc, char** argv) {
  const std::string program = "apd-extract";
  apd::ExtractOptions o;
  std::string epoch;
  std::string data;
  std::string normalize;
  std::string format = "json";
  std::size_t limit = 0;
  bool no_instances = false;
  bool quiet = false;
  bool verbose = false;

  CLI::App app{"Write the Activation Pattern Diagram of a selection of instances under a model: from an apd-train "
               "run (--run, at --epoch or --epochs) or from a PyTorch state_dict (--checkpoint).",
               program};
  app.get_formatter()->column_width(34);
  auto* run = app.add_option("--run", o.run, "apd-train run directory (model and preprocessing come from it)");
  auto* one = app.add_option("--epoch", epoch, "Epoch of the run: a number, best or last (default last)");
  auto* many = app.add_option("--epochs", o.epochs, "Several epochs, comma-separated (use {epoch} in --out)")
                   ->delimiter(',');
  one->excludes(many);
  auto* ckpt = app.add_option("--checkpoint", o.checkpoint,
                              "A state_dict saved by torch.save(model.state_dict(), f) of Linear/ReLU layers");
  ckpt->excludes(run);
  app.add_option("--data", data, "IDX dataset directory (default: the run's, or data/mnist)");
  app.add_option("--normalize", normalize, "Pixel scaling with --checkpoint: unit, standard or symmetric (default unit)")
      ->check(CLI::IsMember({"unit", "standard", "symmetric"}));
  app.add_option("--split", o.split, "train or val (the run's own split), or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  app.add_option("--labels", o.labels, "True labels to keep, comma-separated (default all)")->delimiter(',');
  app.add_option("--limit", limit, "At most N instances (all of them, with a warning, if fewer exist)");
  app.add_option("--select", o.select, "Which instances --limit keeps: first (by index) or random")
      ->check(CLI::IsMember({"first", "random"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of --select random (the same instances at every epoch)")->capture_default_str();
  app.add_option("--out", o.out, "Output file, - for stdout; {epoch} is replaced by the epoch number")->required();
  app.add_option("--format", format, "json (apd/1) or graphml")->check(CLI::IsMember({"json", "graphml"}))->capture_default_str();
  app.add_flag("--no-instances", no_instances, "Omit the per-instance records (flows need them)");
  app.add_option("--batch-size", o.batch_size, "Instances per forward batch")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads")->capture_default_str();
  app.add_flag("--quiet", quiet, "Print only errors");
  app.add_flag("--verbose", verbose, "Print debugging details");
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;

  o.verbosity = quiet ? apd::Verbosity::quiet : (verbose ? apd::Verbosity::verbose : apd::Verbosity::normal);
  apd::app::setup_logging(program, o.verbosity);
  return apd::app::run_guarded([&] {
    if (!epoch.empty()) o.epochs = {epoch};
    if (!data.empty()) o.data = data;
    if (!normalize.empty()) o.normalize = apd::parse_normalization(normalize);
    if (limit > 0 || app.count("--limit") > 0) o.limit = limit;
    o.format = apd::parse_output_format(format);
    o.instances = !no_instances;
    return apd::run_extraction(o);
  });
}
