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
#include "threading.hpp"

namespace apd {

namespace {

// The instances a model reads and their targets: the chosen split's IDX files
// (default data/mnist) or an .npy pair, preprocessed as the options say.
class ModelInputs {
 public:
  explicit ModelInputs(const ExtractOptions& o) {
    if (npy_data(o)) {
      open_npy(o);
    } else {
      open_idx(o);
    }
    if (!targets_path_.empty() && targets_.size() != count()) {
      throw Error(fmt::format("{}: holds {} targets but {} holds {} instances", targets_path_.string(), targets_.size(),
                              data_.string(), count()));
    }
    if (!o.input_shape.empty()) set_shape(o.input_shape);
    set_channels(o);
  }

  [[nodiscard]] std::size_t count() const { return idx_ ? idx_->count() : npy_->count(); }
  [[nodiscard]] std::size_t instance_size() const { return idx_ ? idx_->image_size() : npy_->instance_size(); }
  [[nodiscard]] const std::vector<std::int64_t>& targets() const { return targets_; }
  [[nodiscard]] const std::filesystem::path& targets_path() const { return targets_path_; }
  [[nodiscard]] const std::vector<std::int64_t>& shape() const { return shape_; }

  // Instances `indices`, preprocessed, one after another in `out`: value x
  // of channel c becomes (normalize(x) - mean[c]) / std[c], in float.
  void read(std::span<const std::int64_t> indices, std::span<float> out) const {
    const std::size_t size = instance_size();
    const std::size_t per_channel = size / mean_.size();
    const auto channel = [&](std::size_t k) { return mean_.size() == 1 ? 0 : (k % size) / per_channel; };
    if (idx_) {  // bytes: one table per channel, computed with the same expression
      raw_.resize(indices.size() * size);
      idx_->read(indices, raw_);
      for (std::size_t k = 0; k < raw_.size(); ++k) out[k] = tables_[channel(k)][raw_[k]];
      return;
    }
    npy_->read(indices, out);
    const NpyHeader& h = npy_->header();
    if (h.kind == NpyKind::unsigned_int && h.item_size == 1) {  // uint8 values, read as floats 0..255
      for (std::size_t k = 0; k < indices.size() * size; ++k) {
        out[k] = tables_[channel(k)][static_cast<std::uint8_t>(out[k])];
      }
      return;
    }
    for (std::size_t k = 0; k < indices.size() * size; ++k) out[k] = preprocess(out[k], channel(k));
  }

  // The dataset's record in the APD's metadata.
  [[nodiscard]] nlohmann::json record() const {
    return {{"data", data_.string()}, {"targets", targets_path_.string()},
            {"input_shape", shape_},  {"normalize", to_string(normalization_)},
            {"mean", mean_},          {"std", std_}};
  }

 private:
  void open_idx(const ExtractOptions& o) {
    const DatasetFiles files = find_dataset(o.data.value_or("data/mnist"));
    const bool test = o.split == DataSplit::test;
    data_ = test ? files.test_images : files.train_images;
    targets_path_ = test ? files.test_labels : files.train_labels;
    idx_ = std::make_unique<IdxImageFile>(data_);
    const auto labels = read_idx_labels(targets_path_);
    targets_.assign(labels.begin(), labels.end());
    shape_ = {static_cast<std::int64_t>(idx_->rows()), static_cast<std::int64_t>(idx_->cols())};
    normalization_ = o.normalize.value_or(Normalization::unit);
  }

  void open_npy(const ExtractOptions& o) {
    data_ = *o.data;
    npy_ = std::make_unique<NpyInstances>(data_);
    const NpyHeader& h = npy_->header();
    shape_.assign(h.shape.begin() + 1, h.shape.end());
    if (shape_.empty()) shape_ = {1};
    // uint8 images are scaled like IDX ones; float data is taken as it is.
    normalization_ = o.normalize.value_or(h.kind == NpyKind::floating ? Normalization::none : Normalization::unit);
    if (!o.targets.empty()) {
      targets_path_ = o.targets;
      targets_ = read_npy_targets(targets_path_);
    }
  }

  void set_shape(const std::vector<std::int64_t>& shape) {
    std::int64_t product = 1;
    for (const auto d : shape) product *= d;
    if (product != static_cast<std::int64_t>(instance_size())) {
      throw UsageError(fmt::format("--input-shape {} holds {} values; each instance of {} holds {}",
                                   fmt::join(shape, ","), product, data_.string(), instance_size()));
    }
    shape_ = shape;
  }

  // --mean/--std: one pair for all values, or one per channel (the first axis).
  [[nodiscard]] float preprocess(float x, std::size_t c) const {
    return (normalize_value(x, normalization_) - mean_[c]) / std_[c];
  }

  void set_channels(const ExtractOptions& o) {
    set_mean_std(o);
    for (std::size_t c = 0; c < mean_.size(); ++c) {
      auto& table = tables_.emplace_back();
      for (std::size_t b = 0; b < table.size(); ++b) table[b] = preprocess(static_cast<float>(b), c);
    }
  }

