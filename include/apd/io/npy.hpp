// NumPy .npy arrays, as numpy.save writes them (format versions 1.0, 2.0 and
// 3.0): a header that is a Python dict literal ({'descr': '<f4',
// 'fortran_order': False, 'shape': (60000, 28, 28), }), then the elements in
// C order. apd reads instances (images: uint8, float32, float64) and targets
// (any integer dtype). Fortran order, object, string, structured or other
// dtypes, a header or data size that does not match the file, and non-finite
// values are errors naming the file; nothing reads past the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace apd {

enum class NpyKind : std::uint8_t { boolean, unsigned_int, signed_int, floating };

struct NpyHeader {
  std::string descr;  // as written, e.g. "<f4"
  NpyKind kind = NpyKind::floating;
  std::size_t item_size = 0;
  bool big_endian = false;
  std::vector<std::size_t> shape;  // C order; () is a scalar
  std::size_t data_offset = 0;     // bytes before the first element

  // Instances are the first axis; each holds the product of the others.
  [[nodiscard]] std::size_t count() const noexcept { return shape.empty() ? 1 : shape[0]; }
  [[nodiscard]] std::size_t instance_elements() const noexcept;
  [[nodiscard]] std::size_t instance_bytes() const noexcept { return instance_elements() * item_size; }
  [[nodiscard]] std::size_t data_bytes() const noexcept { return count() * instance_bytes(); }
  [[nodiscard]] std::string shape_text() const;  // "60000x28x28"
};

// Parses and checks the header at the start of `bytes` (at least the whole
// header; the data need not follow) of a file of `file_size` bytes: the
// elements must fill the rest of the file exactly.
[[nodiscard]] NpyHeader parse_npy_header(std::span<const std::uint8_t> bytes, std::uint64_t file_size,
                                         const std::string& name);

// Converts `count` elements of `header`'s dtype at `raw` to float (uint8 as
// its value 0..255); throws naming `name` and `instance` on a non-finite
// value. Only for uint8, float32 and float64 arrays.
void npy_to_float(const NpyHeader& header, std::span<const std::uint8_t> raw, std::span<float> out,
                  const std::string& name, std::size_t instance);
// Converts integer elements to int64 (uint64 values above int64's range are
// an error naming `name`).
[[nodiscard]] std::vector<std::int64_t> npy_to_int64(const NpyHeader& header, std::span<const std::uint8_t> raw,
                                                     const std::string& name);

// An .npy file of instances, read on demand by index with pread: the header
// and the file size are checked at open, memory does not grow with the file.
class NpyInstances {
 public:
  explicit NpyInstances(const std::filesystem::path& path);
  NpyInstances(const NpyInstances&) = delete;
  NpyInstances& operator=(const NpyInstances&) = delete;
  ~NpyInstances();

  [[nodiscard]] const NpyHeader& header() const noexcept { return header_; }
  [[nodiscard]] std::size_t count() const noexcept { return header_.count(); }
  [[nodiscard]] std::size_t instance_size() const noexcept { return header_.instance_elements(); }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Instances `indices` (each < count()) as floats, one after another.
  void read(std::span<const std::int64_t> indices, std::span<float> out) const;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  NpyHeader header_;
};

// A whole .npy file of integer targets, shape [N].
// With `expected`, a file whose header declares another count is refused
// before its data is read ("holds N targets but DATA holds M instances").
[[nodiscard]] std::vector<std::int64_t> read_npy_targets(const std::filesystem::path& path,
                                                         std::optional<std::uint64_t> expected = std::nullopt,
                                                         const std::string& data_name = "");

}  // namespace apd
