// Helpers shared by the tests: scratch directories and tiny file writers.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "apd/core/random.hpp"

namespace apd::test {

// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    std::random_device rd;
    path_ = std::filesystem::path(APD_BINARY_DIR) / "test-scratch" / (name + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void append_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// IDX file bytes: the magic, the dimensions, then the data.
inline std::vector<std::uint8_t> idx_file(std::uint32_t magic, std::initializer_list<std::uint32_t> dims,
                                          const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out;
  out.reserve(4 * (dims.size() + 1) + data.size());
  append_be32(out, magic);
  for (const std::uint32_t d : dims) append_be32(out, d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// IDX image file bytes: `count` images of rows x cols, pixel value = f(i).
inline std::vector<std::uint8_t> idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  std::vector<std::uint8_t> pixels(std::size_t{count} * rows * cols);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7);
  return idx_file(0x00000803, {count, rows, cols}, pixels);
}

inline std::vector<std::uint8_t> idx_labels(const std::vector<std::uint8_t>& labels) {
  return idx_file(0x00000801, {static_cast<std::uint32_t>(labels.size())}, labels);
}

// A synthetic dataset with the four MNIST file names: side x side images of
// 3 classes, class c bright in the c-th quarter of the rows over low noise,
// so a small MLP separates them. `corrupt_labels` drops the last train label.
inline void write_separable_dataset(const std::filesystem::path& dir, std::uint32_t train_count, std::uint32_t side = 8,
                                    bool corrupt_labels = false) {
  std::filesystem::create_directories(dir);
  auto split = [&](const std::string& prefix, std::uint32_t n, std::uint64_t seed, bool corrupt) {
    apd::Rng rng(seed);
    std::vector<std::uint8_t> pixels, labels;
    pixels.reserve(std::size_t{n} * side * side);
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto c = static_cast<std::uint32_t>(rng.below(3));
      labels.push_back(static_cast<std::uint8_t>(c));
      for (std::uint32_t r = 0; r < side; ++r) {
        for (std::uint32_t col = 0; col < side; ++col) {
          const bool bright = r * 4 / side == c;
          pixels.push_back(static_cast<std::uint8_t>(bright ? 180 + rng.below(76) : rng.below(60)));
        }
      }
    }
    write_bytes(dir / (prefix + "-images-idx3-ubyte"), idx_file(0x00000803, {n, side, side}, pixels));
    auto label_file = idx_labels(labels);
    if (corrupt) label_file.pop_back();
    write_bytes(dir / (prefix + "-labels-idx1-ubyte"), label_file);
  };
  split("train", train_count, 1, corrupt_labels);
  split("t10k", 90, 2, false);
}

inline std::filesystem::path mnist_dir() {
  if (const char* env = std::getenv("APD_MNIST_DIR")) return env;
  return std::filesystem::path(APD_SOURCE_DIR) / "data" / "mnist";
}

}  // namespace apd::test
