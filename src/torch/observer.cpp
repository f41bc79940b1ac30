#include "apd/torch/observer.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/extraction.hpp"
#include "apd/torch/script_model.hpp"
#include "extract_support.hpp"
#include "model_inputs.hpp"

namespace apd {

namespace {

void validate_choice(const ModelChoice& c) {
  const int sources = int{!c.run.empty()} + int{!c.checkpoint.empty()} + int{!c.model.empty()};
  if (sources != 1) throw UsageError("give one of --run RUNDIR, --checkpoint FILE or --model FILE.pt");
  if (c.model.empty() && (!c.mean.empty() || !c.std.empty() || !c.input_shape.empty())) {
    throw UsageError("--mean/--std/--input-shape apply to --model (TorchScript) only");
  }
  if (!c.run.empty() && c.normalize) throw UsageError("--normalize: a run's preprocessing comes from its run.json");
}

// The options ModelInputs and select_instances read, for a TorchScript model.
ExtractOptions extract_options(const ModelChoice& m, const DataChoice& d) {
  ExtractOptions o;
  o.model = m.model.string();
  o.data = d.data;
  o.targets = d.targets;
  o.input_shape = m.input_shape;
  o.normalize = m.normalize;
  o.mean = m.mean;
  o.std = m.std;
  o.split = d.split;
  o.labels = d.labels;
  o.limit = d.limit;
  o.select = d.select;
  o.seed = d.seed;
  return o;
}

// Keeps store layers `layers` (1-based) of `all`.
PatternStore keep_layers(const PatternStore& all, std::span<const std::size_t> layers) {
  std::vector<std::size_t> widths;
  for (const std::size_t l : layers) widths.push_back(all.width(l - 1));
  PatternStore out(widths);
  out.reserve(all.size());
  for (std::size_t k = 0; k < layers.size(); ++k) {
    for (std::size_t i = 0; i < all.size(); ++i) out.append_row(k, all.row(layers[k] - 1, i));
  }
  return out;
}

nlohmann::json data_record(const std::filesystem::path& data, nlohmann::json selection, std::size_t count) {
  selection["data"] = data.string();
  selection["instances"] = count;
  return selection;
}

}  // namespace

struct Observer::Impl {
  ModelChoice choice;
  std::optional<RunInfo> info;
  StateDict dict;  // the MLP's, until probe() builds it
  std::optional<Mlp> mlp;
  std::unique_ptr<ScriptModel> script;
  bool probed = false;
  MonitorModel model;
  MonitorPreprocessing preprocessing;

  [[nodiscard]] std::int64_t batch_size() const {
    if (choice.batch_size > 0) return choice.batch_size;
    return script ? kModelBatchSize : 1024;
  }

  void load() {
    if (!choice.model.empty()) {
      model.kind = "torchscript";
      model.file = choice.model.string();
      model.architecture = "torchscript";
      script = std::make_unique<ScriptModel>(choice.model);
    } else {
      model.kind = "mlp";
      std::filesystem::path file = choice.checkpoint;
      if (!choice.run.empty()) {
        const RunPaths run{choice.run};
        info = read_run_info(run);
        const int epoch = resolve_epoch(choice.epoch, run, list_checkpoints(run));
        file = run.checkpoint(epoch);
        model.run = choice.run.string();
        model.epoch = epoch;
      }
      model.file = file.string();
      dict = load_state_dict(file);
    }
    model.sha256 = sha256_file(model.file);
  }

  // The data's directory for the MLP, and whether it is the run's own (whose
  // split and digests apply).
  [[nodiscard]] std::pair<std::filesystem::path, bool> idx_dir(const DataChoice& d) const {
    if (d.data && d.data->extension() == ".npy") {
      throw UsageError(fmt::format("--data {}: .npy data goes with --model (TorchScript)", d.data->string()));
    }
    if (!info) return {d.data.value_or("data/mnist"), false};
    if (!d.data) return {info->data.dir, true};
    std::error_code ec;
    return {*d.data, std::filesystem::equivalent(*d.data, info->data.dir, ec)};
  }

  void probe_mlp(const DataChoice& d) {
    const IdxImageFile images(find_dataset(idx_dir(d).first).train_images);
    const auto inputs = static_cast<std::int64_t>(images.image_size());
    const InferredMlp inferred = infer_mlp(dict, model.file, inputs);
    if (info && inferred.shape.hidden != info->model.hidden) {
      throw Error(fmt::format("{}: architecture {} differs from run.json's", model.file, describe(inferred.shape)));
    }
    mlp.emplace(inferred.shape);
    load_into(**mlp, inferred.canonical, model.file);
    dict.clear();
    model.architecture = describe(inferred.shape);
    model.relu_widths.assign(inferred.shape.hidden.begin(), inferred.shape.hidden.end());
    model.classes = static_cast<std::size_t>(inferred.shape.classes);
    const Normalization n = info ? info->data.normalize : choice.normalize.value_or(Normalization::unit);
    preprocessing = {std::string(to_string(n)), {}, {}, {inputs}};
  }

  void probe_script(const DataChoice& d) {
    const ModelInputs inputs(extract_options(choice, d));
    model.classes = static_cast<std::size_t>(script->probe(probe_batch(inputs)));
    for (const auto& l : script->layers()) model.relu_widths.push_back(static_cast<std::size_t>(l.width));
    preprocessing = {std::string(to_string(inputs.normalization())), choice.mean, choice.std, inputs.shape()};
  }

