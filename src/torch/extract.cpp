#include "apd/torch/extract.hpp"

#include <algorithm>
#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/diagram.hpp"
#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/epoch_list.hpp"
#include "apd/torch/runner.hpp"
#include "apd/torch/script_model.hpp"
#include "job.hpp"
#include "threading.hpp"

namespace apd {

namespace {

// What the paper's MLP (a run or a state_dict) does not take.
void validate_mlp(const ExtractOptions& o) {
  const auto model_only = [](bool given, const char* option) {
    if (given) throw UsageError(fmt::format("{} applies to --model (TorchScript) only", option));
  };
  model_only(o.list_layers, "--list-layers");
  model_only(!o.layers.empty(), "--layers");
  model_only(!o.data.input_shape.empty(), "--input-shape");
  model_only(!o.data.mean.empty() || !o.data.std.empty(), "--mean/--std");
  model_only(o.data.npy() || !o.data.targets.empty(), "--data X.npy/--targets");
}

void validate_script(const ExtractOptions& o) {
  if (o.data.npy() && o.data.targets.empty() && !o.list_layers) throw UsageError("--data X.npy needs --targets y.npy");
  for (const auto l : o.layers) {
    if (l == 0) throw UsageError("--layers: ReLU layers are numbered from 1");
  }
}

void validate_geometry(const ExtractOptions& o) {
  if (o.geometry_layers && !o.geometry) throw UsageError("--geometry-layers applies to --geometry");
  if (o.geometry_float32 && !o.geometry) throw UsageError("--geometry-gradients applies to --geometry");
  if (o.geometry_dense && !o.geometry) throw UsageError("--geometry-tangents applies to --geometry");
  if (o.geometry_memory != 0 && !o.geometry) throw UsageError("--geometry-memory applies to --geometry");
  if (!o.geometry) return;
  if (!o.output.write.instances) {
    throw UsageError("--geometry writes per-instance records: it cannot go with --no-instances");
  }
  if (o.output.format != OutputFormat::json) {
    throw UsageError("--geometry needs --format json: GraphML files hold no per-instance records");
  }
}

void validate_output(const ExtractOptions& o) {
  const std::string& out = o.output.out;
  if (out.empty() && !o.list_layers) throw UsageError("--out: an output file (or - for stdout) is required");
  if (!may_name_several(o.model.epochs)) return;
  if (out == "-") throw UsageError("--out -: several epochs cannot all go to stdout");
  if (!o.list_layers && out.find(kEpochToken) == std::string::npos) {
    throw UsageError("--out: with several epochs, the file name needs {epoch} (e.g. apd-e{epoch}.json)");
  }
}

}  // namespace

void validate(const ExtractOptions& o) {
  validate(o.model);
  if (o.model.run.empty() && o.data.split == DataSplit::val) {
    throw UsageError("--split val is the run's own validation split: it needs --run");
  }
  if (o.model.kind() == ModelChoice::Kind::script) {
    validate_script(o);
  } else {
    validate_mlp(o);
  }
  validate(o.data);
  validate(o.selection);
  validate(o.compute);
  validate(o.views);
  validate_output(o);
  validate_geometry(o);
}

namespace {

void print_layers(const ModelJob& job) {
  const auto& script = dynamic_cast<const ScriptModel&>(*job.model);
  const auto& layers = script.layers();
  fmt::print("{}: {} ReLU layer(s), {} classes\n", job.file.string(), layers.size(), script.classes());
  fmt::print("{:>5}  {:>9}  {:<14}  {:<48}  {}\n", "layer", "width", "shape", "views (--view L=...)", "source");
  for (const auto& l : layers) {
    const std::string views = l.shape.size() == 3 ? fmt::format("full pool:1..{} channel[:S] top:K neurons:I,...",
                                                                std::max(l.shape[1], l.shape[2]))
                                                  : "full top:K neurons:I,...";
    fmt::print("{:>5}  {:>9}  {:<14}  {:<48}  {}\n", l.index, l.width, fmt::format("{}", fmt::join(l.shape, "x")),
               views, l.source.empty() ? "-" : l.source);
  }
}

// --layers checked against the model (default: all of them).
std::vector<std::size_t> chosen_layers(std::vector<std::size_t> layers, std::size_t relus) {
  if (layers.empty()) {
    layers.resize(relus);
    for (std::size_t l = 0; l < relus; ++l) layers[l] = l + 1;
    return layers;
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  if (layers.back() > relus) {
    throw UsageError(fmt::format("--layers: layer {} does not exist; the model has {} ReLU layer(s) (--list-layers)",
                                 layers.back(), relus));
  }
  return layers;
}

// For a run trained with --corrupt-labels: the selected instances whose
// training label was replaced, and the labels they were trained on (the
// APD's labels stay the dataset's). Null when there are none to record.
nlohmann::json corruption_record(const OpenRun* run, DataSplit split, std::span<const std::int64_t> chosen) {
  if (!run || !run->info.corruption || split == DataSplit::test) return nullptr;
  const auto& c = *run->info.corruption;
  std::vector<std::int64_t> indices, labels;
  for (const auto i : chosen) {
    const auto at = std::lower_bound(c.indices.begin(), c.indices.end(), i);
    if (at == c.indices.end() || *at != i) continue;
    indices.push_back(i);
    labels.push_back(c.labels[static_cast<std::size_t>(at - c.indices.begin())]);
  }
  return {{"probability", c.probability}, {"seed", c.seed}, {"indices", indices}, {"train_labels", labels}};
}

// The dataset's record: the IDX directory for the paper's MLP (apd/1's
// first provenance), the full record for a TorchScript model; both with the
// SHA-256 of the instances' file.
nlohmann::json dataset_record(ModelChoice::Kind kind, const JobData& data) {
  nlohmann::json r = kind == ModelChoice::Kind::script
                         ? data.reader.record()
                         : nlohmann::json{{"dir", data.reader.idx_files().dir.string()},
                                          {"normalize", to_string(data.reader.normalization())},
                                          {"images", data.reader.data_path().filename().string()}};
  r["sha256"] = data.sha256;
  return r;
}

// How the instances' region_radius and boundary_distance were measured.
nlohmann::json geometry_record(const GeometryPlan& plan) {
  return {{"arithmetic", "float64"},
          {"gradients", plan.float32_gradients ? "float32" : "float64"},
          {"tangents", plan.dense_tangents ? "dense" : "patches"},
          {"pass_megabytes", plan.pass_megabytes},
          {"space", "the model's input, as it reads it (after --normalize or --mean/--std)"},
          {"region_radius", plan.layers.empty() ? "every ReLU neuron and max-pooling window: x's linear region"
                                                : "the neurons of the ReLU layers in radius_layers only"},
          {"radius_layers", plan.layers.empty() ? nlohmann::json(nullptr) : nlohmann::json(plan.layers)}};
}

// Everything an APD records of how it was made; the one builder of APD
// metadata (docs/apd-json.md).
struct Provenance {
  const ModelSeries& series;
  const JobData& data;
  const Chosen& chosen;
  const std::vector<std::size_t>& layers;
  DataSplit split;
  std::int64_t batch_size;
  int threads;
  const std::optional<GeometryPlan>& geometry;

  [[nodiscard]] nlohmann::json metadata(const ModelJob& job, const std::optional<std::vector<LayerView>>& views) const {
    nlohmann::json m{{"tool", {{"name", "apd-extract"}, {"version", version()}, {"git_sha", git_sha()}}},
                     {"model", job.model->record(layers)},
                     {"checkpoint", job.file.string()},
                     {"run", series.run ? nlohmann::json(series.run->paths.dir.string()) : nlohmann::json(nullptr)},
                     {"epoch", job.epoch > 0 ? nlohmann::json(job.epoch) : nlohmann::json(nullptr)},
                     {"dataset", dataset_record(series.kind, data)},
                     {"selection", chosen.record},
                     {"forward_pass", {{"batch_size", batch_size}, {"threads", threads}}}};
    const OpenRun* run = series.run ? &*series.run : nullptr;
    if (auto corrupted = corruption_record(run, split, chosen.window.own()); !corrupted.is_null()) {
      m["label_corruption"] = std::move(corrupted);
    }
    if (views) m["views"] = views_record(*views);
    if (geometry) m["geometry"] = geometry_record(*geometry);
    return m;
  }
};

void write_apd(const Diagram& d, const std::string& out, const OutputChoice& o) {
  save_diagram(d, out, o.format, o.write);
  if (out != "-") {
    spdlog::info("{}: {} instances, {} errors, unique patterns per layer {}", out, d.instances, d.errors,
                 fmt::join(d.unique_patterns(), "/"));
  }
}

// The data of a run is its own: --normalize may only repeat its normalisation.
void check_normalization(const ModelSeries& series, const DataChoice& d) {
  if (!series.run || !d.normalize || *d.normalize == series.run->info.data.normalize) return;
  throw UsageError(fmt::format("--normalize {}: the run was trained with {}", to_string(*d.normalize),
                               to_string(series.run->info.data.normalize)));
}

// A run's checkpoints are read with the run's thread count unless told
// otherwise: float32 GEMM rounding depends on threads and batching, and so
// the patterns are bit for bit those the run recorded.
int forward_threads(const ModelSeries& series, const Compute& c) {
  return series.run && !c.threads_given ? std::clamp(series.run->info.threads, 1, kMaxThreads) : c.threads;
}

// Builds one file's diagram and writes it, on a thread of its own.
std::future<void> build_and_write(Observed seen, nlohmann::json metadata, const Chosen& chosen, std::string out,
                                  const OutputChoice& output) {
  return std::async(std::launch::async, [&chosen, &output, out = std::move(out), seen = std::move(seen),
                                         metadata = std::move(metadata)]() mutable {
    Stopwatch watch;
    Diagram d = build_diagram(seen.patterns, chosen.truth, seen.predicted, chosen.window.own(), std::move(metadata));
    d.region_radius = std::move(seen.geometry.radius);
    d.boundary_distance = std::move(seen.geometry.boundary);
    write_apd(d, out, output);
    spdlog::debug("{}: APD of {} nodes and {} links built and written in {:.2f} s", out, d.nodes.size(), d.links.size(),
                  watch.lap());
  });
}

}  // namespace

int run_extraction(const ExtractOptions& o) {
  validate(o);
  Stopwatch clock;
  ModelSeries series = plan_models(o.model, o.output.out);
  const int threads = forward_threads(series, o.compute);
  set_thread_count(threads);
  spdlog::debug("{} thread(s)", threads);
  check_normalization(series, o.data);
  if (!o.list_layers) {
    for (const ModelJob& job : series.jobs) refuse_output_in_running_run(job.out);
  }
  load_models(series);
  const JobData data = open_job_data(o.data, series.run ? &*series.run : nullptr);
  if (!o.list_layers) {
    std::vector<std::filesystem::path> inputs{data.reader.data_path(), data.reader.targets_path()};
    for (const ModelJob& job : series.jobs) inputs.push_back(job.file);
    for (const ModelJob& job : series.jobs) refuse_output_over_inputs(job.out, inputs);
  }
  spdlog::debug("opened {} ({} instances of {} values), checked, in {:.2f} s", data.reader.data_path().string(),
                data.reader.count(), data.reader.instance_size(), clock.lap());
  bind_models(series, data.reader);
  if (o.list_layers) {
    print_layers(series.jobs.front());
    return 0;
  }
  const Model& first = *series.jobs.front().model;
  const std::vector<std::size_t> layers = chosen_layers(o.layers, first.relu_widths().size());
  const std::int64_t batch = fitted_batch(first, data.reader, o.compute.batch_size_for(series.kind));
  const Chosen chosen = choose_instances(o.selection, data, batch, first.classes(), true);
  spdlog::debug("selected {} instances in {:.2f} s", chosen.window.own().size(), clock.lap());
  const auto planned =
      planned_views(o.views, layers, {first.architecture(), first.relu_shapes()}, o.selection.shard.has_value());
  std::optional<GeometryPlan> geometry;
  if (o.geometry) {
    geometry =
        GeometryPlan{o.geometry_layers ? layers : std::vector<std::size_t>{}, o.geometry_float32, o.geometry_dense};
    if (o.geometry_memory != 0) geometry->pass_megabytes = o.geometry_memory;
  }
  const Provenance provenance{series, data, chosen, layers, o.data.split, batch, threads, geometry};
  // Each file's diagram is built and written on a second thread while the
  // next checkpoint's forward pass runs (memory: two epochs' patterns); a
  // failed write is reported when the next file is ready, or at the end.
  std::future<void> pending;
  for (const ModelJob& job : series.jobs) {
    const auto& forward = chosen.window.forward;
    Observed seen = run_model(*job.model, forward.size(), read_batches(data.reader, forward, batch),
                              {layers, batch, chosen.window.kept, geometry});
    spdlog::debug("{}: forward pass in {:.2f} s", job.out, clock.lap());
    // Views: after the runner, before the diagram; each epoch chooses its own top:K neurons.
    std::optional<std::vector<LayerView>> views = planned;
    if (views) {
      choose_open_views(*views, seen.patterns);
      seen.patterns = apply_views(seen.patterns, *views);
      spdlog::debug("{}: views applied in {:.2f} s", job.out, clock.lap());
    }
    nlohmann::json metadata = provenance.metadata(job, views);
    if (pending.valid()) pending.get();
    pending = build_and_write(std::move(seen), std::move(metadata), chosen, job.out, o.output);
  }
  if (pending.valid()) pending.get();
  return 0;
}

}  // namespace apd
