#include "apd/torch/checkpoint.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/state_dict_file.hpp"

namespace apd {

StateDict state_dict(const MlpImpl& model) {
  StateDict out;
  for (const auto& item : model.named_parameters()) out.emplace_back(item.key(), item.value().detach().clone());
  return out;
}

void save_state_dict(const StateDict& dict, const std::filesystem::path& path) {
  c10::Dict<std::string, at::Tensor> d;
  for (const auto& [name, tensor] : dict) d.insert(name, tensor.contiguous());
  const std::vector<char> bytes = torch::jit::pickle_save(c10::IValue(d));
  write_file_atomically(path, std::string_view(bytes.data(), bytes.size()));
}

namespace {

torch::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::float32: return torch::kFloat32;
    case DType::float64: return torch::kFloat64;
    case DType::float16: return torch::kFloat16;
    case DType::bfloat16: return torch::kBFloat16;
    case DType::int64: return torch::kInt64;
    case DType::int32: return torch::kInt32;
    case DType::int16: return torch::kInt16;
    case DType::int8: return torch::kInt8;
    case DType::uint8: return torch::kUInt8;
    case DType::boolean: return torch::kBool;
  }
  return torch::kFloat32;
}

// A copy of the stored view (the reader has checked it lies in its storage).
torch::Tensor to_tensor(const StoredTensor& t) {
  const auto elements = static_cast<std::int64_t>(t.storage->size() / element_size(t.dtype));
  // from_blob does not write through the pointer; the clone owns its memory.
  auto* data = const_cast<char*>(t.storage->data());  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  const auto storage = torch::from_blob(data, {elements}, torch::TensorOptions().dtype(scalar_type(t.dtype)));
  return storage.as_strided(t.sizes, t.strides, t.offset).clone();
}

}  // namespace

StateDict load_state_dict(const std::filesystem::path& path) {
  StateDict out;
  for (const auto& [name, tensor] : read_state_dict_file(path)) out.emplace_back(name, to_tensor(tensor));
  return out;
}

namespace {

// A Linear layer's tensors, gathered from the state_dict by module name.
struct LinearLayer {
  std::string module;
  torch::Tensor weight, bias;
  std::string weight_key, bias_key;
};

// The Linear layers in the order the dict lists them; any key that is not a
// weight (2-D) or bias (1-D) is an error naming it.
std::vector<LinearLayer> linear_layers(const StateDict& dict, const std::string& source) {
  std::vector<LinearLayer> layers;
  for (const auto& [key, tensor] : dict) {
    const auto dot = key.rfind('.');
    const std::string param = dot == std::string::npos ? key : key.substr(dot + 1);
    const std::string module = dot == std::string::npos ? "" : key.substr(0, dot);
    if (param != "weight" && param != "bias") {
      throw Error(
          fmt::format("{}: key \"{}\" is not a Linear layer's weight or bias "
                      "(apd reads MLPs of Linear and ReLU layers)",
                      source, key));
    }
    auto it = std::find_if(layers.begin(), layers.end(), [&](const LinearLayer& l) { return l.module == module; });
    if (it == layers.end()) it = layers.insert(layers.end(), LinearLayer{module, {}, {}, {}, {}});
    if (param == "weight") {
      if (tensor.dim() != 2) {
        throw Error(
            fmt::format("{}: key \"{}\" has {} dimension(s): not a Linear layer's weight "
                        "(apd reads MLPs of Linear and ReLU layers)",
                        source, key, tensor.dim()));
      }
      it->weight = tensor;
      it->weight_key = key;
    } else {
      if (tensor.dim() != 1) {
        throw Error(fmt::format("{}: key \"{}\" has {} dimensions; a Linear bias has 1", source, key, tensor.dim()));
      }
      it->bias = tensor;
      it->bias_key = key;
    }
  }
  return layers;
}

// Checks that layer k's shapes fit: its bias, and its inputs against the
// data (k = 0) or the previous layer's outputs.
void check_chain(std::vector<LinearLayer>& layers, std::size_t k, const std::string& source, std::int64_t inputs) {
  LinearLayer& l = layers[k];
  if (!l.weight.defined()) throw Error(fmt::format("{}: key \"{}\" has no matching weight", source, l.bias_key));
  const std::int64_t out_size = l.weight.size(0);
  const std::int64_t in_size = l.weight.size(1);
  if (out_size == 0 || in_size == 0) {
    throw Error(fmt::format("{}: key \"{}\" has shape {}x{}: a Linear layer needs at least one input and output",
                            source, l.weight_key, out_size, in_size));
  }
  if (!l.bias.defined()) l.bias = torch::zeros({out_size});  // Linear(bias=False)
  if (l.bias.size(0) != out_size) {
    throw Error(fmt::format("{}: key \"{}\" has {} entries, its weight \"{}\" has {} outputs", source, l.bias_key,
                            l.bias.size(0), l.weight_key, out_size));
  }
  if (k == 0 && inputs > 0 && in_size != inputs) {
    throw Error(fmt::format("{}: key \"{}\" expects {} inputs, the data has {} pixels per image", source, l.weight_key,
                            in_size, inputs));
  }
  if (k > 0 && in_size != layers[k - 1].weight.size(0)) {
    throw Error(
        fmt::format("{}: key \"{}\" takes {} inputs but the previous layer \"{}\" has {} outputs: the "
                    "weights do not chain",
                    source, l.weight_key, in_size, layers[k - 1].weight_key, layers[k - 1].weight.size(0)));
  }
}

}  // namespace

