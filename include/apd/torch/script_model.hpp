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

#include <torch/types.h>

#include "apd/torch/model.hpp"

namespace apd {

struct ReluLayer {
  std::size_t index = 0;            // 1-based, in call order
  std::string source;               // "lenet.py:23" when the graph has debug info, else ""
  std::vector<std::int64_t> shape;  // the ReLU output's shape per instance (C, H, W for a conv layer)
  std::int64_t width = 0;           // product of `shape`
};

class ScriptModel final : public Model {
 public:
  // Throws apd::Error naming the file: not loadable, no ReLU, a ReLU in a
  // loop or branch (with its source line).
  explicit ScriptModel(const std::filesystem::path& path);
  ScriptModel(const ScriptModel&) = delete;
  ScriptModel& operator=(const ScriptModel&) = delete;
  ~ScriptModel() override;

  [[nodiscard]] std::size_t relu_count() const noexcept;
  // The ReLU layers' shapes, found by one forward pass of `probe` ([n, ...]);
  // also checks that the logits are [n, classes]. Returns the class count.
  std::int64_t probe(const torch::Tensor& probe);
  [[nodiscard]] const std::vector<ReluLayer>& layers() const noexcept;
  [[nodiscard]] const std::filesystem::path& file() const noexcept;

  // Model: bind() probes with the data's first two instances.
  void bind(const InstanceReader& data) override;
  [[nodiscard]] std::vector<std::size_t> relu_widths() const override;
  [[nodiscard]] std::vector<std::vector<std::int64_t>> relu_shapes() const override;
  [[nodiscard]] std::int64_t classes() const override;
  [[nodiscard]] std::string architecture() const override { return "torchscript"; }
  // The file, its SHA-256, every ReLU layer (index, source, shape, width),
  // the observed `layers` and the classes.
  [[nodiscard]] nlohmann::json record(const std::vector<std::size_t>& layers) const override;
  [[nodiscard]] ModelOutput forward(const torch::Tensor& input, const std::vector<std::size_t>& layers) override;
  // The forward graph linearised node by node (graph_geometry.hpp).
  [[nodiscard]] RegionGeometry geometry(const torch::Tensor& input, std::span<const std::int32_t> predicted,
                                        const GeometryPlan& plan, std::int64_t phase) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd
