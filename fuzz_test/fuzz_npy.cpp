// .npy arrays: the header parsed against the input's own size, then every
// element converted as instances (float) or targets (int64), as the tools
// read them from a file.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "apd/core/error.hpp"
#include "apd/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    const apd::NpyHeader h = apd::parse_npy_header(bytes, size, "fuzz.npy");
    const auto elements = bytes.subspan(h.data_offset);
    if (h.kind == apd::NpyKind::floating || (h.kind == apd::NpyKind::unsigned_int && h.item_size == 1)) {
      // As NpyInstances: an array without instances, or of empty ones, is refused before any buffer.
      if (h.count() == 0 || h.instance_elements() == 0) return 0;
      std::vector<float> out(h.instance_elements());
      for (std::size_t i = 0; i < h.count(); ++i) {
        apd::npy_to_float(h, elements.subspan(i * h.instance_bytes(), h.instance_bytes()), out, "fuzz.npy", i);
      }
    } else {
      (void)apd::npy_to_int64(h, elements, "fuzz.npy");
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
