// Model checkpoints as PyTorch state_dicts with nn.Sequential keys ("0.weight",
// "0.bias", "2.weight", ...): written with torch::pickle_save so that Python's
// torch.load returns a dict of tensors; read back from our files and from
// Python's torch.save(model.state_dict(), f).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "apd/mlp.hpp"

namespace apd {

using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

[[nodiscard]] StateDict state_dict(const MlpImpl& model);
// Writes atomically (temporary file + rename).
void save_state_dict(const StateDict& dict, const std::filesystem::path& path);
// Throws apd::Error naming the file when it is not a readable state_dict.
[[nodiscard]] StateDict load_state_dict(const std::filesystem::path& path);
// Copies the tensors of `dict` into `model`, checking names and shapes.
void load_into(MlpImpl& model, const StateDict& dict, const std::string& source);

}  // namespace apd
