#include "apd/torch/runner.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "threading.hpp"

namespace apd {

namespace {

std::vector<std::size_t> widths_of(const Model& model, const std::vector<std::size_t>& layers) {
  const std::vector<std::size_t> all = model.relu_widths();
  std::vector<std::size_t> widths;
  for (const std::size_t l : layers) widths.push_back(all[l - 1]);
  return widths;
}

// Appends rows [lo, hi) of the batch's patterns and predictions.
void keep_rows(const ModelOutput& out, std::size_t n, std::pair<std::size_t, std::size_t> rows, Observed& observed) {
  const auto [lo, hi] = rows;
  const OneThread one;
  for (std::size_t k = 0; k < out.patterns.size(); ++k) {
    const torch::Tensor p = out.patterns[k].reshape({static_cast<std::int64_t>(n), -1}).contiguous();
    const std::size_t width = static_cast<std::size_t>(p.numel()) / n;
    const std::span flags(reinterpret_cast<const std::uint8_t*>(p.data_ptr<bool>()), n * width);
    observed.patterns.append_flags(k, flags.subspan(lo * width, (hi - lo) * width), hi - lo);
  }
  const torch::Tensor predicted = out.logits.argmax(1);
  const auto* q = predicted.data_ptr<std::int64_t>();
  for (std::size_t i = lo; i < hi; ++i) observed.predicted.push_back(static_cast<std::int32_t>(q[i]));
}

// The geometry of rows [lo, hi), whose predictions are the last kept ones.
void measure_rows(Model& model, const torch::Tensor& batch, std::pair<std::size_t, std::size_t> rows,
                  const GeometryPlan& plan, Observed& observed) {
  const auto [lo, hi] = rows;
  const std::span<const std::int32_t> predicted(observed.predicted.data() + observed.predicted.size() - (hi - lo),
                                                hi - lo);
  const RegionGeometry g = model.geometry(batch.slice(0, static_cast<std::int64_t>(lo), static_cast<std::int64_t>(hi)),
                                          predicted, plan, static_cast<std::int64_t>(lo));
  if (g.radius.size() != hi - lo || g.boundary.size() != hi - lo) {
    throw Error(fmt::format("--geometry measured {} of {} instances", g.radius.size(), hi - lo));
  }
  observed.geometry.radius.insert(observed.geometry.radius.end(), g.radius.begin(), g.radius.end());
  observed.geometry.boundary.insert(observed.geometry.boundary.end(), g.boundary.begin(), g.boundary.end());
}

}  // namespace

Observed run_model(Model& model, std::size_t rows, const BatchSource& batches, const RunPlan& plan,
                   const LogitsSink& sink) {
  Observed observed{PatternStore(widths_of(model, plan.layers)), {}, {}};
  const auto [first, last] = plan.kept.in_batch(0, rows);
  observed.patterns.reserve(last - first);
  observed.predicted.reserve(last - first);
  const auto batch_size = static_cast<std::size_t>(plan.batch_size);
  torch::InferenceMode guard;
  for (std::size_t begin = 0; begin < rows; begin += batch_size) {
    const std::size_t n = std::min(rows - begin, batch_size);
    const torch::Tensor batch = batches(begin, n);
    const ModelOutput out = model.forward(batch, plan.layers);
    if (out.logits.dim() != 2 || out.logits.size(0) != static_cast<std::int64_t>(n)) {
      throw Error(
          fmt::format("forward returned logits of shape {} for {} instances", fmt::join(out.logits.sizes(), "x"), n));
    }
    const auto kept = plan.kept.in_batch(begin, n);
    keep_rows(out, n, kept, observed);
    if (plan.geometry && kept.second > kept.first) measure_rows(model, batch, kept, *plan.geometry, observed);
    if (sink) sink(begin, out.logits);
  }
  return observed;
}

BatchSource read_batches(const InstanceReader& data, std::span<const std::int64_t> indices, std::int64_t batch_size) {
  // No batch holds more rows than there are: two wide instances never
  // allocate a default batch of 1024.
  std::vector<std::int64_t> sizes{
      std::max<std::int64_t>(1, std::min<std::int64_t>(batch_size, static_cast<std::int64_t>(indices.size())))};
  sizes.insert(sizes.end(), data.shape().begin(), data.shape().end());
  // One buffer for every batch, allocated as LibTorch allocates (aligned).
  auto buffer = torch::empty(sizes, torch::kFloat32);
  return [&data, indices, buffer](std::size_t begin, std::size_t count) {
    const auto n = static_cast<std::int64_t>(count);
    torch::Tensor batch = buffer.slice(0, 0, n);
    data.read(indices.subspan(begin, count),
              std::span(batch.data_ptr<float>(), static_cast<std::size_t>(batch.numel())));
    return batch;
  };
}

BatchSource tensor_batches(const torch::Tensor& inputs) {
  return [inputs](std::size_t begin, std::size_t count) {
    return inputs.slice(0, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(begin + count));
  };
}

std::int64_t fitted_batch_size(const Model& model, const InstanceReader& data, std::int64_t requested) {
  std::int64_t values = 2 * static_cast<std::int64_t>(data.instance_size());
  for (const std::size_t w : model.relu_widths()) values += 3 * static_cast<std::int64_t>(w);
  const std::int64_t bytes = std::max<std::int64_t>(1, values * static_cast<std::int64_t>(sizeof(float)));
  return std::clamp<std::int64_t>(kMaxBatchBytes / bytes, 1, requested);
}

std::int64_t fitted_batch(const Model& model, const InstanceReader& data, std::int64_t requested) {
  const std::int64_t batch = fitted_batch_size(model, data, requested);
  if (batch < requested) {
    spdlog::info("batches of {} instance{} instead of {}: a batch holds at most {} MB of inputs and activations", batch,
                 batch == 1 ? "" : "s", requested, kMaxBatchBytes >> 20);
  }
  return batch;
}

torch::Tensor probe_batch(const InstanceReader& data) {
  const std::size_t n = std::min<std::size_t>(2, data.count());
  std::vector<std::int64_t> indices(n);
  for (std::size_t i = 0; i < n; ++i) indices[i] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> sizes{static_cast<std::int64_t>(n)};
  sizes.insert(sizes.end(), data.shape().begin(), data.shape().end());
  torch::Tensor batch = torch::empty(sizes, torch::kFloat32);
  data.read(indices, std::span(batch.data_ptr<float>(), static_cast<std::size_t>(batch.numel())));
  return batch;
}

}  // namespace apd