  void set_mean_std(const ExtractOptions& o) {
    if (o.mean.empty()) {
      mean_ = {0.0f};
      std_ = {1.0f};
      return;
    }
    const auto channels = static_cast<std::size_t>(shape_[0]);
    if (o.mean.size() != 1 && o.mean.size() != channels) {
      throw UsageError(
          fmt::format("--mean/--std: {} values, but instances of shape {} have {} channel(s) (the "
                      "first axis; set it with --input-shape)",
                      o.mean.size(), fmt::join(shape_, "x"), channels));
    }
    for (std::size_t c = 0; c < o.mean.size(); ++c) {
      mean_.push_back(static_cast<float>(o.mean[c]));
      std_.push_back(static_cast<float>(o.std[c]));
    }
  }

  std::filesystem::path data_, targets_path_;
  std::unique_ptr<IdxImageFile> idx_;
  std::unique_ptr<NpyInstances> npy_;
  std::vector<std::int64_t> targets_;
  std::vector<std::int64_t> shape_;
  Normalization normalization_ = Normalization::unit;
  std::vector<float> mean_, std_;
  std::vector<std::array<float, 256>> tables_;  // per channel, for byte inputs
  mutable std::vector<std::uint8_t> raw_;
};

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

// A batch of instances [n, shape...] (the first two, normalised) to learn
// the layers' shapes from.
torch::Tensor probe_batch(const ModelInputs& inputs) {
  const std::size_t n = std::min<std::size_t>(2, inputs.count());
  std::vector<std::int64_t> indices(n);
  for (std::size_t i = 0; i < n; ++i) indices[i] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> sizes{static_cast<std::int64_t>(n)};
  sizes.insert(sizes.end(), inputs.shape().begin(), inputs.shape().end());
  torch::Tensor batch = torch::empty(sizes, torch::kFloat32);
  inputs.read(indices, std::span(batch.data_ptr<float>(), static_cast<std::size_t>(batch.numel())));
  return batch;
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

struct ScriptPass {
  PatternStore patterns;
  std::vector<std::int32_t> predicted;
};

// One batch at a time: memory is the pattern store and one batch's activations.
ScriptPass run_model(ScriptModel& model, const ModelInputs& inputs, std::span<const std::int64_t> chosen,
                     const std::vector<std::size_t>& layers, std::int64_t batch_size) {
  std::vector<std::size_t> widths;
  for (const std::size_t l : layers) widths.push_back(static_cast<std::size_t>(model.layers()[l - 1].width));
  ScriptPass pass{PatternStore(widths), {}};
  pass.patterns.reserve(chosen.size());
  pass.predicted.reserve(chosen.size());
  const std::size_t size = inputs.instance_size();
  std::vector<float> buffer(static_cast<std::size_t>(batch_size) * size);
  std::vector<std::int64_t> sizes{0};
  sizes.insert(sizes.end(), inputs.shape().begin(), inputs.shape().end());
  torch::InferenceMode guard;
  for (std::size_t begin = 0; begin < chosen.size(); begin += static_cast<std::size_t>(batch_size)) {
    const std::size_t n = std::min(chosen.size() - begin, static_cast<std::size_t>(batch_size));
    inputs.read(chosen.subspan(begin, n), std::span(buffer).first(n * size));
    sizes[0] = static_cast<std::int64_t>(n);
    const ScriptOutput out = model.forward(torch::from_blob(buffer.data(), sizes, torch::kFloat32), layers);
    if (out.logits.dim() != 2 || out.logits.size(0) != static_cast<std::int64_t>(n)) {
      throw Error(
          fmt::format("forward returned logits of shape {} for {} instances", fmt::join(out.logits.sizes(), "x"), n));
    }
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const torch::Tensor& p = out.patterns[k];
      pass.patterns.append_flags(
          k, {reinterpret_cast<const std::uint8_t*>(p.data_ptr<bool>()), static_cast<std::size_t>(p.numel())}, n);
    }
    const torch::Tensor predicted = out.logits.argmax(1);
    const auto* q = predicted.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < n; ++i) pass.predicted.push_back(static_cast<std::int32_t>(q[i]));
  }
  return pass;
}

nlohmann::json script_metadata(const ScriptJob& job, const std::vector<std::size_t>& layers, std::int64_t classes,
                               const ModelInputs& inputs, const nlohmann::json& selection) {
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
          {"selection", selection}};
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
  const auto chosen = select_instances(o, std::move(pool), inputs.targets(), selection);
  std::vector<std::int32_t> truth;
  truth.reserve(chosen.size());
  for (const auto i : chosen) truth.push_back(static_cast<std::int32_t>(inputs.targets()[static_cast<std::size_t>(i)]));
  spdlog::debug("selected {} instances in {:.2f} s", chosen.size(), clock.lap());

  for (ScriptJob& job : jobs) {
    const ScriptPass pass = run_model(*job.model, inputs, chosen, layers, o.batch_size);
    spdlog::debug("{}: forward pass in {:.2f} s", job.out, clock.lap());
    const Diagram d = build_diagram(pass.patterns, truth, pass.predicted, chosen,
                                    script_metadata(job, layers, classes, inputs, selection));
    write_apd(d, job.out, o);
    spdlog::debug("{}: APD of {} nodes and {} links written in {:.2f} s", job.out, d.nodes.size(), d.links.size(),
                  clock.lap());
  }
  return 0;
}

}  // namespace apd
