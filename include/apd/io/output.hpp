// Where the tools' output goes: streaming writers hand text in chunks to a
// Sink; write_output sends them to stdout ("-") or to a file that appears
// complete or not at all (AtomicFile). Every write is checked.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace apd {

namespace detail {
class SerialWorker;
}

using Sink = std::function<void(std::string_view)>;

// Text gathered in ~4 MiB chunks before it goes to the sink: writers append
// to text() record by record and call maybe_flush() after each. A full chunk
// goes to the sink on a second thread while the writer formats the next one
// (the kernel's copy of a large file's bytes costs about what formatting
// them does); chunks reach the sink whole and in order, never concurrently.
class ChunkBuffer {
 public:
  explicit ChunkBuffer(const Sink& sink);
  ChunkBuffer(const ChunkBuffer&) = delete;
  ChunkBuffer& operator=(const ChunkBuffer&) = delete;
  ~ChunkBuffer();

  [[nodiscard]] std::string& text() noexcept { return text_; }
  void maybe_flush() {
    if (text_.size() >= kChunkBytes) hand_over();
  }
  // Sends what remains and returns once the sink has taken every chunk;
  // rethrows the first error the sink threw.
  void flush();

 private:
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 22;
  void hand_over();

  const Sink& sink_;
  std::string text_, sending_;
  std::unique_ptr<detail::SerialWorker> sender_;  // started by the first full chunk; last member
};

// Calls `write` with a sink into `path` ("-" for stdout), then commits the
// file. Throws apd::Error naming the target when a write fails.
void write_output(const std::filesystem::path& path, const std::function<void(const Sink&)>& write);
void write_output(const std::filesystem::path& path, std::string_view text);

}  // namespace apd
