// PyTorch state_dict files: the first byte picks the input. Even: the rest is
// a whole checkpoint (zip archive, then its pickle). Odd: the rest is a
// data.pkl, read against an archive whose records "data/0" .. "data/9" hold
// 0, 24, ..., 216 bytes, so that the pickle's own checks (views, types,
// nesting) are reached without a zip around it. Every tensor's furthest
// element is read, so that a view the reader let past its storage shows.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "apd/core/error.hpp"
#include "apd/io/state_dict_file.hpp"

namespace {

std::shared_ptr<const std::string> fake_record(const std::string& record) {
  if (record.size() != 6 || record.compare(0, 5, "data/") != 0 || record[5] < '0' || record[5] > '9') return nullptr;
  return std::make_shared<const std::string>(static_cast<std::size_t>(record[5] - '0') * 24, '\x7f');
}

void touch(const apd::StoredStateDict& dict) {
  volatile char sink = 0;
  for (const auto& [name, t] : dict) {
    std::int64_t last = t.offset;
    bool empty = false;
    for (std::size_t d = 0; d < t.sizes.size(); ++d) {
      empty = empty || t.sizes[d] == 0;
      if (t.sizes[d] > 0) last += (t.sizes[d] - 1) * t.strides[d];
    }
    const auto bytes = static_cast<std::int64_t>(apd::element_size(t.dtype));
    if (!empty) sink = (*t.storage)[static_cast<std::size_t>(last * bytes + bytes - 1)];
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      touch(apd::read_state_dict_archive(rest, "checkpoint.pt"));
    } else {
      touch(apd::read_state_dict_pickle(rest, fake_record, "checkpoint.pt"));
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
