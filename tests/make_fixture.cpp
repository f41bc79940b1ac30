// Writes a small synthetic IDX dataset with the four MNIST file names:
// 8x8 images of 3 classes, class c bright in rows 2c..2c+1 over low noise, so
// a small MLP separates them. Usage: apd_make_fixture DIR [TRAIN_COUNT]
// [--corrupt-labels] (drops the last label byte, for error-path tests).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apd/random.hpp"

namespace {

void be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

void write(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_split(const std::filesystem::path& dir, const std::string& prefix, std::uint32_t n, std::uint64_t seed,
                 bool corrupt) {
  apd::Rng rng(seed);
  std::vector<std::uint8_t> images, labels;
  be32(images, 0x00000803);
  be32(images, n);
  be32(images, 8);
  be32(images, 8);
  be32(labels, 0x00000801);
  be32(labels, n);
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::uint32_t>(rng.below(3));
    labels.push_back(static_cast<std::uint8_t>(c));
    for (std::uint32_t r = 0; r < 8; ++r) {
      for (std::uint32_t col = 0; col < 8; ++col) {
        const bool bright = r / 2 == c;
        images.push_back(static_cast<std::uint8_t>(bright ? 180 + rng.below(76) : rng.below(60)));
      }
    }
  }
  if (corrupt) labels.pop_back();
  write(dir / (prefix + "-images-idx3-ubyte"), images);
  write(dir / (prefix + "-labels-idx1-ubyte"), labels);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: apd_make_fixture DIR [TRAIN_COUNT] [--corrupt-labels]\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const auto n = argc > 2 ? static_cast<std::uint32_t>(std::stoul(argv[2])) : 600U;
  const bool corrupt = argc > 3 && std::string(argv[3]) == "--corrupt-labels";
  std::filesystem::create_directories(dir);
  write_split(dir, "train", n, 1, corrupt);
  write_split(dir, "t10k", 90, 2, false);
  return 0;
}
