// Writes a small synthetic IDX dataset with the four MNIST file names:
// SIDE x SIDE images (8 by default) of 3 classes, class c bright in the c-th
// quarter of the rows over low noise, so a small MLP separates them.
// Usage: apd_make_fixture DIR [TRAIN_COUNT] [--corrupt-labels] [--side N]
// (--corrupt-labels drops the last label byte, for error-path tests).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apd/core/random.hpp"

namespace {

void be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
}

void write(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_split(const std::filesystem::path& dir, const std::string& prefix, std::uint32_t n, std::uint64_t seed,
                 bool corrupt, std::uint32_t side) {
  apd::Rng rng(seed);
  std::vector<std::uint8_t> images, labels;
  be32(images, 0x00000803);
  be32(images, n);
  be32(images, side);
  be32(images, side);
  be32(labels, 0x00000801);
  be32(labels, n);
  images.reserve(16 + std::size_t{n} * side * side);
  for (std::uint32_t i = 0; i < n; ++i) {
    const auto c = static_cast<std::uint32_t>(rng.below(3));
    labels.push_back(static_cast<std::uint8_t>(c));
    for (std::uint32_t r = 0; r < side; ++r) {
      for (std::uint32_t col = 0; col < side; ++col) {
        const bool bright = r * 4 / side == c;
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
  std::uint32_t n = 600;
  std::uint32_t side = 8;
  bool corrupt = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--corrupt-labels") {
      corrupt = true;
    } else if (arg == "--side" && i + 1 < argc) {
      side = static_cast<std::uint32_t>(std::stoul(argv[++i]));
    } else {
      n = static_cast<std::uint32_t>(std::stoul(arg));
    }
  }
  std::filesystem::create_directories(dir);
  write_split(dir, "train", n, 1, corrupt, side);
  write_split(dir, "t10k", 90, 2, false, side);
  return 0;
}
