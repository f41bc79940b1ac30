// Helpers shared by the tests: scratch directories and tiny file writers.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

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

// IDX image file bytes: `count` images of rows x cols, pixel value = f(i).
inline std::vector<std::uint8_t> idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols) {
  std::vector<std::uint8_t> out;
  append_be32(out, 0x00000803);
  append_be32(out, count);
  append_be32(out, rows);
  append_be32(out, cols);
  for (std::size_t i = 0; i < std::size_t{count} * rows * cols; ++i) out.push_back(static_cast<std::uint8_t>(i * 7));
  return out;
}

inline std::vector<std::uint8_t> idx_labels(const std::vector<std::uint8_t>& labels) {
  std::vector<std::uint8_t> out;
  append_be32(out, 0x00000801);
  append_be32(out, static_cast<std::uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

inline std::filesystem::path mnist_dir() {
  if (const char* env = std::getenv("APD_MNIST_DIR")) return env;
  return std::filesystem::path(APD_SOURCE_DIR) / "data" / "mnist";
}

}  // namespace apd::test
