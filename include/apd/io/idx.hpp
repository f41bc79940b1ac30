// Reader for the IDX format of MNIST and Fashion-MNIST: image files (magic
// 0x00000803: count x rows x cols unsigned bytes) and label files (0x00000801),
// plain or gzip-compressed (detected by content). Every failure throws
// apd::Error naming the file and the problem; nothing reads past its buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace apd {

struct IdxImages {
  std::size_t count = 0;
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::uint8_t> pixels;  // count * rows * cols, image-major, row-major

  [[nodiscard]] std::size_t image_size() const noexcept { return rows * cols; }
  [[nodiscard]] std::span<const std::uint8_t> image(std::size_t i) const {
    return {pixels.data() + i * image_size(), image_size()};
  }
};

// Parses IDX bytes that are already decompressed; `name` is used in messages.
[[nodiscard]] IdxImages parse_idx_images(std::span<const std::uint8_t> bytes, const std::string& name);
[[nodiscard]] std::vector<std::uint8_t> parse_idx_labels(std::span<const std::uint8_t> bytes, const std::string& name);

// Reads a file's bytes, inflating it when it starts with the gzip magic.
[[nodiscard]] std::vector<std::uint8_t> read_maybe_gzipped(const std::filesystem::path& path);
// The same for bytes in memory: gzip data (by its magic) inflated, anything
// else as it is. Stops with an error once the output exceeds the size its
// IDX header declares.
[[nodiscard]] std::vector<std::uint8_t> maybe_gunzip(std::span<const std::uint8_t> raw, const std::string& name);

[[nodiscard]] IdxImages read_idx_images(const std::filesystem::path& path);
[[nodiscard]] std::vector<std::uint8_t> read_idx_labels(const std::filesystem::path& path);

// An IDX image file read on demand: the header is validated at open (and the
// file size against it), then images are read by index with pread, so memory
// does not grow with the file. Gzip files cannot be read at an offset: they
// are inflated into memory once.
class IdxImageFile {
 public:
  explicit IdxImageFile(const std::filesystem::path& path);
  IdxImageFile(const IdxImageFile&) = delete;
  IdxImageFile& operator=(const IdxImageFile&) = delete;
  ~IdxImageFile();

  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] std::size_t rows() const noexcept { return rows_; }
  [[nodiscard]] std::size_t cols() const noexcept { return cols_; }
  [[nodiscard]] std::size_t image_size() const noexcept { return rows_ * cols_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Copies images `indices` (each < count()) into `out`, one after another.
  void read(std::span<const std::int64_t> indices, std::span<std::uint8_t> out) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  std::vector<std::uint8_t> inflated_;  // gzip files only (header removed)
  std::size_t count_ = 0, rows_ = 0, cols_ = 0;
};

struct LabeledImages {
  IdxImages images;
  std::vector<std::uint8_t> labels;
};

// Reads an image file and its label file and checks that their counts agree.
[[nodiscard]] LabeledImages read_labeled_images(const std::filesystem::path& images,
                                                const std::filesystem::path& labels);

}  // namespace apd
