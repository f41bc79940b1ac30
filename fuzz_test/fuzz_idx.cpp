// IDX images and labels, plain or gzip: the first byte picks the reader, the
// rest is the file.
#include <cstddef>
#include <cstdint>
#include <span>

#include "apd/core/error.hpp"
#include "apd/io/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::span<const std::uint8_t> bytes(data + 1, size - 1);
  try {
    const std::vector<std::uint8_t> plain = apd::maybe_gunzip(bytes, "fuzz");
    if (data[0] % 2 == 0) {
      (void)apd::parse_idx_images(plain, "fuzz");
    } else {
      (void)apd::parse_idx_labels(plain, "fuzz");
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
