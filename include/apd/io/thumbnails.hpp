// The pictures behind an APD's instances, for apd-report's galleries: the
// dataset file an APD was extracted from (its provenance names it and its
// SHA-256), opened and checked, and each selected instance's image encoded
// as a PNG (libpng) exactly as stored:
//   - 8-bit grayscale for one channel, 8-bit RGB for three; instances of
//     shape HxW, 1xHxW / 3xHxW (channels first), HxWx1 / HxWx3 (channels
//     last), or a flat square (784 values: 28x28);
//   - uint8 data (IDX, uint8 .npy) as is; float data (float32, float64)
//     whose every value in the file lies in [0, 1] as round(255 x), else
//     min-max scaled over the whole file: round(255 (x - min) / (max - min)).
// Documented in docs/report.md ("Galleries").
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace apd {

// Where an APD's instances are stored, from its graph.dataset record.
struct DatasetSource {
  std::filesystem::path file;             // the IDX images file or X.npy
  std::string sha256;                     // as recorded; empty in files of apd before 2026-12-07
  std::vector<std::int64_t> input_shape;  // the model's view of an instance (TorchScript records), else empty
};

// The source of `graph` (an APD's metadata); `apd` names the file in
// messages. With `moved` (--images PATH): PATH itself when it is a file,
// else PATH / the recorded file name. Throws apd::Error when the record
// names no dataset.
[[nodiscard]] DatasetSource dataset_source(const nlohmann::json& graph, const std::string& apd,
                                           const std::optional<std::filesystem::path>& moved);

// An image's geometry: height x width x channels (1 or 3).
struct ImageShape {
  std::size_t height = 0, width = 0, channels = 0;
  bool channels_last = false;  // HxWxC in the file (else CxHxW)
  [[nodiscard]] std::size_t values() const noexcept { return height * width * channels; }
};

// The image geometry of instances of `shape` (see above), or none.
[[nodiscard]] std::optional<ImageShape> image_shape(std::span<const std::int64_t> shape);

// PNG bytes of `pixels` (height x width x channels, interleaved, 8 bit).
[[nodiscard]] std::string encode_png(std::span<const std::uint8_t> pixels, std::size_t width, std::size_t height,
                                     std::size_t channels);

class DatasetImages {
 public:
  // Opens `source.file` and hashes it whole (finding the value range of
  // float data in the same pass); throws apd::Error naming the file when it
  // is missing, unreadable, not IDX images or .npy, or its SHA-256 differs
  // from the recorded one.
  explicit DatasetImages(const DatasetSource& source);
  DatasetImages(const DatasetImages&) = delete;
  DatasetImages& operator=(const DatasetImages&) = delete;
  ~DatasetImages();

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  [[nodiscard]] const std::string& sha256() const noexcept { return sha256_; }
  [[nodiscard]] std::size_t count() const noexcept;
  // None when the instances are not images (no thumbnails then).
  [[nodiscard]] const std::optional<ImageShape>& shape() const noexcept { return shape_; }
  // How values became bytes: "bytes", "255 x" or "min-max over the file [min, max]".
  [[nodiscard]] const std::string& scaling() const noexcept { return scaling_; }

  // The PNG of instance `index` (< count(); shape() must hold).
  [[nodiscard]] std::string png(std::int64_t index) const;

 private:
  struct Files;
  void scan(const std::string& expected);
  [[nodiscard]] std::uint8_t to_byte(float x) const noexcept;

  std::filesystem::path file_;
  std::unique_ptr<Files> files_;
  std::string sha256_;
  std::optional<ImageShape> shape_;
  std::string scaling_ = "bytes";
  bool scaled_ = false, unit_ = true;  // values other than bytes: scaled by their range
  float min_ = 0, max_ = 0;
};

}  // namespace apd
