// The galleries' pictures (apd-report): a dataset file opened, hashed and
// range-scanned by DatasetImages, then its first and last instance encoded
// as PNG, as apd-report does for the instances an APD names. The first byte
// picks the file type (even: IDX images, odd: .npy); the rest is the file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "apd/core/error.hpp"
#include "apd/io/thumbnails.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool npy = (data[0] & 1U) != 0;
  static const std::string stem =
      (std::filesystem::temp_directory_path() / ("apd-fuzz-thumbnails-" + std::to_string(::getpid()))).string();
  const std::filesystem::path file = stem + (npy ? ".npy" : "-images");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    const apd::DatasetImages images(apd::DatasetSource{file, {}, {}});
    if (images.shape() && images.count() > 0) {
      (void)images.png(0);
      (void)images.png(static_cast<std::int64_t>(images.count() - 1));
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
