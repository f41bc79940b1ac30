// The ops --geometry follows through a TorchScript graph, and how each acts
// on a value that depends on the input (graph_geometry.hpp); the small
// helpers that read a node's arguments.
#pragma once

#include <torch/csrc/jit/ir/ir.h>

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace apd::geometry_ops {

namespace jit = torch::jit;

// How each supported op acts on a value that depends on the input.
enum class Rule {
  relu,
  max_pool,
  conv,
  linear,
  addmm,
  matmul,
  batch_norm,
  same_op,   // linear, acting on dimensions >= 1 only: the op itself applied to the tangents
  reshape,   // keeps the batch dimension: tangents reshaped to the result's shape
  identity,  // a copy, a cast to another float type, dropout in eval mode
  add,
  sub,
  rsub,
  scale,  // mul or div by something that does not depend on the input
  neg,
  cat,
  list,
  last_softmax,
};

// The rule of each op kind ("aten::conv2d"); ops not in it are refused.
[[nodiscard]] const std::unordered_map<std::string, Rule>& rules();
// A tensor, or a list of tensors: what carries tangents.
[[nodiscard]] bool is_data(const c10::TypePtr& type);
// An int[] argument as two values (one given: both), `fallback` if empty or None.
[[nodiscard]] std::array<std::int64_t, 2> pair_of(const c10::IValue& v, std::int64_t fallback);
[[nodiscard]] inline std::int64_t normalised_dim(std::int64_t dim, std::int64_t dims) {
  return dim < 0 ? dim + dims : dim;
}
// Runs the interpreter's own list and tuple instructions (which have no
// operator) on `stack`; false for any other node.
[[nodiscard]] bool construct(const jit::Node* node, jit::Stack& stack);

}  // namespace apd::geometry_ops
