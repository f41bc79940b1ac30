// PyTorch state_dict files, read without LibTorch: the zip archive that
// Python's torch.save(model.state_dict(), f) and torch::pickle_save write
// (records read with libzip), and its data.pkl read by a small unpickler that
// knows the opcodes torch.save emits (protocols 2-4) and the callables a
// state_dict needs (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// _rebuild_parameter). Not torch::pickle_load: it cannot read Python's
// state_dicts (pytorch/pytorch#100741) and, in 1.13, reads past the end of
// its buffer on a truncated archive.
//
// Every input may come from a stranger: every size, index and nesting depth
// is checked before it is used, and every failure is an apd::Error naming the
// file. apd::torch turns the tensors into torch::Tensor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace apd {

enum class DType : std::uint8_t { float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, boolean };

[[nodiscard]] std::size_t element_size(DType dtype);

// A tensor as the file stores it: a strided view (in elements) of a storage
// record, checked to lie inside it. Views of one storage share its bytes.
struct StoredTensor {
  DType dtype = DType::float32;
  std::vector<std::int64_t> sizes;
  std::vector<std::int64_t> strides;
  std::int64_t offset = 0;
  std::shared_ptr<const std::string> storage;
};

using StoredStateDict = std::vector<std::pair<std::string, StoredTensor>>;

// The archive's records by name ("data/0"); null when there is no such record.
using RecordReader = std::function<std::shared_ptr<const std::string>(const std::string& record)>;

// A state_dict file on disk.
[[nodiscard]] StoredStateDict read_state_dict_file(const std::filesystem::path& path);
// The same from the file's bytes in memory; `name` names it in errors.
[[nodiscard]] StoredStateDict read_state_dict_archive(std::string_view bytes, const std::string& name);
// The pickle alone, its tensor storages read through `records`.
[[nodiscard]] StoredStateDict read_state_dict_pickle(std::string_view pickle, const RecordReader& records,
                                                     const std::string& name);

}  // namespace apd