InferredMlp infer_mlp(const StateDict& dict, const std::string& source, std::int64_t inputs) {
  std::vector<LinearLayer> layers = linear_layers(dict, source);
  if (layers.size() < 2) {
    throw Error(
        fmt::format("{}: {} Linear layer(s); an MLP with a hidden layer needs at least 2", source, layers.size()));
  }
  InferredMlp out;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    check_chain(layers, k, source, inputs);
    const LinearLayer& l = layers[k];
    if (k == 0) out.shape.inputs = l.weight.size(1);
    if (k + 1 < layers.size()) {
      out.shape.hidden.push_back(l.weight.size(0));
    } else {
      out.shape.classes = l.weight.size(0);
    }
    const std::string name = std::to_string(sequential_index(k));
    out.canonical.emplace_back(name + ".weight", l.weight.to(torch::kFloat32).contiguous());
    out.canonical.emplace_back(name + ".bias", l.bias.to(torch::kFloat32).contiguous());
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

void save_resume_state(const std::filesystem::path& path, int epoch, const std::vector<torch::Tensor>& momentum) {
  StateDict state;
  state.emplace_back("epoch", torch::tensor(static_cast<std::int64_t>(epoch)));
  for (std::size_t k = 0; k < momentum.size(); ++k) state.emplace_back(fmt::format("momentum.{}", k), momentum[k]);
  save_state_dict(state, path);
}

int read_resume_state(const std::filesystem::path& path, std::vector<torch::Tensor>& momentum) {
  const StateDict state = load_state_dict(path);
  const auto bad = [&](const std::string& why) { return Error(fmt::format("{}: {}", path.string(), why)); };
  if (state.size() != momentum.size() + 1) {
    throw bad(fmt::format("{} tensors, a resume state of this model has {}", state.size(), momentum.size() + 1));
  }
  const auto& [key, epoch] = state[0];
  if (key != "epoch" || epoch.numel() != 1 || epoch.scalar_type() != torch::kInt64) {
    throw bad("its first tensor is not the epoch");
  }
  const std::int64_t done = epoch.item<std::int64_t>();
  if (done < 1 || done > kMaxEpochs) throw bad(fmt::format("epoch {} is outside 1..{}", done, kMaxEpochs));
  for (std::size_t k = 0; k < momentum.size(); ++k) {
    const auto& [name, buffer] = state[k + 1];
    if (name != fmt::format("momentum.{}", k) || buffer.sizes() != momentum[k].sizes()) {
      throw bad(fmt::format("tensor \"{}\" is not momentum buffer {} of shape {}", name, k,
                            fmt::join(momentum[k].sizes(), "x")));
    }
    momentum[k].copy_(buffer);
  }
  return static_cast<int>(done);
}

}  // namespace apd
