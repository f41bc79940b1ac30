// A window over a ByteSource for the streaming apd/1 parser: it refills as
// the scanner advances, keeps every byte from the mark on (the value being
// cut out for simdjson), and moves past whole JSON values by delimiting
// strings and brackets, without validating them (simdjson does that).
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/huge_pages.hpp"
#include "apd/core/limits.hpp"
#include "apd_document.hpp"

namespace apd::detail {

class Window {
 public:
  Window(ByteSource& source, std::string name) : source_(source), name_(std::move(name)) {}

  // The byte at the cursor, or -1 at the end of the input.
  int peek() {
    if (pos_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  void advance() { ++pos_; }
  void advance(std::size_t bytes) { pos_ += bytes; }
  [[nodiscard]] std::size_t offset() const noexcept { return base_ + pos_; }

  // The next `bytes` bytes from the cursor (fewer only where the input
  // ends), not consumed; valid until the next peek() or ahead().
  [[nodiscard]] std::string_view ahead(std::size_t bytes) {
    while (end_ - pos_ < bytes && refill()) {
    }
    return {buf_.get() + pos_, std::min(bytes, end_ - pos_)};
  }

  int skip_whitespace() {
    for (;;) {
      const int c = peek();
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return c;
      ++pos_;
    }
  }
  // Consumes `c` after whitespace, or fails naming what came instead.
  void expect(char c, const std::string& context) {
    const int got = skip_whitespace();
    if (got != c) syntax_error(fmt::format("expected '{}' {}", c, context), got);
    ++pos_;
  }
  [[noreturn]] void syntax_error(const std::string& what, int got) const {
    throw Error(fmt::format("{}: not valid JSON: {} at byte {}{}", name_, what, offset(),
                            got < 0 ? " (the file ends there)" : ""));
  }

  void mark() { mark_ = pos_; }
  // Bytes from the mark to the cursor; valid until the next peek().
  [[nodiscard]] std::string_view marked() const { return {buf_.get() + mark_, pos_ - mark_}; }
  void unmark() { mark_ = kNone; }

  // Moves the cursor past one JSON value starting at it: strings, nesting and
  // scalars are delimited, not validated (simdjson validates what is cut out).
  void skip_value() {
    int depth = 0;
    for (;;) {
      while (pos_ < end_ && kPlain[static_cast<unsigned char>(buf_[pos_])]) ++pos_;
      const int c = peek();
      if (c < 0) syntax_error("unterminated value", c);
      if (c == '"') {
        skip_string();
      } else if (c == '{' || c == '[') {
        ++depth, ++pos_;
      } else if (c == '}' || c == ']') {
        if (depth == 0) return;  // a scalar ended by its container
        --depth, ++pos_;
      } else if (depth == 0 && (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t')) {
        return;
      } else if ((c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x7f) {
        // No JSON text has a control byte (but whitespace) or a non-ASCII byte outside a string.
        syntax_error(fmt::format("unexpected byte 0x{:02x}", c), c);
      } else {
        ++pos_;
      }
      if (depth == 0 && (c == '"' || c == '}' || c == ']')) return;
    }
  }

 private:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t kReadBytes = std::size_t{4} << 20;
  // Bytes that neither open, close nor end anything outside a string.
  static constexpr std::array<bool, 256> kPlain = [] {
    std::array<bool, 256> plain{};
    plain.fill(true);
    for (const unsigned char c : {'"', '{', '[', '}', ']', ',', ' ', '\n', '\r', '\t'}) plain[c] = false;
    for (int c = 0; c < 0x20; ++c) plain[c] = false;
    for (int c = 0x7f; c < 0x100; ++c) plain[c] = false;
    return plain;
  }();

  // A quote ends the string unless an odd number of backslashes precede it.
  void skip_string() {
    const std::size_t open = offset();  // absolute: refill() moves the buffer
    ++pos_;
    for (;;) {
      if (pos_ == end_ && !refill()) syntax_error("unterminated string", -1);
      const char* at = buf_.get() + pos_;
      const auto* quote = static_cast<const char*>(std::memchr(at, '"', end_ - pos_));
      if (quote == nullptr) {
        pos_ = end_;
        continue;
      }
      pos_ = static_cast<std::size_t>(quote - buf_.get()) + 1;
      std::size_t backslashes = 0;
      for (std::size_t k = pos_ - 1; k > 0 && base_ + k > open + 1 && buf_[k - 1] == '\\'; --k) ++backslashes;
      if (backslashes % 2 == 0) return;
    }
  }

  // Drops what lies before the mark (or the cursor), then reads more.
  bool refill() {
    const std::size_t keep = std::min(mark_, pos_);
    if (keep > 0) {
      std::memmove(buf_.get(), buf_.get() + keep, end_ - keep);
      base_ += keep;
      pos_ -= keep;
      end_ -= keep;
      if (mark_ != kNone) mark_ -= keep;
    }
    // One value (a record, the graph) is held whole: never one beyond the cap.
    if (mark_ != kNone && end_ - mark_ >= kMaxJsonValueBytes) {
      throw Error(
          fmt::format("{}: the JSON value at byte {} is longer than {} MB, the most one record or the "
                      "metadata may take",
                      name_, base_ + mark_, kMaxJsonValueBytes >> 20));
    }
    // Reads in chunks of up to 4 MiB, no larger than the whole input.
    const std::size_t chunk = std::clamp<std::uint64_t>(source_.size() + 1, 4096, kReadBytes);
    if (capacity_ - end_ < chunk) grow(std::max(capacity_ * 2, end_ + chunk));
    const std::size_t got = source_.read(buf_.get() + end_, capacity_ - end_);
    end_ += got;
    return got > 0;
  }

  // Bytes past end_ are not initialised: read() fills them.
  void grow(std::size_t capacity) {
    auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
    advise_huge_pages(bigger.get(), capacity);
    if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    capacity_ = capacity;
  }

  ByteSource& source_;
  std::string name_;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
  std::size_t base_ = 0, pos_ = 0, end_ = 0, mark_ = kNone;
};

}  // namespace apd::detail
