// A reader for state_dicts saved by Python's torch.save(model.state_dict(), f)
// and by torch::pickle_save (the same archive format). LibTorch's
// torch::pickle_load cannot read Python's (pytorch/pytorch#100741: it fails
// on the OrderedDict and its _metadata attribute), so this small
// unpickler handles the opcodes torch.save emits (protocols 2-4) and the
// three callables a state_dict needs: collections.OrderedDict,
// torch._utils._rebuild_tensor_v2 and _rebuild_parameter. Tensor storages are
// read from the zip archive with LibTorch's PyTorchStreamReader.
#pragma once

#include <filesystem>

#include "apd/torch/checkpoint.hpp"

namespace apd {

// Throws apd::Error naming the file and what it could not read.
[[nodiscard]] StateDict read_python_state_dict(const std::filesystem::path& path);

}  // namespace apd
