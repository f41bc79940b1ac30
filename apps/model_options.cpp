#include "model_options.hpp"

#include <charconv>
#include <string_view>

#include "apd/core/limits.hpp"
#include "app_support.hpp"

namespace apd::app {

CLI::Option_group* add_model_options(CLI::App& app, ModelChoice& m, const ModelOptionStyle& style) {
  auto* g = app.add_option_group("Model", "Which model (one of --run, --checkpoint, --model)" + style.fallback);
  auto* run = g->add_option("--run", m.run, "apd-train run directory (model and preprocessing come from it)");
  auto* one = g->add_option_function<std::string>(
      "--epoch", [&m](const std::string& e) { m.epochs = {e}; },
      "Epoch of the run: a number, best or last (default last)");
  if (style.series) {
    auto* many =
        g->add_option("--epochs", m.epochs,
                      "Several epochs, comma-separated: N, A-B, A-B:S (every S-th), all (every checkpoint), best, last "
                      "(use {epoch} in --out)")
            ->delimiter(',');
    one->excludes(many);
  } else {
    one->needs(run);
  }
  auto* checkpoint = g->add_option("--checkpoint", m.checkpoint,
                                   "A state_dict saved by torch.save(model.state_dict(), f) of Linear/ReLU layers")
                         ->excludes(run);
  g->add_option("--model", m.model,
                std::string("A TorchScript model (torch.jit.script/trace(m).save(f))") +
                    (style.series ? "; {epoch} with --epochs" : "") + ". Runs its code: load only models you trust")
      ->excludes(run)
      ->excludes(checkpoint);
  return g;
}

void add_data_options(CLI::App& app, DataChoice& d, bool preprocessing) {
  auto* g = app.add_option_group("Data", "Which dataset, and how its values become the model's inputs");
  g->add_option_function<std::string>(
      "--data", [&d](const std::string& path) { d.data = path; },
      "IDX dataset directory (default: the run's, or data/mnist), or X.npy with --model");
  g->add_option("--targets", d.targets, "Integer targets y.npy, shape [N], with --data X.npy");
  add_enum_option(*g, "--split", kDataSplitNames, d.split, "train or val (the run's own split), or test");
  if (!preprocessing) return;
  g->add_option("--input-shape", d.input_shape, "Each instance's shape for --model, e.g. 1,28,28")->delimiter(',');
  add_enum_option<Normalization>(
      *g, "--normalize", kNormalizationNames, [&d](Normalization n) { d.normalize = n; },
      "Value scaling without --run: unit (x/255), standard, symmetric or none (default unit; none for float .npy)");
  g->add_option("--mean", d.mean, "Per-channel means subtracted after --normalize (--model)")->delimiter(',');
  g->add_option("--std", d.std, "Per-channel standard deviations divided by after --mean (--model)")->delimiter(',');
}

namespace {

// "I/N" with 0 <= I < N <= kMaxShards.
Shard parse_shard(const std::string& text) {
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
  if (count == 0 || count > kMaxShards || index >= count) {
    throw CLI::ValidationError("--shard", "'" + text + "': I must be in 0..N-1 and N in 1..1000000");
  }
  return {index, count};
}

}  // namespace

void add_selection_options(CLI::App& app, Selection& s, bool shard) {
  auto* g = app.add_option_group("Selection", "Which instances of the data");
  g->add_option("--labels", s.labels, "True labels to keep, comma-separated (default all)")->delimiter(',');
  g->add_option_function<std::size_t>(
       "--limit", [&s](const std::size_t& n) { s.limit = n; },
       "At most N instances (all of them, with a warning, if fewer exist)")
      ->check(non_negative());
  add_enum_option(*g, "--select", kPickNames, s.pick, "Which instances --limit keeps: first (by index) or random");
  g->add_option("--seed", s.seed, "Seed of --select random (the same instances at every epoch)")
      ->check(non_negative())
      ->capture_default_str();
  if (!shard) return;
  g->add_option_function<std::string>(
      "--shard", [&s](const std::string& text) { s.shard = parse_shard(text); },
      "I/N: only the I-th (0-based) of N contiguous slices of the selection, for apd-merge");
}

void add_view_options(CLI::App& app, ViewChoice& v) {
  auto* g = app.add_option_group("Views", "Which part of each layer's pattern is seen (docs/views.md)");
  g->add_option_function<std::vector<std::string>>(
       "--view",
       [&v](const std::vector<std::string>& texts) {
         try {
           for (const auto& t : texts) v.views.push_back(parse_view(t));
         } catch (const UsageError& e) {
           throw CLI::ValidationError(e.what());
         }
       },
       "L=KIND[:ARG], repeatable: layer L seen through full, pool:K (OR over KxK windows), channel[:S] (channel "
       "active share > S), top:K (the K neurons active closest to half the time) or neurons:I,J,... (0-based)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1);
  g->add_option("--view-from", v.from,
                "An APD or monitor file whose recorded views (and top:K's chosen neurons) are used again");
}

void add_compute_options(CLI::App& app, Compute& c) {
  auto* g = app.add_option_group("Compute", "How the forward passes run");
  g->add_option_function<std::int64_t>(
      "--batch-size", [&c](const std::int64_t& n) { c.batch_size = n; },
      "Instances per forward batch, 1 to 1048576 (default 1024; with --run 2048, as apd-train evaluated; 256 "
      "with --model, whose conv activations are larger)");
  g->add_option_function<int>(
       "--threads",
       [&c](const int& n) {
         c.threads = n;
         c.threads_given = true;
       },
       "CPU threads, 1 to 256 (default 1; with --run in apd-extract, the run's own)")
      ->default_str("1");
}

}  // namespace apd::app
