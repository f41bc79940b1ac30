// Writes a file so that it appears complete or not at all: data goes to a
// temporary file in the target's directory, which commit() flushes, syncs and
// renames over the target. A file destroyed before commit() is removed, and
// so is one alive when SIGINT/SIGTERM arrives (remove_temporaries_on_signals).
// A target that exists and is not a regular file (/dev/null, a FIFO) is
// written directly: renaming over it would replace the device.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <string_view>

namespace apd {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(std::string_view bytes);
  // Makes the file visible under its final name. Throws apd::Error on failure.
  void commit();

  [[nodiscard]] const std::filesystem::path& target() const noexcept { return target_; }

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
  bool direct_ = false;  // writing to a device or FIFO itself
  int slot_ = -1;        // in the table the signal handler reads
};

// Makes SIGINT and SIGTERM remove the temporary files of every AtomicFile
// alive, then end the process as the signal would (exit status 130/143).
// For tools that do not handle those signals themselves.
void remove_temporaries_on_signals();

// Whether `name` (a file name, no directory) is an AtomicFile's temporary
// file: left behind only by a process killed mid-write, never data.
[[nodiscard]] bool is_temporary_name(std::string_view name) noexcept;

// Writes `bytes` to `target` atomically.
void write_file_atomically(const std::filesystem::path& target, std::string_view bytes);

// Opens `path` for reading only if it is a regular file: a FIFO, device or
// socket is refused without blocking ("PATH: not a regular file"), a
// directory too. Returns a blocking O_CLOEXEC descriptor; throws apd::Error.
// Every reader of a file a user names opens it through these two.
[[nodiscard]] int open_regular_file(const std::filesystem::path& path);
// The same as a stdio stream ("rb"), owned by the caller.
[[nodiscard]] std::FILE* open_regular_stream(const std::filesystem::path& path);

// Reads a whole regular file of at most `max_bytes` ("PATH: N bytes, more
// than the M a FILE_KIND may hold" otherwise, before reading it); throws
// apd::Error naming the file on failure.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path,
                                         std::size_t max_bytes = std::numeric_limits<std::size_t>::max(),
                                         std::string_view file_kind = "file");

// Splits bytes fed in chunks of any size into lines (without their
// newline; numbered from 1), holding at most `max_line` bytes of the line
// being read: a longer one throws "NAME:N: a line longer than M bytes".
class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view, std::size_t)>;
  LineSplitter(std::size_t max_line, Sink sink, std::string name)
      : max_line_(max_line), sink_(std::move(sink)), name_(std::move(name)) {}
  void feed(std::string_view chunk);
  // The last line, if the input does not end with a newline.
  void finish();

 private:
  void check(std::size_t length) const;
  std::size_t max_line_;
  Sink sink_;
  std::string name_;
  std::string pending_;
  std::size_t number_ = 1;
};

// Calls `chunk` with the bytes of a regular file, in order, 64 KB at a
// time (feed a LineSplitter to read it by lines in bounded memory).
void for_each_chunk(const std::filesystem::path& path, const std::function<void(std::string_view)>& chunk);

}  // namespace apd
