#include "apd/torch/extract.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/random.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/extraction.hpp"
#include "extract_support.hpp"
#include "threading.hpp"

namespace apd {

namespace {

struct Job {
  int epoch = 0;  // 0 for a bare --checkpoint
  std::filesystem::path checkpoint;
  std::string out;
  InferredMlp model;
};

}  // namespace

bool npy_data(const ExtractOptions& o) { return o.data && o.data->extension() == ".npy"; }

namespace {

// Exactly one model source, and what each allows.
void validate_source(const ExtractOptions& o) {
  const int sources = int{!o.run.empty()} + int{!o.checkpoint.empty()} + int{!o.model.empty()};
  if (sources != 1) throw UsageError("give one of --run RUNDIR, --checkpoint FILE or --model FILE.pt");
  if (!o.checkpoint.empty() && !o.epochs.empty()) throw UsageError("--epoch/--epochs need --run, not --checkpoint");
  if (o.run.empty() && o.split == DataSplit::val) {
    throw UsageError("--split val is the run's own validation split: it needs --run");
  }
  if (o.model.empty()) {
    const auto model_only = [](bool given, const char* option) {
      if (given) throw UsageError(fmt::format("{} applies to --model (TorchScript) only", option));
    };
    model_only(o.list_layers, "--list-layers");
    model_only(!o.layers.empty(), "--layers");
    model_only(!o.input_shape.empty(), "--input-shape");
    model_only(!o.mean.empty() || !o.std.empty(), "--mean/--std");
    model_only(npy_data(o) || !o.targets.empty(), "--data X.npy/--targets");
    return;
  }
  for (const auto& e : o.epochs) {
    if (e.empty() || e.find_first_not_of("0123456789") != std::string::npos || e == "0") {
      throw UsageError(fmt::format("--epochs: '{}' is not an epoch number (best and last need --run)", e));
    }
  }
  if (!o.epochs.empty() && o.model.find(kEpochToken) == std::string::npos) {
    throw UsageError("--model: with --epochs, the model file name needs {epoch} (e.g. ckpt/epoch-{epoch}.pt)");
  }
}

// --model's data and preprocessing options.
void validate_model_inputs(const ExtractOptions& o) {
  if (!npy_data(o) && !o.targets.empty()) throw UsageError("--targets y.npy goes with --data X.npy");
  if (npy_data(o) && o.targets.empty() && !o.list_layers) throw UsageError("--data X.npy needs --targets y.npy");
  for (const auto l : o.layers) {
    if (l == 0) throw UsageError("--layers: ReLU layers are numbered from 1");
  }
  if (o.input_shape.size() > kMaxInputDims) {
    throw UsageError(fmt::format("--input-shape: at most {} dimensions", kMaxInputDims));
  }
  for (const auto d : o.input_shape) {
    if (d < 1 || d > kMaxInputSize) {
      throw UsageError(fmt::format("--input-shape: {} is outside 1..{}", d, kMaxInputSize));
    }
  }
  if (o.mean.size() != o.std.size()) {
    throw UsageError(
        fmt::format("--mean has {} values and --std {}: one of each per channel", o.mean.size(), o.std.size()));
  }
  for (const double s : o.std) {
    if (!(s > 0) || !std::isfinite(s)) throw UsageError(fmt::format("--std: {} is not a positive number", s));
  }
  for (const double m : o.mean) {
    if (!std::isfinite(m)) throw UsageError(fmt::format("--mean: {} is not a number", m));
  }
}

}  // namespace

void validate(const ExtractOptions& o) {
  validate_source(o);
  validate_model_inputs(o);
  if (o.limit && *o.limit == 0) throw UsageError("--limit: 0 selects nothing");
  if (o.batch_size <= 0) throw UsageError(fmt::format("--batch-size: {} must be at least 1", o.batch_size));
  if (o.batch_size > kMaxBatchSize) {
    throw UsageError(fmt::format("--batch-size: {} exceeds the maximum of {}", o.batch_size, kMaxBatchSize));
  }
  if (o.threads <= 0) throw UsageError(fmt::format("--threads: {} must be at least 1", o.threads));
  if (o.threads > kMaxThreads)
    throw UsageError(fmt::format("--threads: {} exceeds the maximum of {}", o.threads, kMaxThreads));
  if (o.out.empty() && !o.list_layers) throw UsageError("--out: an output file (or - for stdout) is required");
  for (const auto l : o.labels) {
    if (l < 0) throw UsageError(fmt::format("--labels: {} is not a label", l));
  }
  if (o.epochs.size() > 1) {
    if (o.out == "-") throw UsageError("--out -: several epochs cannot all go to stdout");
    if (!o.list_layers && o.out.find(kEpochToken) == std::string::npos) {
      throw UsageError("--out: with several epochs, the file name needs {epoch} (e.g. apd-e{epoch}.json)");
    }
  }
}

namespace {

// The model and preprocessing of one extraction: from a run, or from a bare
// --checkpoint with --data and --normalize.
struct Plan {
  std::optional<RunInfo> info;
  std::filesystem::path data_dir;
  Normalization normalization = Normalization::unit;
  std::vector<Job> jobs;
};

Plan plan_jobs(const ExtractOptions& o) {
  Plan plan{std::nullopt, o.data.value_or("data/mnist"), o.normalize.value_or(Normalization::unit), {}};
  if (o.run.empty()) {
    plan.jobs.push_back({0, o.checkpoint, o.out, {}});
    return plan;
  }
  const RunPaths run{o.run};
  plan.info = read_run_info(run);
  if (!o.data) plan.data_dir = plan.info->data.dir;
  if (o.normalize && *o.normalize != plan.info->data.normalize) {
    throw UsageError(fmt::format("--normalize {}: the run was trained with {}", to_string(*o.normalize),
                                 to_string(plan.info->data.normalize)));
  }
  plan.normalization = plan.info->data.normalize;
  const auto available = list_checkpoints(run);
  std::set<int> seen;
  for (const auto& text : o.epochs.empty() ? std::vector<std::string>{"last"} : o.epochs) {
    const int epoch = resolve_epoch(text, run, available);
    if (seen.insert(epoch).second) plan.jobs.push_back({epoch, run.checkpoint(epoch), replace_epoch(o.out, epoch), {}});
  }
  return plan;
}

// Infers each checkpoint's MLP, checking it against the data and the run.
void infer_models(std::vector<Job>& jobs, const std::vector<StateDict>& dicts, const Plan& plan, std::int64_t inputs) {
  for (std::size_t k = 0; k < jobs.size(); ++k) {
    Job& job = jobs[k];
    job.model = infer_mlp(dicts[k], job.checkpoint.string(), inputs);
    if (plan.info && job.model.shape.hidden != plan.info->model.hidden) {
      throw Error(fmt::format("{}: architecture {} differs from run.json's", job.checkpoint.string(),
                              describe(job.model.shape)));
    }
  }
}

// For a run trained with --corrupt-labels: the selected instances whose
// training label was replaced, and the labels they were trained on (the
// APD's labels stay the dataset's). Null when there are none to record.
nlohmann::json corruption_record(const ExtractOptions& o, const Plan& plan, std::span<const std::int64_t> chosen) {
  if (!plan.info || !plan.info->corruption || o.split == DataSplit::test) return nullptr;
  const auto& c = *plan.info->corruption;
  std::vector<std::int64_t> indices, labels;
  for (const auto i : chosen) {
    const auto at = std::lower_bound(c.indices.begin(), c.indices.end(), i);
    if (at == c.indices.end() || *at != i) continue;
    indices.push_back(i);
    labels.push_back(c.labels[static_cast<std::size_t>(at - c.indices.begin())]);
  }
  return {{"probability", c.probability}, {"seed", c.seed}, {"indices", indices}, {"train_labels", labels}};
}

nlohmann::json diagram_metadata(const ExtractOptions& o, const Job& job, const Plan& plan, const SplitData& data,
                                const nlohmann::json& selection) {
  return {{"tool", {{"name", "apd-extract"}, {"version", version()}, {"git_sha", git_sha()}}},
          {"model",
           {{"architecture", describe(job.model.shape)},
            {"inputs", job.model.shape.inputs},
            {"hidden", job.model.shape.hidden},
            {"classes", job.model.shape.classes}}},
          {"checkpoint", job.checkpoint.string()},
          {"run", o.run.empty() ? nlohmann::json(nullptr) : nlohmann::json(o.run.string())},
          {"epoch", job.epoch > 0 ? nlohmann::json(job.epoch) : nlohmann::json(nullptr)},
          {"dataset",
           {{"dir", data.files.dir.string()},
            {"normalize", to_string(plan.normalization)},
            {"images", data.images_path.filename().string()}}},
          {"selection", selection},
          {"forward_pass", forward_pass_record(o)}};
}

}  // namespace

int run_extraction(const ExtractOptions& o) {
  validate(o);
  if (!o.model.empty()) return run_script_extraction(o);
  set_thread_count(o.threads);
  Stopwatch clock;
  spdlog::debug("{} thread(s)", o.threads);
  Plan plan = plan_jobs(o);
  for (const Job& job : plan.jobs) refuse_output_in_running_run(job.out);
  // Every checkpoint is read before the data, and before anything is written.
  std::vector<StateDict> dicts;
  for (const Job& job : plan.jobs) {
    dicts.push_back(load_state_dict(job.checkpoint));
    spdlog::debug("read {} ({:.1f} MB) in {:.2f} s", job.checkpoint.string(),
                  static_cast<double>(std::filesystem::file_size(job.checkpoint)) / 1e6, clock.lap());
  }
  const SplitData data = open_split(o, plan.info, plan.data_dir);
  const IdxImageFile images(data.images_path);
  spdlog::debug("opened {} ({} images of {} pixels) and {}, checked, in {:.2f} s", data.images_path.string(),
                images.count(), images.image_size(), data.labels_path.string(), clock.lap());
  if (data.labels.size() != images.count()) {
    throw Error(fmt::format("{}: holds {} labels but {} holds {} images", data.labels_path.string(), data.labels.size(),
                            images.path().string(), images.count()));
  }
  infer_models(plan.jobs, dicts, plan, static_cast<std::int64_t>(images.image_size()));

  nlohmann::json selection = selection_record(o);
  const std::vector<std::int64_t> labels(data.labels.begin(), data.labels.end());
  const ShardWindow window = shard_window(
      o, select_instances(o, split_indices(o.split, plan.info, images.count()), labels, selection), selection);
  const std::span<const std::int64_t> chosen = window.own();
  std::vector<std::int32_t> truth;
  truth.reserve(chosen.size());
  for (const auto i : chosen) truth.push_back(data.labels[static_cast<std::size_t>(i)]);
  spdlog::debug("selected {} instances", chosen.size());

  for (const Job& job : plan.jobs) {
    Mlp model(job.model.shape);
    load_into(*model, job.model.canonical, job.checkpoint.string());
    const ForwardPass pass =
        forward_pass(*model, images, plan.normalization, window.forward, o.batch_size, window.kept);
    spdlog::debug("{}: forward pass of {} in {:.2f} s", job.out, describe(job.model.shape), clock.lap());
    nlohmann::json metadata = diagram_metadata(o, job, plan, data, selection);
    if (auto corrupted = corruption_record(o, plan, chosen); !corrupted.is_null()) {
      metadata["label_corruption"] = std::move(corrupted);
    }
    const Diagram d = build_diagram(pass.patterns, truth, pass.predicted, chosen, std::move(metadata));
    spdlog::debug("{}: APD of {} nodes and {} links in {:.2f} s", job.out, d.nodes.size(), d.links.size(), clock.lap());
    write_apd(d, job.out, o);
    spdlog::debug("{}: written in {:.2f} s", job.out == "-" ? "stdout" : job.out, clock.lap());
  }
  return 0;
}

}  // namespace apd
