#include "apd/torch/observer.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/epoch_list.hpp"
#include "apd/torch/runner.hpp"
#include "job.hpp"

namespace apd {

namespace {

void validate_choice(const ModelChoice& m) {
  validate(m);
  if (may_name_several(m.epochs)) throw UsageError("--epoch: one epoch of the run");
}

}  // namespace

struct Observer::Impl {
  ModelSeries series;
  Compute compute;
  bool probed = false;
  MonitorModel model;
  MonitorPreprocessing preprocessing;

  [[nodiscard]] Model& net() const { return *series.jobs.front().model; }
  [[nodiscard]] bool script() const { return series.kind == ModelChoice::Kind::script; }
  [[nodiscard]] const OpenRun* run() const { return series.run ? &*series.run : nullptr; }

  void load(const ModelChoice& choice) {
    series = plan_models(choice, "");
    load_models(series);
    const ModelJob& job = series.jobs.front();
    model.kind = script() ? "torchscript" : "mlp";
    model.file = job.file.string();
    if (series.run) {
      model.run = choice.run.string();
      model.epoch = job.epoch;
    }
    model.sha256 = sha256_file(job.file);
  }

  // Whether `d` is the run's own data (its split and digests apply).
  [[nodiscard]] const OpenRun* own_run(const DataChoice& d) const {
    if (!series.run) return nullptr;
    if (!d.data) return run();
    std::error_code ec;
    return std::filesystem::equivalent(*d.data, series.run->info.data.dir, ec) ? run() : nullptr;
  }

  // `d` with the model's preprocessing (after probe()).
  [[nodiscard]] DataChoice preprocessed(DataChoice d) const {
    d.normalize = from_name(kNormalizationNames, preprocessing.normalize);
    if (script()) {
      d.mean = preprocessing.mean;
      d.std = preprocessing.std;
      d.input_shape = preprocessing.input_shape;
    }
    return d;
  }

  [[nodiscard]] JobData open(const DataChoice& d) const {
    if (!script() && d.npy()) {
      throw UsageError(fmt::format("--data {}: .npy data goes with --model (TorchScript)", d.data->string()));
    }
    const OpenRun* own = own_run(d);
    if (d.split == DataSplit::val && !own) {
      throw UsageError(fmt::format("--split val is a run's own validation split; {} is not the run's data",
                                   d.data.value_or(kDefaultDataDir).string()));
    }
    return open_job_data(d, own);
  }

  void probe(const DataChoice& d) {
    DataChoice first = d;
    if (series.run) first.normalize = series.run->info.data.normalize;
    const JobData data = open(first);
    net().bind(data.reader);
    model.architecture = net().architecture();
    model.relu_widths = net().relu_widths();
    model.classes = static_cast<std::size_t>(net().classes());
    const std::string normalize(to_string(data.reader.normalization()));
    if (script()) {
      preprocessing = {normalize, d.mean, d.std, data.reader.shape()};
    } else {
      preprocessing = {normalize, {}, {}, {static_cast<std::int64_t>(data.reader.instance_size())}};
    }
  }

  // The instances must be what the model was probed with.
  void check_shape(const InstanceReader& reader) const {
    if (script() && reader.shape() != preprocessing.input_shape) {
      throw Error(fmt::format("{}: instances of shape {}; the model was probed with {}", reader.data_path().string(),
                              fmt::join(reader.shape(), "x"), fmt::join(preprocessing.input_shape, "x")));
    }
    if (!script() && static_cast<std::int64_t>(reader.instance_size()) != preprocessing.input_shape[0]) {
      throw Error(fmt::format("{}: images of {} pixels; the model reads {}", reader.data_path().string(),
                              reader.instance_size(), preprocessing.input_shape[0]));
    }
  }

  void check_layers(std::span<const std::size_t> layers) const {
    for (const std::size_t l : layers) {
      if (l == 0) throw UsageError("--layers: ReLU layers are numbered from 1");
      if (l > model.relu_widths.size()) {
        throw UsageError(fmt::format("--layers: layer {} does not exist; the model has {} ReLU layer(s)", l,
                                     model.relu_widths.size()));
      }
    }
    if (!std::is_sorted(layers.begin(), layers.end())) throw UsageError("--layers: give layers in ascending order");
  }

  Observation observe(DataChoice d, const Selection& s, bool labelled, std::span<const std::size_t> layers) {
    if (!labelled) d.targets.clear();
    const JobData data = open(preprocessed(d));
    check_shape(data.reader);
    if (labelled && data.reader.targets().empty()) {
      throw UsageError(fmt::format("--data {}: needs --targets y.npy (the labels)", data.reader.data_path().string()));
    }
    const std::int64_t batch = fitted_batch(net(), data.reader, compute.batch_size_for(series.kind));
    Chosen chosen = choose_instances(s, data, batch, net().classes(), labelled);
    const std::vector<std::size_t> observed(layers.begin(), layers.end());
    const auto& indices = chosen.window.forward;
    std::vector<LogitScores> scores;
    scores.reserve(indices.size());
    const LogitsSink sink = [&scores](std::size_t, const torch::Tensor& logits) {
      const torch::Tensor z = logits.to(torch::kFloat32).contiguous();
      const auto classes = static_cast<std::size_t>(z.size(1));
      const float* p = z.data_ptr<float>();
      for (std::int64_t i = 0; i < z.size(0); ++i) {
        scores.push_back(logit_scores({p + static_cast<std::size_t>(i) * classes, classes}));
      }
    };
    Observed seen = run_model(net(), indices.size(), read_batches(data.reader, indices, batch),
                              {observed, batch, {}, std::nullopt}, sink);
    chosen.record["data"] = data.reader.data_path().string();
    chosen.record["instances"] = indices.size();
    return {std::move(seen.patterns),  indices,           std::move(chosen.truth),
            std::move(seen.predicted), std::move(scores), std::move(chosen.record)};
  }
};

Observer::Observer(const ModelChoice& choice, const Compute& compute) : impl_(std::make_unique<Impl>()) {
  validate_choice(choice);
  validate(compute);
  impl_->compute = compute;
  impl_->load(choice);
}

Observer::~Observer() = default;

void Observer::probe(const DataChoice& data) {
  if (impl_->probed) return;
  impl_->probe(data);
  impl_->probed = true;
}

const MonitorModel& Observer::model() const { return impl_->model; }
const MonitorPreprocessing& Observer::preprocessing() const { return impl_->preprocessing; }
ViewedModel Observer::viewed_model() const { return {impl_->model.architecture, impl_->net().relu_shapes()}; }

Observation Observer::observe(const DataChoice& data, const Selection& selection, bool labelled,
                              std::span<const std::size_t> layers) {
  if (!labelled && !selection.labels.empty()) throw UsageError("--labels applies to the labelled data only");
  probe(data);
  impl_->check_layers(layers);
  return impl_->observe(data, selection, labelled, layers);
}

}  // namespace apd
