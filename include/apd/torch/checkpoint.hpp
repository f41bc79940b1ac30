// Model checkpoints as PyTorch state_dicts with nn.Sequential keys ("0.weight",
// "0.bias", "2.weight", ...): written with torch::pickle_save so that Python's
// torch.load returns a dict of tensors; read back from our files and from
// Python's torch.save(model.state_dict(), f).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "apd/torch/mlp.hpp"

namespace apd {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

[[nodiscard]] StateDict state_dict(const MlpImpl& model);
// Writes atomically (temporary file + rename).
void save_state_dict(const StateDict& dict, const std::filesystem::path& path);
// Throws apd::Error naming the file when it is not a readable state_dict.
[[nodiscard]] StateDict load_state_dict(const std::filesystem::path& path);
// Copies the tensors of `dict` into `model`, checking names and shapes.
void load_into(MlpImpl& model, const StateDict& dict, const std::string& source);

// checkpoints/resume.pt, what apd-train --resume needs: the last complete
// epoch ("epoch", int64), then one SGD momentum buffer per parameter
// ("momentum.K", of the parameter's shape), as a state_dict file.
void save_resume_state(const std::filesystem::path& path, int epoch, const std::vector<torch::Tensor>& momentum);
// Reads it into `momentum` (whose tensors give the shapes) and returns the
// epoch; anything else is an apd::Error naming the file.
[[nodiscard]] int read_resume_state(const std::filesystem::path& path, std::vector<torch::Tensor>& momentum);

// An MLP read off a state_dict of Linear layers in registration order, under
// any prefix ("0.weight", or "relus.1.weight" after a Flatten at index 0):
// the shape inferred from the weight shapes and the tensors renamed to ours.
struct InferredMlp {
  MlpShape shape;
  StateDict canonical;  // "0.weight", "0.bias", "2.weight", ...
};

// Throws apd::Error naming the offending key: keys that are not a Linear
// layer's weight or bias, weights that do not chain, fewer than two layers.
// `inputs` > 0 also checks the first layer's input size against the data's.
[[nodiscard]] InferredMlp infer_mlp(const StateDict& dict, const std::string& source, std::int64_t inputs);

}  // namespace apd
