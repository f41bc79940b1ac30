// RUN/dynamics.bin: which training instances were classified as their
// training label at the end of each epoch (a CorrectnessHistory), appended
// one row per epoch by apd-train and read by apd-stats --table forgetting.
// Layout: the 8 bytes "APDDYN1\n", the instance count n as a little-endian
// uint64, then one row of ceil(n/8) bytes per epoch, epoch 1 first: bit
// i % 8 (least significant first) of byte i / 8 is training instance i, in
// the order of the run's training split (ascending source index).
// numpy: np.unpackbits(np.fromfile(f, np.uint8, offset=16).reshape(-1, (n + 7) // 8),
//                      axis=1, bitorder="little")[:, :n]
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "apd/core/dynamics.hpp"

namespace apd {

inline constexpr std::size_t kDynamicsHeaderBytes = 16;

// Appends rows to a run's dynamics.bin. A row is written (and synced) before
// the epoch's metrics, so after a crash the file may hold rows past the
// run's last complete epoch: readers take the rows of the epochs the run
// completed, and a resumed run cuts the file back to them.
class DynamicsWriter {
 public:
  // A new file holding only the header, written atomically.
  static DynamicsWriter create(const std::filesystem::path& path, std::size_t instances);
  // An existing file of `instances` instances holding at least `epochs`
  // rows; rows after them are dropped. Throws apd::Error naming the file.
  static DynamicsWriter reopen(const std::filesystem::path& path, std::size_t instances, std::size_t epochs);

  DynamicsWriter(DynamicsWriter&& other) noexcept;
  DynamicsWriter& operator=(DynamicsWriter&& other) noexcept;
  DynamicsWriter(const DynamicsWriter&) = delete;
  DynamicsWriter& operator=(const DynamicsWriter&) = delete;
  ~DynamicsWriter();

  // Writes the row of epoch `epochs() + 1` and syncs it.
  void append(std::span<const std::uint8_t> row);
  [[nodiscard]] std::size_t epochs() const noexcept { return epochs_; }

 private:
  DynamicsWriter(std::filesystem::path path, int fd, std::size_t instances, std::size_t epochs)
      : path_(std::move(path)), fd_(fd), instances_(instances), epochs_(epochs) {}

  std::filesystem::path path_;
  int fd_ = -1;
  std::size_t instances_ = 0;
  std::size_t epochs_ = 0;
};

// The header and every complete row of a dynamics file in memory (a partial
// last row, left by a crash, is not a row). `name` names it in errors.
[[nodiscard]] CorrectnessHistory parse_dynamics(std::span<const std::uint8_t> bytes, const std::string& name);
// The first `epochs` rows of a file that must describe `instances` instances.
[[nodiscard]] CorrectnessHistory read_dynamics(const std::filesystem::path& path, std::size_t instances,
                                               std::size_t epochs);

}  // namespace apd
