// The records of an apd/1 file's three large arrays (nodes, links,
// instances), shared by the top-level scanner (apd_json_parse.cpp) and the
// record parser (apd_json_records.cpp): the fast path that reads records
// exactly as apd writes them by hand, and the parser that turns every other
// record, in batches on a second thread, into the document's columns.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>
// Every simdjson result is checked here: none may become an exception.
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include "apd/core/error.hpp"
#include "apd_document.hpp"

namespace apd::detail {

namespace sj = simdjson::ondemand;

[[noreturn]] inline void fail(const std::string& name, const std::string& where, const std::string& what) {
  throw Error(fmt::format("{}: {}: {}", name, where, what));
}

// The JSON type of a value simdjson has not read yet.
inline JsonType type_of(sj::value& v) {
  sj::json_type t{};
  if (v.type().get(t) != simdjson::SUCCESS) return JsonType::absent;
  switch (t) {
    case sj::json_type::array: return JsonType::array;
    case sj::json_type::object: return JsonType::object;
    case sj::json_type::number: return JsonType::number;
    case sj::json_type::string: return JsonType::string;
    case sj::json_type::boolean: return JsonType::boolean;
    case sj::json_type::null: return JsonType::null;
  }
  return JsonType::absent;
}

// key == literal, as a fixed-size compare the compiler inlines (keys are
// compared millions of times; a library memcmp call per compare shows).
template <std::size_t N>
inline bool is(std::string_view key, const char (&literal)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), literal, N - 1) == 0;
}

inline JsonType type_of_first_byte(char c) {
  switch (c) {
    case '{': return JsonType::object;
    case '[': return JsonType::array;
    case '"': return JsonType::string;
    case 't':
    case 'f': return JsonType::boolean;
    case 'n': return JsonType::null;
    default: return JsonType::number;
  }
}

enum class Section { nodes, links, instances };

inline const char* section_name(Section s) {
  switch (s) {
    case Section::nodes: return "nodes";
    case Section::links: return "links";
    case Section::instances: return "instances";
  }
  return "?";
}

// Instance and link records exactly as apd writes them,
//   {"index":I,"label":L,"predicted":P,"path":["id",...]}
//   {"source":"id","target":"id","count":C,"errors":E}
// with no whitespace, the keys in this order, integers without sign,
// fraction, exponent or leading zero, and ids of printable ASCII without
// escapes. Such records are most of a large file's bytes; reading them by
// hand skips cutting them out, copying them and simdjson. Anything else,
// valid or not, is left to the general parser: both give the same document
// and the same errors.
struct InstanceRow {
  static constexpr std::size_t kMaxIds = 64;
  std::int64_t index = 0;
  std::int32_t label = 0, predicted = 0;
  std::array<std::string_view, kMaxIds> ids{};
  std::size_t count = 0;
};

struct LinkRow {
  std::string_view source, target;
  Link link;
};

class RecordScanner {
 public:
  // The record's length in `text`, with `row` filled in; 0 when `text`
  // does not start with such a record.
  static std::size_t scan(std::string_view text, InstanceRow& row) {
    RecordScanner s(text);
    std::uint64_t index = 0, label = 0, predicted = 0;
    // At most 18 digits fit an int64 and 9 a label (< 2^31) whatever they are.
    if (!s.literal("{\"index\":") || !s.number(18, index) || !s.literal(",\"label\":") || !s.number(9, label) ||
        !s.literal(",\"predicted\":") || !s.number(9, predicted) || !s.literal(",\"path\":[")) {
      return 0;
    }
    row.count = 0;
    if (!s.literal("]")) {
      do {
        if (row.count == InstanceRow::kMaxIds || !s.id(row.ids[row.count++])) return 0;
      } while (s.literal(","));
      if (!s.literal("]")) return 0;
    }
    if (!s.literal("}")) return 0;
    row.index = static_cast<std::int64_t>(index);
    row.label = static_cast<std::int32_t>(label);
    row.predicted = static_cast<std::int32_t>(predicted);
    return s.at_;
  }

  // The same for a link record; 0 also when errors exceed count (the
  // general parser says so).
  static std::size_t scan(std::string_view text, LinkRow& row) {
    RecordScanner s(text);
    // 19 digits fit a uint64 whatever they are.
    if (!s.literal("{\"source\":") || !s.id(row.source) || !s.literal(",\"target\":") || !s.id(row.target) ||
        !s.literal(",\"count\":") || !s.number(19, row.link.count) || !s.literal(",\"errors\":") ||
        !s.number(19, row.link.errors) || !s.literal("}") || row.link.errors > row.link.count) {
      return 0;
    }
    return s.at_;
  }

 private:
  explicit RecordScanner(std::string_view text) : t_(text) {}

  // A fixed-size compare the compiler inlines (a library memcmp call per
  // literal showed in profiles).
  template <std::size_t N>
  bool literal(const char (&s)[N]) {
    if (t_.size() - at_ < N - 1 || std::memcmp(t_.data() + at_, s, N - 1) != 0) return false;
    at_ += N - 1;
    return true;
  }
  bool number(std::size_t max_digits, std::uint64_t& v) {
    const std::size_t start = at_;
    v = 0;
    while (at_ < t_.size() && t_[at_] >= '0' && t_[at_] <= '9') {
      if (at_ - start == max_digits) return false;
      v = v * 10 + static_cast<std::uint64_t>(t_[at_++] - '0');
    }
    return at_ > start && (t_[start] != '0' || at_ - start == 1);
  }
  bool id(std::string_view& out) {
    if (!literal("\"")) return false;
    const std::size_t start = at_;
    for (; at_ < t_.size() && t_[at_] != '"'; ++at_) {
      const auto c = static_cast<unsigned char>(t_[at_]);
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
    }
    if (at_ == t_.size()) return false;
    out = t_.substr(start, at_ - start);
    ++at_;
    return true;
  }

  std::string_view t_;
  std::size_t at_ = 0;
};

// Turns records (whole JSON objects, as text) into the document's columns,
// parsing them with simdjson on a second thread, in order.
class RecordParser {
 public:
  RecordParser(ApdDocument& doc, const std::string& name);
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;
  ~RecordParser();

  // Gathers one record (a whole JSON object, as text) into the current batch.
  void add(Section section, std::string_view record);
  // Records read by RecordScanner, kept in order with the batches.
  void add_link(const LinkRow& row);
  void add_instance(const InstanceRow& row);
  // Runs `task` on the parsing thread, in order with the batches.
  void run_in_order(std::function<void()> task);
  // Parses what is left and waits for it: afterwards the document is complete.
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace apd::detail
