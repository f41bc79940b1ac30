// The one model runner: a Model over N instances in batches, under
// torch::InferenceMode, keeping the packed patterns of the layers asked for
// and the argmax predictions of the kept rows (memory: the pattern store
// plus one batch's activations, whatever N is). apd-extract, apd-monitor
// and apd-train's per-epoch tracking and validation all run through it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <torch/types.h>

#include "apd/core/pattern_store.hpp"
#include "apd/core/selection.hpp"
#include "apd/io/instances.hpp"
#include "apd/torch/model.hpp"

namespace apd {

struct Observed {
  PatternStore patterns;                // the layers asked for, in that order
  std::vector<std::int32_t> predicted;  // argmax of the logits (first maximum on ties)
  RegionGeometry geometry;              // of the kept rows, when the plan asks for it
};

struct RunPlan {
  std::vector<std::size_t> layers;  // 1-based ReLU layers, ascending; empty: predictions only
  std::int64_t batch_size = 1024;
  KeptRows kept;                         // the rows whose patterns and predictions are kept
  std::optional<GeometryPlan> geometry;  // measure the kept rows' linear regions (geometry.hpp)
};

// The inputs of rows [begin, begin + count), as the model reads them.
using BatchSource = std::function<torch::Tensor(std::size_t begin, std::size_t count)>;
// Sees each batch's logits (e.g. for a loss), rows [begin, begin + N).
using LogitsSink = std::function<void(std::size_t begin, const torch::Tensor& logits)>;

[[nodiscard]] Observed run_model(Model& model, std::size_t rows, const BatchSource& batches, const RunPlan& plan,
                                 const LogitsSink& sink = nullptr);

// Batches of data[indices], read and preprocessed one batch at a time into
// one reused buffer of `batch_size` instances.
[[nodiscard]] BatchSource read_batches(const InstanceReader& data, std::span<const std::int64_t> indices,
                                       std::int64_t batch_size);
// Batches that are views of the rows of `inputs` (no copies).
[[nodiscard]] BatchSource tensor_batches(const torch::Tensor& inputs);

// The rows per batch for `requested` (--batch-size): fewer when a batch of
// that many would hold more than kMaxBatchBytes of inputs and activations
// (estimated per instance as two copies of the input, as read and as
// converted, plus three floats per ReLU neuron: pre-activation, output, and
// what the next op makes of it), never
// fewer than 1. Depends on the model and the instance shape only, so every
// shard of a selection batches alike.
inline constexpr std::int64_t kMaxBatchBytes = std::int64_t{256} << 20;
[[nodiscard]] std::int64_t fitted_batch_size(const Model& model, const InstanceReader& data, std::int64_t requested);
// The same, saying so (spdlog info) when it is fewer than requested.
[[nodiscard]] std::int64_t fitted_batch(const Model& model, const InstanceReader& data, std::int64_t requested);

// The first two instances of `data` (or the one), to learn a model's layers from.
[[nodiscard]] torch::Tensor probe_batch(const InstanceReader& data);

}  // namespace apd
