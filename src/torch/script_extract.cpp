// apd-extract --model: the APD of any TorchScript ReLU network (one model, or
// one per epoch of the user's own training) over IDX or .npy data.
#include <algorithm>
#include <array>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/npy.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/torch/script_model.hpp"
#include "extract_support.hpp"
#include "model_inputs.hpp"
#include "threading.hpp"

namespace apd {

namespace {

struct ScriptJob {
  int epoch = 0;  // 0 without --epochs
  std::filesystem::path model_path;
  std::string out;
  std::unique_ptr<ScriptModel> model;
};

std::vector<ScriptJob> script_jobs(const ExtractOptions& o) {
  std::vector<ScriptJob> jobs;
  if (o.epochs.empty()) {
    jobs.push_back({0, o.model, o.out, nullptr});
  } else {
    std::set<int> seen;
    for (const auto& text : o.epochs) {
      const int epoch = std::stoi(text);  // validated: digits only
      if (seen.insert(epoch).second) {
        jobs.push_back({epoch, replace_epoch(o.model, epoch), replace_epoch(o.out, epoch), nullptr});
      }
    }
  }
  return jobs;
}

// Probes every model; all must have the first one's layers and classes.
std::int64_t probe_models(std::vector<ScriptJob>& jobs, const ModelInputs& inputs) {
  const torch::Tensor probe = probe_batch(inputs);
  std::int64_t classes = 0;
  for (ScriptJob& job : jobs) {
    const std::int64_t c = job.model->probe(probe);
    if (&job == &jobs.front()) {
      classes = c;
      continue;
    }
    std::vector<std::int64_t> first, mine;
    for (const auto& l : jobs.front().model->layers()) first.push_back(l.width);
    for (const auto& l : job.model->layers()) mine.push_back(l.width);
    if (c != classes || mine != first) {
      throw Error(fmt::format("{}: ReLU widths {} and {} classes differ from {}'s ({} and {})", job.model_path.string(),
                              fmt::join(mine, ","), c, jobs.front().model_path.string(), fmt::join(first, ","),
                              classes));
    }
  }
  return classes;
}

void print_layers(const ScriptJob& job, std::int64_t classes) {
  const auto& layers = job.model->layers();
  fmt::print("{}: {} ReLU layer(s), {} classes\n", job.model_path.string(), layers.size(), classes);
  fmt::print("{:>5}  {:>9}  {:<14}  {}\n", "layer", "width", "shape", "source");
  for (const auto& l : layers) {
    fmt::print("{:>5}  {:>9}  {:<14}  {}\n", l.index, l.width, fmt::format("{}", fmt::join(l.shape, "x")),
               l.source.empty() ? "-" : l.source);
  }
}

// --layers checked against the model (default: all of them).
std::vector<std::size_t> chosen_layers(const ExtractOptions& o, const ScriptModel& model) {
  if (o.layers.empty()) {
    std::vector<std::size_t> all(model.relu_count());
    for (std::size_t l = 0; l < all.size(); ++l) all[l] = l + 1;
    return all;
  }
  std::vector<std::size_t> layers(o.layers.begin(), o.layers.end());
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers.back() > model.relu_count()) {
    throw UsageError(fmt::format("--layers: layer {} does not exist; the model has {} ReLU layer(s) (--list-layers)",
                                 layers.back(), model.relu_count()));
  }
  return layers;
}

void check_targets(const ModelInputs& inputs, std::int64_t classes) {
  const auto& t = inputs.targets();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] < 0 || t[i] >= classes) {
      throw Error(fmt::format("{}: target {} of instance {} is outside the model's classes 0..{}",
                              inputs.targets_path().string(), t[i], i, classes - 1));
    }
  }
}

nlohmann::json script_metadata(const ExtractOptions& o, const ScriptJob& job, const std::vector<std::size_t>& layers,
                               std::int64_t classes, const ModelInputs& inputs, const nlohmann::json& selection) {
  nlohmann::json relus = nlohmann::json::array();
  for (const auto& l : job.model->layers()) {
    relus.push_back({{"layer", l.index}, {"source", l.source}, {"shape", l.shape}, {"width", l.width}});
  }
  return {{"tool", {{"name", "apd-extract"}, {"version", version()}, {"git_sha", git_sha()}}},
          {"model",
           {{"architecture", "torchscript"},
            {"file", job.model_path.string()},
            {"sha256", sha256_file(job.model_path)},
            {"relu_layers", relus},
            {"layers", layers},
            {"classes", classes}}},
          {"checkpoint", job.model_path.string()},
          {"run", nullptr},
          {"epoch", job.epoch > 0 ? nlohmann::json(job.epoch) : nlohmann::json(nullptr)},
          {"dataset", inputs.record()},
          {"selection", selection},
          {"forward_pass", forward_pass_record(o)}};
}

}  // namespace

int run_script_extraction(const ExtractOptions& o) {
  set_thread_count(o.threads);
  Stopwatch clock;
  std::vector<ScriptJob> jobs = script_jobs(o);
  if (!o.list_layers) {
    for (const ScriptJob& job : jobs) refuse_output_in_running_run(job.out);
  }
  // Every model is loaded before the data, and before anything is written.
  for (ScriptJob& job : jobs) {
    job.model = std::make_unique<ScriptModel>(job.model_path);
    spdlog::debug("loaded {} ({} ReLU calls) in {:.2f} s", job.model_path.string(), job.model->relu_count(),
                  clock.lap());
  }
  const ModelInputs inputs(o);
  const std::int64_t classes = probe_models(jobs, inputs);
  if (o.list_layers) {
    print_layers(jobs.front(), classes);
    return 0;
  }
  const std::vector<std::size_t> layers = chosen_layers(o, *jobs.front().model);
  check_targets(inputs, classes);
  nlohmann::json selection = selection_record(o);
  if (npy_data(o)) selection["split"] = nullptr;  // an .npy file is read whole
  std::vector<std::int64_t> pool(inputs.count());
  for (std::size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<std::int64_t>(i);
  const ShardWindow window =
      shard_window(o, select_instances(o, std::move(pool), inputs.targets(), selection), selection);
  const std::span<const std::int64_t> chosen = window.own();
  std::vector<std::int32_t> truth;
  truth.reserve(chosen.size());
  for (const auto i : chosen) truth.push_back(static_cast<std::int32_t>(inputs.targets()[static_cast<std::size_t>(i)]));
  spdlog::debug("selected {} instances in {:.2f} s", chosen.size(), clock.lap());

  for (ScriptJob& job : jobs) {
    const ScriptPass pass = run_model(*job.model, inputs, window.forward, layers, o.batch_size, window.kept);
    spdlog::debug("{}: forward pass in {:.2f} s", job.out, clock.lap());
    const Diagram d = build_diagram(pass.patterns, truth, pass.predicted, chosen,
                                    script_metadata(o, job, layers, classes, inputs, selection));
    write_apd(d, job.out, o);
    spdlog::debug("{}: APD of {} nodes and {} links written in {:.2f} s", job.out, d.nodes.size(), d.links.size(),
                  clock.lap());
  }
  return 0;
}

}  // namespace apd
