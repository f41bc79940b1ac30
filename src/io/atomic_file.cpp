#include "apd/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>

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

// ".NAME.PID.tmp" beside the target; a long NAME is shortened (and hashed)
// so that the temporary name stays within the 255-byte file-name limit.
std::filesystem::path temporary_name(const std::filesystem::path& target) {
  std::string name = target.filename().string();
  if (name.size() > 200) name = fmt::format("{}~{:016x}", name.substr(0, 180), std::hash<std::string>{}(name));
  return target.parent_path() / fmt::format(".{}.{}.tmp", name, static_cast<long>(::getpid()));
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
    temp_ = temporary_name(target_);
    slot_ = register_temporary(temp_);
    file_ = std::fopen(temp_.c_str(), "wb");
  }
  if (file_ == nullptr) {
    unregister_temporary(slot_);
    throw Error(fmt::format("{}: cannot create file: {}", target_.string(), errno_text()));
  }
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

std::string read_text_file(const std::filesystem::path& path) {
  // An ifstream opens a directory and reads it as empty: say what it is.
  if (std::filesystem::is_directory(path)) throw Error(fmt::format("{}: is a directory, not a file", path.string()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open: {}", path.string(), errno_text()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read failed", path.string()));
  return std::move(buffer).str();
}

}  // namespace apd
