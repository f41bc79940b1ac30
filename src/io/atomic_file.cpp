#include "apd/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

std::string errno_text() { return std::strerror(errno); }

// The temporary files alive in this process, as C strings the signal handler
// can read: a slot is free (0), being filled (1) or holds a path (2).
constexpr std::size_t kSlots = 64;
struct TempSlot {
  std::atomic<int> state{0};
  char path[PATH_MAX] = {};
};
TempSlot g_temps[kSlots];

int register_temporary(const std::filesystem::path& path) {
  const std::string& text = path.native();
  if (text.size() >= PATH_MAX) return -1;
  for (std::size_t k = 0; k < kSlots; ++k) {
    int expected = 0;
    if (g_temps[k].state.compare_exchange_strong(expected, 1)) {
      std::memcpy(g_temps[k].path, text.c_str(), text.size() + 1);
      g_temps[k].state.store(2);
      return static_cast<int>(k);
    }
  }
  return -1;  // more than kSlots files at once: this one is not removed on a signal
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_temps[slot].state.store(0);
}

extern "C" void remove_temporaries_and_reraise(int sig) {
  for (auto& slot : g_temps) {
    if (slot.state.load() == 2) ::unlink(slot.path);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// ".NAME.PID.RANDOM.tmp" beside the target (RANDOM: 64 bits from the
// system's entropy source, so another user cannot guess it); a long NAME is
// shortened (and hashed) so that the name stays within the 255-byte limit.
std::filesystem::path temporary_name(const std::filesystem::path& target) {
  std::string name = target.filename().string();
  if (name.size() > 200) name = fmt::format("{}~{:016x}", name.substr(0, 180), std::hash<std::string>{}(name));
  std::random_device entropy;
  const std::uint64_t r = (std::uint64_t{entropy()} << 32) ^ entropy();
  return target.parent_path() / fmt::format(".{}.{}.{:016x}.tmp", name, static_cast<long>(::getpid()), r);
}

// Creates a new temporary file for `target`, exclusively: never through a
// symlink or into a file (or FIFO) that is already there; the mode is
// 0666 less the umask, as fopen gives. Sets `temp`; nullptr on failure.
std::FILE* create_temporary(const std::filesystem::path& target, std::filesystem::path& temp) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    temp = temporary_name(target);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) {
      std::FILE* file = ::fdopen(fd, "wb");
      if (file == nullptr) {
        ::close(fd);
        ::unlink(temp.c_str());
      }
      return file;
    }
    if (errno != EEXIST) return nullptr;
  }
  return nullptr;
}

}  // namespace

bool is_temporary_name(std::string_view name) noexcept { return name.starts_with('.') && name.ends_with(".tmp"); }

void remove_temporaries_on_signals() {
  struct sigaction sa {};
  sa.sa_handler = remove_temporaries_and_reraise;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{}: is a directory, not a file to write", target_.string()));
    direct_ = true;  // a device or FIFO: write to it, never rename over it
    file_ = std::fopen(target_.c_str(), "wb");
  } else {
    file_ = create_temporary(target_, temp_);
    if (file_ != nullptr) slot_ = register_temporary(temp_);
  }
  if (file_ == nullptr) throw Error(fmt::format("{}: cannot create file: {}", target_.string(), errno_text()));
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_ && !direct_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
  unregister_temporary(slot_);
}

void AtomicFile::write(std::string_view bytes) {
  if (file_ == nullptr) throw Error(fmt::format("{}: write after commit", target_.string()));
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw Error(fmt::format("{}: write failed: {}", target_.string(), errno_text()));
  }
}

void AtomicFile::commit() {
  if (file_ == nullptr) throw Error(fmt::format("{}: committed twice", target_.string()));
  bool ok = std::fflush(file_) == 0 && (direct_ || ::fsync(::fileno(file_)) == 0);
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok) throw Error(fmt::format("{}: write failed: {}", target_.string(), errno_text()));
  if (direct_) {
    committed_ = true;
    return;
  }
  if (std::rename(temp_.c_str(), target_.c_str()) != 0) {
    throw Error(fmt::format("{}: cannot rename temporary file into place: {}", target_.string(), errno_text()));
  }
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& target, std::string_view bytes) {
  AtomicFile file(target);
  file.write(bytes);
  file.commit();
}

int open_regular_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  // O_NONBLOCK: opening a FIFO without a writer would wait for one.
  const int fd = ::open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("{}: cannot open: {}", name, errno_text()));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) throw Error(fmt::format("{}: is a directory, not a file", name));
    throw Error(fmt::format("{}: not a regular file", name));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    ::close(fd);
    throw Error(fmt::format("{}: cannot open: {}", name, errno_text()));
  }
  return fd;
}

std::FILE* open_regular_stream(const std::filesystem::path& path) {
  const int fd = open_regular_file(path);
  std::FILE* file = ::fdopen(fd, "rb");
  if (file == nullptr) {
    ::close(fd);
    throw Error(fmt::format("{}: cannot open: {}", path.string(), errno_text()));
  }
  return file;
}

namespace {

// Closes a descriptor on every path out of a reader.
struct Descriptor {
  int fd;
  ~Descriptor() { ::close(fd); }
};

// Up to `size` bytes from `fd` (fewer only at the end); throws naming `path`.
std::size_t read_some(int fd, char* out, std::size_t size, const std::filesystem::path& path) {
  for (;;) {
    const ssize_t n = ::read(fd, out, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) throw Error(fmt::format("{}: read failed: {}", path.string(), errno_text()));
  }
}

std::string human_bytes(std::uint64_t bytes) {
  return bytes >= (1u << 20) ? fmt::format("{} MB", bytes >> 20) : fmt::format("{} bytes", bytes);
}

}  // namespace

std::string read_text_file(const std::filesystem::path& path, std::size_t max_bytes, std::string_view file_kind) {
  const Descriptor file{open_regular_file(path)};
  auto too_large = [&](std::uint64_t bytes) {
    return Error(fmt::format("{}: {}, more than the {} a {} may hold", path.string(), human_bytes(bytes),
                             human_bytes(max_bytes), file_kind));
  };
  struct stat st {};
  if (::fstat(file.fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) > max_bytes) throw too_large(st.st_size);
  std::string text;
  char buffer[1 << 16];
  while (const std::size_t n = read_some(file.fd, buffer, sizeof buffer, path)) {
    if (text.size() + n > max_bytes) throw too_large(text.size() + n);  // it grew while read
    text.append(buffer, n);
  }
  return text;
}

void LineSplitter::check(std::size_t length) const {
  if (length > max_line_)
    throw Error(fmt::format("{}:{}: a line longer than {}", name_, number_, human_bytes(max_line_)));
}

void LineSplitter::feed(std::string_view chunk) {
  for (std::size_t end = chunk.find('\n'); end != std::string_view::npos; end = chunk.find('\n')) {
    check(pending_.size() + end);
    pending_.append(chunk.substr(0, end));
    sink_(pending_, number_++);
    pending_.clear();
    chunk.remove_prefix(end + 1);
  }
  check(pending_.size() + chunk.size());
  pending_.append(chunk);
}

void LineSplitter::finish() {
  if (!pending_.empty()) sink_(pending_, number_);
}

void for_each_chunk(const std::filesystem::path& path, const std::function<void(std::string_view)>& chunk) {
  const Descriptor file{open_regular_file(path)};
  char buffer[1 << 16];
  while (const std::size_t n = read_some(file.fd, buffer, sizeof buffer, path)) chunk({buffer, n});
}

}  // namespace apd
