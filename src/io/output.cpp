#include "apd/io/output.hpp"

#include <cstdio>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

ChunkBuffer::ChunkBuffer(const Sink& sink) : sink_(sink) { text_.reserve(kChunkBytes + 4096); }

void ChunkBuffer::flush() {
  sink_(text_);
  text_.clear();
}

void write_output(const std::filesystem::path& path, const std::function<void(const Sink&)>& write) {
  if (path == "-") {
    write([](std::string_view chunk) {
      if (std::fwrite(chunk.data(), 1, chunk.size(), stdout) != chunk.size()) throw Error("stdout: write failed");
    });
    if (std::fflush(stdout) != 0) throw Error("stdout: write failed");
    return;
  }
  AtomicFile file(path);
  write([&](std::string_view chunk) { file.write(chunk); });
  file.commit();
}

void write_output(const std::filesystem::path& path, std::string_view text) {
  write_output(path, [&](const Sink& sink) { sink(text); });
}

}  // namespace apd
