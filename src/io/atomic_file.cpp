#include "apd/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  auto name = target_.filename().string();
  temp_ = target_.parent_path() / fmt::format(".{}.{}.tmp", name, static_cast<long>(::getpid()));
  file_ = std::fopen(temp_.c_str(), "wb");
  if (file_ == nullptr) {
    throw Error(fmt::format("{}: cannot create file: {}", target_.string(), errno_text()));
  }
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicFile::write(std::string_view bytes) {
  if (file_ == nullptr) throw Error(fmt::format("{}: write after commit", target_.string()));
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) {
    throw Error(fmt::format("{}: write failed: {}", target_.string(), errno_text()));
  }
}

void AtomicFile::commit() {
  if (file_ == nullptr) throw Error(fmt::format("{}: committed twice", target_.string()));
  bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  if (!ok) throw Error(fmt::format("{}: write failed: {}", target_.string(), errno_text()));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open: {}", path.string(), errno_text()));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("{}: read failed", path.string()));
  return std::move(buffer).str();
}

}  // namespace apd
