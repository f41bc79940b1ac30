#include "apd/io/output.hpp"

#include <cstdio>

#include "apd/core/error.hpp"
#include "apd/core/huge_pages.hpp"
#include "apd/io/atomic_file.hpp"
#include "serial_worker.hpp"

namespace apd {

ChunkBuffer::ChunkBuffer(const Sink& sink) : sink_(sink) {
  text_.reserve(kChunkBytes + 4096);
  advise_huge_pages(text_.data(), text_.capacity());
}

ChunkBuffer::~ChunkBuffer() = default;

void ChunkBuffer::hand_over() {
  if (!sender_) {
    sender_ = std::make_unique<detail::SerialWorker>(1);
    sending_.reserve(text_.capacity());
    advise_huge_pages(sending_.data(), sending_.capacity());
  }
  sender_->wait();  // the previous chunk is out: its buffer is free
  text_.swap(sending_);
  text_.clear();
  sender_->submit([this] { sink_(sending_); });
}

void ChunkBuffer::flush() {
  if (sender_) sender_->wait();
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
