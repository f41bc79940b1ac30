#include "apd/checkpoint.hpp"

#include <fstream>

#include <fmt/format.h>

#include "apd/atomic_file.hpp"
#include "apd/error.hpp"

namespace apd {

StateDict state_dict(const MlpImpl& model) {
  StateDict out;
  for (const auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value().detach().clone());
  return out;
}

void save_state_dict(const StateDict& dict, const std::filesystem::path& path) {
  c10::Dict<std::string, at::Tensor> d;
  for (const auto& [name, tensor] : dict) d.insert(name, tensor.contiguous());
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  write_file_atomically(path, std::string_view(bytes.data(), bytes.size()));
}

StateDict load_state_dict(const std::filesystem::path& path) {
  const std::string text = read_text_file(path);
  const std::vector<char> bytes(text.begin(), text.end());
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw Error(fmt::format("{}: not a readable PyTorch state_dict ({})", path.string(), e.what_without_backtrace()));
  }
  if (!value.isGenericDict()) throw Error(fmt::format("{}: holds a {}, not a state_dict", path.string(), value.tagKind()));
  StateDict out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString() || !item.value().isTensor()) {
      throw Error(fmt::format("{}: a state_dict maps names to tensors; found a {} -> {} entry", path.string(),
                              item.key().tagKind(), item.value().tagKind()));
    }
    out.emplace_back(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

void load_into(MlpImpl& model, const StateDict& dict, const std::string& source) {
  auto params = model.named_parameters();
  if (dict.size() != params.size()) {
    throw Error(fmt::format("{}: {} tensors, the {} model has {}", source, dict.size(), describe(model.shape()),
                            params.size()));
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : dict) {
    torch::Tensor* target = params.find(name);
    if (target == nullptr) throw Error(fmt::format("{}: unexpected key \"{}\"", source, name));
    if (target->sizes() != tensor.sizes()) {
      throw Error(fmt::format("{}: \"{}\" has shape {}, the model expects {}", source, name,
                              fmt::join(tensor.sizes(), "x"), fmt::join(target->sizes(), "x")));
    }
    target->copy_(tensor.to(torch::kFloat32));
  }
}

}  // namespace apd