  void check_layers(std::span<const std::size_t> layers) const {
    for (const std::size_t l : layers) {
      if (l == 0 || l > model.relu_widths.size()) {
        throw UsageError(fmt::format("--layers: layer {} does not exist; the model has {} ReLU layer(s)", l,
                                     model.relu_widths.size()));
      }
    }
  }

  Observation observe_mlp(const DataChoice& d, std::span<const std::size_t> layers) {
    const auto [dir, own] = idx_dir(d);
    ExtractOptions o = extract_options(choice, d);
    const std::optional<RunInfo> run_info = own ? info : std::nullopt;
    if (d.split == DataSplit::val && !run_info) {
      throw UsageError(
          fmt::format("--split val is a run's own validation split; {} is not the run's data", dir.string()));
    }
    const SplitData s = open_split(o, run_info, dir);
    const IdxImageFile images(s.images_path);
    if (images.image_size() != static_cast<std::size_t>(preprocessing.input_shape[0])) {
      throw Error(fmt::format("{}: images of {} pixels; the model reads {}", s.images_path.string(),
                              images.image_size(), preprocessing.input_shape[0]));
    }
    if (s.labels.size() != images.count()) {
      throw Error(fmt::format("{}: holds {} labels but {} holds {} images", s.labels_path.string(), s.labels.size(),
                              s.images_path.string(), images.count()));
    }
    const std::vector<std::int64_t> labels(s.labels.begin(), s.labels.end());
    nlohmann::json selection = selection_record(o);
    auto indices = select_instances(o, split_indices(d.split, run_info, images.count()), labels, selection);
    const Normalization n = *from_name(kNormalizationNames, preprocessing.normalize);
    ForwardPass pass = forward_pass(**mlp, images, n, indices, batch_size());
    std::vector<std::int32_t> truth;
    if (d.labelled) {
      for (const auto i : indices) {
        const std::uint8_t label = s.labels[static_cast<std::size_t>(i)];
        if (label >= model.classes) {
          throw Error(fmt::format("{}: label {} of instance {} is outside the model's classes 0..{}",
                                  s.labels_path.string(), label, i, model.classes - 1));
        }
        truth.push_back(label);
      }
    }
    nlohmann::json record = data_record(s.images_path, std::move(selection), indices.size());
    return {keep_layers(pass.patterns, layers), std::move(indices), std::move(truth), std::move(pass.predicted),
            std::move(record)};
  }

  Observation observe_script(const DataChoice& d, std::span<const std::size_t> layers) {
    ExtractOptions o = extract_options(choice, d);
    if (!d.labelled) o.targets.clear();
    const ModelInputs inputs(o);
    if (inputs.shape() != preprocessing.input_shape) {
      throw Error(fmt::format("{}: instances of shape {}; the model was probed with {}", inputs.data_path().string(),
                              fmt::join(inputs.shape(), "x"), fmt::join(preprocessing.input_shape, "x")));
    }
    if (d.labelled && inputs.targets().empty()) {
      throw UsageError(fmt::format("--data {}: needs --targets y.npy (the labels)", inputs.data_path().string()));
    }
    const auto& targets = inputs.targets();
    if (d.labelled) {
      for (std::size_t i = 0; i < targets.size(); ++i) {
        if (targets[i] < 0 || static_cast<std::size_t>(targets[i]) >= model.classes) {
          throw Error(fmt::format("{}: target {} of instance {} is outside the model's classes 0..{}",
                                  inputs.targets_path().string(), targets[i], i, model.classes - 1));
        }
      }
    }
    nlohmann::json selection = selection_record(o);
    if (npy_data(o)) selection["split"] = nullptr;
    std::vector<std::int64_t> pool(inputs.count());
    std::iota(pool.begin(), pool.end(), std::int64_t{0});
    auto indices = select_instances(o, std::move(pool), targets, selection);
    const std::vector<std::size_t> chosen_layers(layers.begin(), layers.end());
    ScriptPass pass = run_model(*script, inputs, indices, chosen_layers, batch_size());
    std::vector<std::int32_t> truth;
    if (d.labelled) {
      for (const auto i : indices) truth.push_back(static_cast<std::int32_t>(targets[static_cast<std::size_t>(i)]));
    }
    nlohmann::json record = data_record(inputs.data_path(), std::move(selection), indices.size());
    return {std::move(pass.patterns), std::move(indices), std::move(truth), std::move(pass.predicted),
            std::move(record)};
  }
};

Observer::Observer(const ModelChoice& choice) : impl_(std::make_unique<Impl>()) {
  validate_choice(choice);
  impl_->choice = choice;
  impl_->load();
}

Observer::~Observer() = default;

void Observer::probe(const DataChoice& data) {
  if (impl_->probed) return;
  if (impl_->script) {
    impl_->probe_script(data);
  } else {
    impl_->probe_mlp(data);
  }
  impl_->probed = true;
}

const MonitorModel& Observer::model() const { return impl_->model; }
const MonitorPreprocessing& Observer::preprocessing() const { return impl_->preprocessing; }

Observation Observer::observe(const DataChoice& data, std::span<const std::size_t> layers) {
  if (!data.labelled && !data.labels.empty()) throw UsageError("--labels applies to the labelled data only");
  probe(data);
  impl_->check_layers(layers);
  if (!std::is_sorted(layers.begin(), layers.end())) throw UsageError("--layers: give layers in ascending order");
  return impl_->script ? impl_->observe_script(data, layers) : impl_->observe_mlp(data, layers);
}

}  // namespace apd
