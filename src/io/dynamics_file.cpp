#include "apd/io/dynamics_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

namespace {

constexpr char kDynamicsMagic[8] = {'A', 'P', 'D', 'D', 'Y', 'N', '1', '\n'};
// More training instances than any dataset a run reads (IDX counts are 32-bit).
constexpr std::uint64_t kMaxInstances = std::numeric_limits<std::uint32_t>::max();

std::string header_bytes(std::size_t instances) {
  std::string h(kDynamicsMagic, sizeof kDynamicsMagic);
  for (int b = 0; b < 8; ++b) h.push_back(static_cast<char>((std::uint64_t{instances} >> (8 * b)) & 0xFFU));
  return h;
}

Error file_error(const std::filesystem::path& path, const std::string& what) {
  return Error(fmt::format("{}: {}", path.string(), what));
}

Error system_error(const std::filesystem::path& path, const char* doing) {
  return file_error(path, fmt::format("cannot {}: {}", doing, std::strerror(errno)));
}

// A row's unused high bits must be 0: anything else is not our file.
bool padding_clear(std::span<const std::uint8_t> row, std::size_t instances) {
  const std::size_t used = instances % 8;
  return used == 0 || row.empty() || (row.back() >> used) == 0;
}

}  // namespace

DynamicsWriter DynamicsWriter::create(const std::filesystem::path& path, std::size_t instances) {
  write_file_atomically(path, header_bytes(instances));
  return reopen(path, instances, 0);
}

DynamicsWriter DynamicsWriter::reopen(const std::filesystem::path& path, std::size_t instances, std::size_t epochs) {
  const CorrectnessHistory kept = read_dynamics(path, instances, epochs);  // validates what is kept
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw system_error(path, "open it for writing");
  DynamicsWriter writer(path, fd, instances, epochs);
  const auto size = static_cast<off_t>(kDynamicsHeaderBytes + epochs * kept.row_bytes());
  if (::ftruncate(fd, size) != 0 || ::fdatasync(fd) != 0) throw system_error(path, "cut it to its complete epochs");
  return writer;
}

DynamicsWriter::DynamicsWriter(DynamicsWriter&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      instances_(other.instances_),
      epochs_(other.epochs_) {}

DynamicsWriter& DynamicsWriter::operator=(DynamicsWriter&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    instances_ = other.instances_;
    epochs_ = other.epochs_;
  }
  return *this;
}

DynamicsWriter::~DynamicsWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void DynamicsWriter::append(std::span<const std::uint8_t> row) {
  const std::size_t bytes = CorrectnessHistory::row_bytes(instances_);
  if (row.size() != bytes) throw file_error(path_, fmt::format("a row of {} bytes, expected {}", row.size(), bytes));
  std::size_t done = 0;
  const std::size_t at = kDynamicsHeaderBytes + epochs_ * bytes;
  while (done < bytes) {
    const ssize_t n = ::pwrite(fd_, row.data() + done, bytes - done, static_cast<off_t>(at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw system_error(path_, "write an epoch's row");
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) throw system_error(path_, "sync an epoch's row");
  ++epochs_;
}

CorrectnessHistory parse_dynamics(std::span<const std::uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kDynamicsHeaderBytes || std::memcmp(bytes.data(), kDynamicsMagic, sizeof kDynamicsMagic) != 0) {
    throw Error(fmt::format("{}: not an apd dynamics file (expected the header \"APDDYN1\")", name));
  }
  std::uint64_t instances = 0;
  for (int b = 7; b >= 0; --b) instances = (instances << 8) | bytes[8 + static_cast<std::size_t>(b)];
  if (instances == 0 || instances > kMaxInstances) {
    throw Error(fmt::format("{}: {} instances, outside 1..{}", name, instances, kMaxInstances));
  }
  CorrectnessHistory history(static_cast<std::size_t>(instances));
  const std::size_t row = history.row_bytes();
  const std::size_t rows = (bytes.size() - kDynamicsHeaderBytes) / row;
  for (std::size_t e = 0; e < rows; ++e) {
    const auto r = bytes.subspan(kDynamicsHeaderBytes + e * row, row);
    if (!padding_clear(r, history.instances())) {
      throw Error(fmt::format("{}: epoch {}: bits set past the last instance", name, e + 1));
    }
    history.append_row(r);
  }
  return history;
}

CorrectnessHistory read_dynamics(const std::filesystem::path& path, std::size_t instances, std::size_t epochs) {
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(open_regular_stream(path), &std::fclose);
  // Never more than the file holds, whatever run.json and metrics.jsonl claim.
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) throw file_error(path, fmt::format("cannot read its size: {}", ec.message()));
  const std::size_t wanted = static_cast<std::size_t>(std::min<std::uintmax_t>(
      size, kDynamicsHeaderBytes + std::uintmax_t{epochs} * CorrectnessHistory::row_bytes(instances)));
  std::vector<std::uint8_t> bytes(wanted);
  bytes.resize(std::fread(bytes.data(), 1, wanted, in.get()));
  if (std::ferror(in.get()) != 0) throw system_error(path, "read it");
  CorrectnessHistory history = parse_dynamics(bytes, path.string());
  if (history.instances() != instances) {
    throw file_error(path,
                     fmt::format("records {} training instances, the run has {}", history.instances(), instances));
  }
  if (history.epochs() < epochs) {
    throw file_error(path, fmt::format("holds {} complete epochs, the run completed {}", history.epochs(), epochs));
  }
  return history;
}

}  // namespace apd
