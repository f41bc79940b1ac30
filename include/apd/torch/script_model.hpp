// Any ReLU network saved from PyTorch with torch.jit.script(m).save(f) or
// torch.jit.trace(m, x).save(f). Layer l of its APD is the l-th ReLU call of
// `forward` in execution order (aten::relu and aten::relu_, however written:
// nn.ReLU, F.relu, torch.relu, in place or not), its pattern the call's
// output > 0 flattened in PyTorch's memory order, as (out > 0).flatten(1).
//
// How: forward's graph, frozen (eval mode; parameters and `self.training`
// become constants), inlined, constant-propagated and cleaned of dead code,
// keeps every ReLU call at top level; right after each call the graph gets
// an `out > 0` (taken at once, so a later in-place op cannot change it), and
// those become extra graph outputs: one forward pass returns the logits and
// the patterns of the layers asked for (only those are compared, so a conv
// net's wide layers cost nothing when --layers leaves them out). A ReLU left
// inside a loop or a branch has no fixed layer.
//
// Loading TorchScript runs the model's code: as trusting as torch.load in
// Python. Load only models you trust.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace apd {

struct ReluLayer {
  std::size_t index = 0;            // 1-based, in call order
  std::string source;               // "lenet.py:23" when the graph has debug info, else ""
  std::vector<std::int64_t> shape;  // the ReLU output's shape per instance (C, H, W for a conv layer)
  std::int64_t width = 0;           // product of `shape`
};

struct ScriptOutput {
  torch::Tensor logits;                 // [N, classes]
  std::vector<torch::Tensor> patterns;  // per ReLU layer: bool [N, width]
};

class ScriptModel {
 public:
  // Throws apd::Error naming the file: not loadable, no ReLU, a ReLU in a
  // loop or branch (with its source line).
  explicit ScriptModel(const std::filesystem::path& path);
  ScriptModel(const ScriptModel&) = delete;
  ScriptModel& operator=(const ScriptModel&) = delete;
  ScriptModel(ScriptModel&&) noexcept;
  ScriptModel& operator=(ScriptModel&&) noexcept;
  ~ScriptModel();

  [[nodiscard]] std::size_t relu_count() const noexcept;
  // The ReLU layers' shapes, found by one forward pass of `probe` ([n, ...]);
  // also checks that the logits are [n, classes]. Returns the class count.
  std::int64_t probe(const torch::Tensor& probe);
  [[nodiscard]] const std::vector<ReluLayer>& layers() const noexcept;
  // Runs `input` [N, ...] and returns the logits and the patterns of
  // `layers` (1-based indices, ascending).
  [[nodiscard]] ScriptOutput forward(const torch::Tensor& input, const std::vector<std::size_t>& layers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd
