// --geometry for a TorchScript model: its frozen forward graph run node by
// node on linearised values (linearised.hpp). The ops it follows: ReLU,
// 2-D max-pooling, Conv2d, Linear (linear, addmm, mm, matmul by a constant),
// eval-mode batch normalisation, average and adaptive average pooling, sums
// and means over non-batch dimensions, reshapes that keep the batch
// dimension (flatten, view, reshape, squeeze, unsqueeze), permutations,
// slicing, padding, sums and differences (residual connections),
// concatenation, products and quotients by constants, dropout in eval mode,
// and softmax or log-softmax as the last op (the decision is the logits').
// Any other op on a value that depends on the input is refused, by name and
// source line, before the first instance is measured.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <torch/types.h>

#include "apd/torch/geometry.hpp"

namespace torch::jit {
struct Graph;
struct Node;
}  // namespace torch::jit

namespace apd {

using SourceOf = std::function<std::string(const torch::jit::Node*)>;

class GraphGeometry {
 public:
  // `graph`: forward, frozen, inlined and folded (ScriptModel's), copied;
  // `relus`: its ReLU calls; `where`: a node's source line ("" if unknown);
  // `name`: the model's file, for messages. Throws apd::Error naming the
  // first op it cannot follow.
  GraphGeometry(torch::jit::Graph& graph, std::size_t relus, SourceOf where, std::string name);
  GraphGeometry(const GraphGeometry&) = delete;
  GraphGeometry& operator=(const GraphGeometry&) = delete;
  ~GraphGeometry();

  // `input` [N, ...] as the model reads it, `predicted` its N predictions,
  // `phase` its first row's place in the runner's batch (linearised.hpp's
  // over_chunks), `estimate` the most values any layer holds per instance
  // (sizes the first call's one-instance pass that sizes the others).
  [[nodiscard]] RegionGeometry measure(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                       const GeometryPlan& plan, std::int64_t phase, std::int64_t estimate);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd
