// apd-extract: the APD (apd/1 JSON or GraphML) of a label subset at any epoch
// of an apd-train run, under a state_dict saved by PyTorch, or under any
// TorchScript ReLU network, on IDX or .npy data.
#include <charconv>
#include <string_view>

#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/torch/extract.hpp"
#include "app_support.hpp"

namespace {

// "I/N" with 0 <= I < N <= kMaxShards.
apd::ExtractOptions::Shard parse_shard(const std::string& text) {
  const auto number = [](std::string_view digits, std::size_t& out) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return ec == std::errc() && end == digits.data() + digits.size() && !digits.empty();
  };
  const auto slash = text.find('/');
  std::size_t index = 0, count = 0;
  if (slash == std::string::npos || !number(std::string_view(text).substr(0, slash), index) ||
      !number(std::string_view(text).substr(slash + 1), count)) {
    throw CLI::ValidationError("--shard", "'" + text + "' is not I/N (e.g. 0/4)");
  }
  if (count == 0 || count > apd::kMaxShards || index >= count) {
    throw CLI::ValidationError("--shard", "'" + text + "': I must be in 0..N-1 and N in 1..1000000");
  }
  return {index, count};
}

struct Options {
  apd::ExtractOptions extract;
  apd::Verbosity verbosity = apd::Verbosity::normal;
};

void add_options(CLI::App& app, Options& options) {
  apd::ExtractOptions& o = options.extract;
  auto* run = app.add_option("--run", o.run, "apd-train run directory (model and preprocessing come from it)");
  auto* one = app.add_option_function<std::string>(
      "--epoch", [&o](const std::string& e) { o.epochs = {e}; },
      "Epoch of the run: a number, best or last (default last)");
  auto* many =
      app.add_option("--epochs", o.epochs, "Several epochs, comma-separated (use {epoch} in --out)")->delimiter(',');
  one->excludes(many);
  auto* checkpoint = app.add_option("--checkpoint", o.checkpoint,
                                    "A state_dict saved by torch.save(model.state_dict(), f) of Linear/ReLU layers")
                         ->excludes(run);
  app.add_option("--model", o.model,
                 "A TorchScript model (torch.jit.script/trace(m).save(f)); {epoch} with --epochs. "
                 "Runs its code: load only models you trust")
      ->excludes(run)
      ->excludes(checkpoint);
  app.add_flag("--list-layers", o.list_layers, "Print --model's ReLU layers (index, width, shape, source) and stop");
  app.add_option("--layers", o.layers, "ReLU layers of --model to build the APD over, e.g. 2,4 (default all)")
      ->delimiter(',')
      ->check(apd::app::non_negative());
  app.add_option_function<std::string>(
      "--data", [&o](const std::string& d) { o.data = d; },
      "IDX dataset directory (default: the run's, or data/mnist), or X.npy with --model");
  app.add_option("--targets", o.targets, "Integer targets y.npy, shape [N], with --data X.npy");
  app.add_option("--input-shape", o.input_shape, "Each instance's shape for --model, e.g. 1,28,28")->delimiter(',');
  apd::app::add_enum_option<apd::Normalization>(
      app, "--normalize", apd::kNormalizationNames, [&o](apd::Normalization n) { o.normalize = n; },
      "Value scaling without --run: unit (x/255), standard, symmetric or none (default unit; none for float .npy)");
  app.add_option("--mean", o.mean, "Per-channel means subtracted after --normalize (--model)")->delimiter(',');
  app.add_option("--std", o.std, "Per-channel standard deviations divided by after --mean (--model)")->delimiter(',');
  apd::app::add_enum_option(app, "--split", apd::kDataSplitNames, o.split,
                            "train or val (the run's own split), or test");
  app.add_option("--labels", o.labels, "True labels to keep, comma-separated (default all)")->delimiter(',');
  app.add_option_function<std::size_t>(
         "--limit", [&o](const std::size_t& n) { o.limit = n; },
         "At most N instances (all of them, with a warning, if fewer exist)")
      ->check(apd::app::non_negative());
  apd::app::add_enum_option(app, "--select", apd::kSelectionNames, o.select,
                            "Which instances --limit keeps: first (by index) or random");
  app.add_option("--seed", o.seed, "Seed of --select random (the same instances at every epoch)")
      ->check(apd::app::non_negative())
      ->capture_default_str();
  app.add_option_function<std::string>(
      "--shard", [&o](const std::string& text) { o.shard = parse_shard(text); },
      "I/N: extract only the I-th (0-based) of N contiguous slices of the selection, for apd-merge");
  app.add_option("--out", o.out, "Output file, - for stdout; {epoch} is replaced by the epoch number");
  apd::app::add_enum_option(app, "--format", apd::kOutputFormatNames, o.format, "json (apd/1) or graphml");
  apd::app::add_enum_option(app, "--pattern-encoding", apd::kPatternEncodingNames, o.patterns,
                            "Patterns in JSON: auto (hex for layers wider than 256 neurons, schema apd/2), "
                            "binary ('0'/'1') or hex");
  app.add_flag_callback(
      "--no-instances", [&o] { o.instances = false; }, "Omit the per-instance records (flows need them)");
  app.add_option("--batch-size", o.batch_size,
                 "Instances per forward batch, 1 to 1048576 (default 1024; 256 with --model, whose conv "
                 "activations are larger)");
  app.add_option("--threads", o.threads, "CPU threads, 1 to 256")->capture_default_str();
  apd::app::add_verbosity_flags(app, options.verbosity);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-extract";
  Options o;
  CLI::App app{
      "Write the Activation Pattern Diagram of a selection of instances under a model: from an apd-train "
      "run (--run, at --epoch or --epochs), a PyTorch state_dict (--checkpoint) or a TorchScript model "
      "(--model).",
      program};
  app.get_formatter()->column_width(34);
  add_options(app, o);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  if (app.count("--batch-size") == 0 && !o.extract.model.empty()) o.extract.batch_size = apd::kModelBatchSize;
  // Every batch allocates the same large activation buffers. One heap keeps
  // them between batches (glibc would unmap them and fault them back in:
  // a third of a conv net's forward time), and its first 512 MiB take huge
  // pages (a shard of the MNIST example CNN: 50,000 page faults -> 18,000,
  // 0.25 s of its 7 s; the rest are LibTorch's own start-up).
  apd::app::use_one_heap(std::size_t{512} << 20);
  apd::app::setup_logging(program, o.verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded([&] { return apd::run_extraction(o.extract); });
}
