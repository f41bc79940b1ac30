// Parsing apd/1 JSON into an ApdDocument, streaming, with simdjson On-Demand.
//
// A file of a million instances is ~0.2-0.8 GB; parsing it as one simdjson
// document would hold the file and a structural index of about its size.
// Instead a small scanner walks the top-level object itself, cuts the three
// large arrays (nodes, links, instances) into their records, and hands the
// records to simdjson in batches of ~2 MB (iterate_many): memory is the
// document being built plus a few MB, whatever the file's size. Every other
// top-level value is parsed by simdjson on its own. Errors name the field and
// position ("nodes[3].count: ...") or the byte offset of bad syntax.
#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <set>

#include <fmt/format.h>
// Every simdjson result is checked here: none may become an exception.
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include "apd/core/error.hpp"
#include "apd_document.hpp"
#include "json_window.hpp"
#include "serial_worker.hpp"

namespace apd::detail {

namespace sj = simdjson::ondemand;

const char* type_name(JsonType t) noexcept {
  switch (t) {
    case JsonType::absent: return "nothing";
    case JsonType::null: return "null";
    case JsonType::boolean: return "boolean";
    case JsonType::number: return "number";
    case JsonType::string: return "string";
    case JsonType::object: return "object";
    case JsonType::array: return "array";
  }
  return "value";
}

void IdArena::add(std::string_view id) {
  chars_.append(id);
  end_.push_back(chars_.size());
}

void IdArena::append(const IdArena& other) {
  const std::size_t base = chars_.size();
  chars_.append(other.chars_);
  end_.reserve(end_.size() + other.end_.size());
  for (const std::size_t e : other.end_) end_.push_back(base + e);
}

namespace {

constexpr std::size_t kBatchBytes = std::size_t{2} << 20;
// The graph metadata is small and written by apd; deeper nesting is an attack.
constexpr int kMaxGraphDepth = 64;

[[noreturn]] void fail(const std::string& name, const std::string& where, const std::string& what) {
  throw Error(fmt::format("{}: {}: {}", name, where, what));
}

// key == literal, as a fixed-size compare the compiler inlines (keys are
// compared millions of times; a library memcmp call per compare shows).
template <std::size_t N>
bool is(std::string_view key, const char (&literal)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), literal, N - 1) == 0;
}

JsonType type_of_first_byte(char c) {
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

// A field's key and value. Keys without escapes (all of apd's) are read in
// place; others are unescaped by simdjson.
bool key_value(simdjson::simdjson_result<sj::field> result, std::string_view& key, sj::value& value) {
  sj::field field;
  if (std::move(result).get(field) != simdjson::SUCCESS) return false;
  const char* raw = field.key().raw();
  const char* end = raw;
  while (*end != '"' && *end != '\\') ++end;  // stage 1 guarantees a closing quote
  if (*end == '"') {
    key = std::string_view(raw, static_cast<std::size_t>(end - raw));
  } else if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
    return false;
  }
  value = field.value();
  return true;
}

JsonType type_of(sj::value& v) {
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

// Reads typed fields of one record. Its position ("nodes[3]") is formatted
// only for an error: records are read by the million.
class RecordReader {
 public:
  RecordReader(const std::string& name, const char* section, std::size_t k) : name_(name), section_(section), k_(k) {}

  [[noreturn]] void fail_at(std::string_view suffix, const std::string& what) const {
    fail(name_, fmt::format("{}[{}]{}", section_, k_, suffix), what);
  }
  [[noreturn]] void missing(const char* key) const { fail_at("", fmt::format("missing field \"{}\"", key)); }

  std::uint64_t count(sj::value v, std::string_view key, std::string_view subkey = {}) const {
    std::uint64_t out = 0;
    if (v.get_uint64().get(out) != simdjson::SUCCESS) {
      fail_at(suffix(key, subkey), fmt::format("expected a non-negative integer, got {}", type_name(type_of(v))));
    }
    return out;
  }
  std::int64_t integer(sj::value v, std::string_view key) const {
    std::int64_t out = 0;
    if (v.get_int64().get(out) != simdjson::SUCCESS) {
      fail_at(suffix(key), fmt::format("expected an integer, got {}", type_name(type_of(v))));
    }
    return out;
  }
  std::int32_t label(sj::value v, std::string_view key) const {
    const std::int64_t out = integer(v, key);
    if (out < 0 || out > std::numeric_limits<std::int32_t>::max()) {
      fail_at(suffix(key), fmt::format("label {} is outside 0..2^31-1", out));
    }
    return static_cast<std::int32_t>(out);
  }
  std::string_view string(sj::value v, std::string_view key, const char* expected = "a string") const {
    // Fast path: a string without escapes is its raw bytes, between the quotes.
    const std::string_view token = v.raw_json_token();
    if (!token.empty() && token[0] == '"') {
      const std::size_t close = token.find_first_of("\"\\", 1);
      if (close != std::string_view::npos && token[close] == '"') return token.substr(1, close - 1);
    }
    std::string_view out;
    if (v.get_string().get(out) != simdjson::SUCCESS) {
      fail_at(suffix(key), fmt::format("expected {}, got {}", expected, type_name(type_of(v))));
    }
    return out;
  }

  // {"3": 12, "7": 1}: appends (label, count) to `out`, sorted by label;
  // returns the sum of the counts.
  std::uint64_t histogram(sj::value v, std::string_view key, std::vector<LabelCount>& out) const {
    sj::object obj;
    const JsonType t = type_of(v);
    if (t != JsonType::object || v.get_object().get(obj) != simdjson::SUCCESS) {
      fail_at(suffix(key), fmt::format("expected an object of label counts, got {}", type_name(t)));
    }
    const std::size_t begin = out.size();
    std::uint64_t sum = 0;
    for (auto field : obj) {
      std::string_view k;
      sj::value c;
      if (field.unescaped_key().get(k) != simdjson::SUCCESS || field.value().get(c) != simdjson::SUCCESS) {
        fail_at(suffix(key), "not valid JSON");
      }
      std::int64_t lbl = 0;
      bool ok = !k.empty() && k.size() <= 10;  // 10 digits cannot overflow 64 bits
      for (const char digit : k) {
        ok = ok && digit >= '0' && digit <= '9';
        if (ok) lbl = lbl * 10 + (digit - '0');
      }
      if (!ok || lbl > std::numeric_limits<std::int32_t>::max()) {
        fail_at(suffix(key), fmt::format("key \"{}\" is not a label (a non-negative integer)", k));
      }
      const std::string label_key(k);  // the key's view ends at the next string read
      const std::uint64_t n = count(c, key, label_key);
      if (sum > std::numeric_limits<std::uint64_t>::max() - n) fail_at(suffix(key), "counts overflow 64 bits");
      sum += n;
      out.push_back({static_cast<std::int32_t>(lbl), n});
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(begin), out.end(),
              [](const LabelCount& a, const LabelCount& b) { return a.label < b.label; });
    return sum;
  }

 private:
  static std::string suffix(std::string_view key, std::string_view subkey = {}) {
    return subkey.empty() ? fmt::format(".{}", key) : fmt::format(".{}.{}", key, subkey);
  }

  const std::string& name_;
  const char* section_;
  std::size_t k_;
};

enum class Section { nodes, links, instances };

const char* section_name(Section s) {
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

// Turns records (whole JSON objects, as text) into the document's columns.
class RecordParser {
 public:
  RecordParser(ApdDocument& doc, const std::string& name) : doc_(doc), name_(name) {}

  // Gathers one record (a whole JSON object, as text) into the current batch.
  void add(Section section, std::string_view record) {
    submit_parsed();
    if (section != batch_.section) submit();
    batch_.section = section;
    batch_.starts.push_back(batch_.text.size());
    batch_.text.append(record);
    batch_.text.push_back('\n');
    if (batch_.text.size() >= kBatchBytes) submit();
  }

  // Records read by RecordScanner, kept in order with the batches.
  void add_link(const LinkRow& row) {
    submit();
    if (parsed_.section != Section::links) submit_parsed();
    if (parsed_.rows() == 0) parsed_.reserve(Section::links);
    parsed_.links.push_back(row.link);
    parsed_.ids.add(row.source);
    parsed_.ids.add(row.target);
    if (parsed_.links.size() >= kParsedRows) submit_parsed();
  }
  void add_instance(const InstanceRow& row) {
    submit();
    if (parsed_.section != Section::instances) submit_parsed();
    if (parsed_.rows() == 0) parsed_.reserve(Section::instances);
    parsed_.index.push_back(row.index);
    parsed_.label.push_back(row.label);
    parsed_.predicted.push_back(row.predicted);
    parsed_.path_count.push_back(static_cast<std::uint32_t>(row.count));
    for (std::size_t k = 0; k < row.count; ++k) parsed_.ids.add(row.ids[k]);
    if (parsed_.index.size() >= kParsedRows) submit_parsed();
  }

  // Runs `task` on the parsing thread, in order with the batches.
  void run_in_order(std::function<void()> task) {
    submit();
    submit_parsed();
    worker_.submit(std::move(task));
  }

  // Parses what is left and waits for it: afterwards the document is complete.
  void finish() {
    submit();
    submit_parsed();
    worker_.wait();
  }

 private:
  struct Batch {
    Section section = Section::nodes;
    std::size_t first = 0;  // index of its first record in the section
    std::string text;       // the records, one per line
    std::vector<std::size_t> starts;
  };
  // Records read by hand (links or instances), appended to the document as they are.
  struct Parsed {
    Section section = Section::instances;
    std::vector<Link> links;
    std::vector<std::int64_t> index;
    std::vector<std::int32_t> label, predicted;
    std::vector<std::uint32_t> path_count;
    IdArena ids;  // link ends, or path ids

    [[nodiscard]] std::size_t rows() const noexcept { return links.size() + index.size(); }
    // Room for a whole batch of `s` records (growing would copy each column).
    void reserve(Section s) {
      section = s;
      if (s == Section::links) {
        links.reserve(kParsedRows);
        ids.reserve(2 * kParsedRows, 16 * kParsedRows);
        return;
      }
      index.reserve(kParsedRows);
      label.reserve(kParsedRows);
      predicted.reserve(kParsedRows);
      path_count.reserve(kParsedRows);
    }
  };
  static constexpr std::size_t kParsedRows = 32768;

  void submit_parsed() {
    if (parsed_.rows() == 0) return;
    done_[static_cast<int>(parsed_.section)] += parsed_.rows();
    worker_.submit([this, p = std::make_shared<Parsed>(std::move(parsed_))] { append(*p); });
    parsed_ = Parsed{};
  }

  void append(const Parsed& p) {
    if (p.section == Section::links) {
      doc_.links.insert(doc_.links.end(), p.links.begin(), p.links.end());
      doc_.link_ends.append(p.ids);
      return;
    }
    doc_.index.insert(doc_.index.end(), p.index.begin(), p.index.end());
    doc_.label.insert(doc_.label.end(), p.label.begin(), p.label.end());
    doc_.predicted.insert(doc_.predicted.end(), p.predicted.begin(), p.predicted.end());
    doc_.path_count.insert(doc_.path_count.end(), p.path_count.begin(), p.path_count.end());
    doc_.path_ids.append(p.ids);
  }

  // Hands the current batch to the parsing thread, which parses batches one
  // after another while this thread scans on.
  void submit() {
    if (batch_.starts.empty()) return;
    batch_.first = done_[static_cast<int>(batch_.section)];
    done_[static_cast<int>(batch_.section)] += batch_.starts.size();
    worker_.submit([this, batch = std::make_shared<Batch>(std::move(batch_))] { parse(*batch); });
    batch_ = Batch{};
  }

  // On a JSON error the batch's records are parsed one by one, so the message
  // names the first bad record.
  void parse(Batch& b) {
    b.text.append(simdjson::SIMDJSON_PADDING, ' ');
    const std::size_t size = b.text.size() - simdjson::SIMDJSON_PADDING;
    sj::document_stream stream;
    std::size_t k = 0;
    // One window over the whole batch: the batch size is the text's own.
    bool broken =
        parser_.iterate_many(b.text.data(), size, std::max<std::size_t>(size, 64)).get(stream) != simdjson::SUCCESS;
    for (auto it = stream.begin(); !broken && it != stream.end(); ++it, ++k) {
      sj::document_reference doc;
      sj::object obj;
      broken = k >= b.starts.size() || (*it).get(doc) != simdjson::SUCCESS ||
               doc.get_object().get(obj) != simdjson::SUCCESS || !record(b.section, obj, b.first + k);
    }
    if (broken || k != b.starts.size()) reparse_one_by_one(b, k);
  }

  bool record(Section section, sj::object& obj, std::size_t k) {
    switch (section) {
      case Section::nodes: return node(obj, k);
      case Section::links: return link(obj, k);
      case Section::instances: return instance(obj, k);
    }
    return false;
  }

  // Records before `from` were parsed into the document already.
  void reparse_one_by_one(const Batch& b, std::size_t from) {
    for (std::size_t k = from; k < b.starts.size(); ++k) {
      const std::size_t end = k + 1 < b.starts.size() ? b.starts[k + 1] : b.text.size() - simdjson::SIMDJSON_PADDING;
      const std::string where = fmt::format("{}[{}]", section_name(b.section), b.first + k);
      simdjson::padded_string one(b.text.data() + b.starts[k], end - b.starts[k]);
      sj::document doc;
      sj::object obj;
      simdjson::error_code e = parser_.iterate(one).get(doc);
      if (e == simdjson::SUCCESS) e = doc.get_object().get(obj);
      if (e != simdjson::SUCCESS || !record(b.section, obj, b.first + k)) {
        fail(name_, where,
             fmt::format("not valid JSON ({})",
                         simdjson::error_message(e == simdjson::SUCCESS ? simdjson::TAPE_ERROR : e)));
      }
    }
  }

  // Each record function returns false on a JSON syntax error (simdjson
  // reports those while iterating) and throws on a type error.
  // The fields of a node record as read, before they are checked together.
  struct NodeFields {
    Node node;
    std::int64_t layer = 0;
    std::string kind;
    std::size_t pattern_bits = 0;
    std::uint64_t true_sum = 0, pred_sum = 0;
    bool id = false, has_kind = false, count = false, errors = false, has_layer = false, pattern = false, label = false,
         true_labels = false, predicted_labels = false, hex = false;
  };

  bool node(sj::object& obj, std::size_t k) {
    const RecordReader r(name_, "nodes", k);
    NodeFields f;
    if (!read_node_fields(obj, r, f)) return false;
    check_node(f, r);
    doc_.nodes.push_back(f.node);
    doc_.node_layer.push_back(f.layer);
    doc_.pattern_bits.push_back(static_cast<std::uint32_t>(f.pattern_bits));
    doc_.pattern_hex.push_back(f.hex ? 1 : 0);
    return true;
  }

  bool read_node_fields(sj::object& obj, const RecordReader& r, NodeFields& f) {
    Node& n = f.node;
    for (auto field : obj) {
      std::string_view key;
      sj::value v;
      if (!key_value(field, key, v)) return false;
      if (is(key, "id")) {
        doc_.node_ids.add(r.string(v, "id"));
        f.id = true;
      } else if (is(key, "kind")) {
        f.kind = r.string(v, "kind");
        f.has_kind = true;
      } else if (is(key, "count")) {
        n.count = r.count(v, "count");
        f.count = true;
      } else if (is(key, "errors")) {
        n.errors = r.count(v, "errors");
        f.errors = true;
      } else if (is(key, "layer")) {
        f.layer = r.integer(v, "layer");
        f.has_layer = true;
      } else if (is(key, "pattern") || is(key, "pattern_hex")) {
        if (f.pattern) r.fail_at(".pattern", "given twice (as pattern and pattern_hex?)");
        f.hex = is(key, "pattern_hex");
        f.pattern_bits =
            f.hex ? pack_hex(r, r.string(v, "pattern_hex"), n) : pack_pattern(r, r.string(v, "pattern"), n);
        f.pattern = true;
      } else if (is(key, "label")) {
        n.label = r.label(v, "label");
        f.label = true;
      } else if (is(key, "true_labels") || is(key, "predicted_labels")) {
        read_histogram(v, is(key, "true_labels"), r, f);
      }
    }
    return true;
  }

  void read_histogram(sj::value v, bool is_true, const RecordReader& r, NodeFields& f) {
    Node& n = f.node;
    bool& seen = is_true ? f.true_labels : f.predicted_labels;
    if (seen) r.fail_at(is_true ? ".true_labels" : ".predicted_labels", "given twice");
    const std::size_t begin = doc_.histograms.size();
    (is_true ? f.true_sum : f.pred_sum) = r.histogram(v, is_true ? "true_labels" : "predicted_labels", doc_.histograms);
    (is_true ? n.true_begin : n.pred_begin) = begin;
    (is_true ? n.true_size : n.pred_size) = doc_.histograms.size() - begin;
    seen = true;
  }

  // Presence, kind and the counts a node record must agree with itself on.
  static void check_node(NodeFields& f, const RecordReader& r) {
    Node& n = f.node;
    if (!f.id) r.missing("id");
    if (!f.has_kind) r.missing("kind");
    if (!f.count) r.missing("count");
    if (!f.errors) r.missing("errors");
    if (n.errors > n.count) r.fail_at("", fmt::format("errors {} exceed count {}", n.errors, n.count));
    if (f.kind == "pattern") {
      if (!f.has_layer) r.missing("layer");
      if (!f.pattern) r.missing("pattern");
      n.kind = NodeKind::pattern;
    } else if (f.kind == "label") {
      if (!f.label) r.missing("label");
      n.kind = NodeKind::label;
      n.pattern_offset = 0;
      f.pattern_bits = 0;
    } else {
      r.fail_at(".kind", fmt::format("\"{}\" is neither \"pattern\" nor \"label\"", f.kind));
    }
    if (!f.true_labels) r.missing("true_labels");
    if (!f.predicted_labels) r.missing("predicted_labels");
    if (f.true_sum != n.count)
      r.fail_at(".true_labels", fmt::format("counts do not sum to the node's count {}", n.count));
    if (f.pred_sum != n.count)
      r.fail_at(".predicted_labels", fmt::format("counts do not sum to the node's count {}", n.count));
  }

  // Packs '0'/'1' text into words appended to pattern_words (bit i of the
  // pattern is bit i % 64 of word i / 64), as the Diagram stores patterns.
  std::size_t pack_pattern(const RecordReader& r, std::string_view text, Node& n) {
    if (text.size() > std::numeric_limits<std::uint32_t>::max()) r.fail_at(".pattern", "longer than 2^32 bits");
    n.pattern_offset = doc_.pattern_words.size();
    doc_.pattern_words.resize(n.pattern_offset + (text.size() + 63) / 64, 0);
    const std::span<std::uint64_t> row(doc_.pattern_words.data() + n.pattern_offset, (text.size() + 63) / 64);
    if (const std::size_t bad = pack_pattern_text(text, row); bad != std::string_view::npos) {
      r.fail_at(".pattern", fmt::format("character '{}' at position {} (only '0' and '1')", text[bad], bad + 1));
    }
    return text.size();
  }

  // Unpacks hex into 4 bits a digit, as pack_pattern packs '0'/'1' text.
  std::size_t pack_hex(const RecordReader& r, std::string_view text, Node& n) {
    if (text.size() > std::numeric_limits<std::uint32_t>::max() / 4) r.fail_at(".pattern_hex", "longer than 2^32 bits");
    const std::size_t words = (4 * text.size() + 63) / 64;
    n.pattern_offset = doc_.pattern_words.size();
    doc_.pattern_words.resize(n.pattern_offset + words, 0);
    const std::span<std::uint64_t> row(doc_.pattern_words.data() + n.pattern_offset, words);
    if (const std::size_t bad = pack_pattern_hex(text, row); bad != std::string_view::npos) {
      r.fail_at(".pattern_hex", fmt::format("character '{}' at position {} (only 0-9 and a-f)", text[bad], bad + 1));
    }
    return 4 * text.size();
  }

  bool link(sj::object& obj, std::size_t k) {
    const RecordReader r(name_, "links", k);
    Link l;
    std::string source, target;
    bool has_source = false, has_target = false, has_count = false, has_errors = false;
    for (auto field : obj) {
      std::string_view key;
      sj::value v;
      if (!key_value(field, key, v)) return false;
      if (is(key, "source")) {
        source = r.string(v, "source");
        has_source = true;
      } else if (is(key, "target")) {
        target = r.string(v, "target");
        has_target = true;
      } else if (is(key, "count")) {
        l.count = r.count(v, "count");
        has_count = true;
      } else if (is(key, "errors")) {
        l.errors = r.count(v, "errors");
        has_errors = true;
      }
    }
    if (!has_source) r.missing("source");
    if (!has_target) r.missing("target");
    if (!has_count) r.missing("count");
    if (!has_errors) r.missing("errors");
    if (l.errors > l.count) r.fail_at("", fmt::format("errors {} exceed count {}", l.errors, l.count));
    doc_.links.push_back(l);
    doc_.link_ends.add(source);
    doc_.link_ends.add(target);
    return true;
  }

  bool instance(sj::object& obj, std::size_t k) {
    const RecordReader r(name_, "instances", k);
    std::int64_t index = 0;
    std::int32_t label = 0, predicted = 0;
    bool has_index = false, has_label = false, has_predicted = false, has_path = false;
    std::uint32_t ids = 0;
    for (auto field : obj) {
      std::string_view key;
      sj::value v;
      if (!key_value(field, key, v)) return false;
      if (is(key, "index")) {
        index = r.integer(v, "index");
        has_index = true;
      } else if (is(key, "label")) {
        label = r.label(v, "label");
        has_label = true;
      } else if (is(key, "predicted")) {
        predicted = r.label(v, "predicted");
        has_predicted = true;
      } else if (is(key, "path")) {
        if (has_path) r.fail_at(".path", "given twice");
        ids = path(r, v);
        has_path = true;
      }
    }
    if (!has_index) r.missing("index");
    if (!has_label) r.missing("label");
    if (!has_predicted) r.missing("predicted");
    if (!has_path) r.missing("path");
    doc_.index.push_back(index);
    doc_.label.push_back(label);
    doc_.predicted.push_back(predicted);
    doc_.path_count.push_back(ids);
    return true;
  }

  std::uint32_t path(const RecordReader& r, sj::value v) {
    sj::array arr;
    const JsonType t = type_of(v);
    if (t != JsonType::array || v.get_array().get(arr) != simdjson::SUCCESS) {
      r.fail_at(".path", fmt::format("expected an array, got {}", type_name(t)));
    }
    std::uint32_t ids = 0;
    for (auto element : arr) {
      sj::value id;
      if (element.get(id) != simdjson::SUCCESS) r.fail_at(".path", "not valid JSON");
      if (type_of(id) != JsonType::string) {
        r.fail_at(fmt::format(".path[{}]", ids), fmt::format("expected a node id, got {}", type_name(type_of(id))));
      }
      doc_.path_ids.add(r.string(id, "path", "a node id"));
      if (++ids == std::numeric_limits<std::uint32_t>::max()) r.fail_at(".path", "too many node ids");
    }
    return ids;
  }

  ApdDocument& doc_;
  const std::string& name_;
  sj::parser parser_;  // the parsing thread's
  Batch batch_;        // being gathered
  Parsed parsed_;
  std::array<std::size_t, 3> done_{};
  SerialWorker worker_{2};  // last: its thread stops before the members above go
};

// Converts simdjson's view of the graph metadata into nlohmann::json (the
// Diagram keeps metadata as a small DOM), bounding the depth.
nlohmann::json to_dom(sj::value v, const std::string& name, const std::string& where, int depth) {
  if (depth > kMaxGraphDepth) fail(name, where, fmt::format("nested deeper than {} levels", kMaxGraphDepth));
  auto bad = [&] { fail(name, where, "not valid JSON"); };
  switch (type_of(v)) {
    case JsonType::object: {
      nlohmann::json out = nlohmann::json::object();
      sj::object obj;
      if (v.get_object().get(obj) != simdjson::SUCCESS) bad();
      for (auto field : obj) {
        std::string_view key;
        sj::value child;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS || field.value().get(child) != simdjson::SUCCESS) bad();
        std::string k(key);
        out[k] = to_dom(child, name, fmt::format("{}.{}", where, k), depth + 1);
      }
      return out;
    }
    case JsonType::array: {
      nlohmann::json out = nlohmann::json::array();
      sj::array arr;
      if (v.get_array().get(arr) != simdjson::SUCCESS) bad();
      for (auto element : arr) {
        sj::value child;
        if (element.get(child) != simdjson::SUCCESS) bad();
        out.push_back(to_dom(child, name, fmt::format("{}[{}]", where, out.size()), depth + 1));
      }
      return out;
    }
    case JsonType::number: {
      sj::number n;
      if (v.get_number().get(n) != simdjson::SUCCESS) fail(name, where, "number out of range");
      // As nlohmann's own parser: non-negative integers are unsigned.
      if (n.is_uint64()) return n.get_uint64();
      if (n.is_int64() && n.get_int64() >= 0) return static_cast<std::uint64_t>(n.get_int64());
      if (n.is_int64()) return n.get_int64();
      return n.get_double();
    }
    case JsonType::string: {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) bad();
      return std::string(s);
    }
    case JsonType::boolean: {
      bool b = false;
      if (v.get_bool().get(b) != simdjson::SUCCESS) bad();
      return b;
    }
    case JsonType::null: {
      bool is_null = false;
      if (v.is_null().get(is_null) != simdjson::SUCCESS || !is_null) bad();
      return nullptr;
    }
    case JsonType::absent: break;
  }
  fail(name, where, "not valid JSON");
}

// Reserves the document's columns for the counts the graph metadata states,
// each capped by what `bytes` of JSON could hold at all (a record takes at
// least ~40 bytes, a pattern bit one), so a false header cannot make us
// allocate more than the file's size. Saves the copies and page faults of
// growing vectors of millions of records.
void reserve_from_graph(ApdDocument& doc, const nlohmann::json& graph, std::uint64_t bytes) {
  auto number = [&](const nlohmann::json& v) {
    return v.is_number_unsigned() ? v.get<std::uint64_t>() : std::uint64_t{0};
  };
  auto capped = [&](std::uint64_t wanted, std::uint64_t per_byte_divisor) {
    return static_cast<std::size_t>(std::min(wanted, bytes / per_byte_divisor));
  };
  const std::uint64_t instances = number(graph.value("instances", nlohmann::json()));
  const auto widths = graph.value("widths", nlohmann::json::array());
  const auto unique = graph.value("unique_patterns", nlohmann::json::array());
  if (!widths.is_array() || !unique.is_array() || widths.size() != unique.size() || widths.size() > 4096) return;
  std::uint64_t nodes = 64, words = 0;  // + label nodes
  for (std::size_t l = 0; l < widths.size(); ++l) {
    const std::uint64_t u = std::min<std::uint64_t>(number(unique[l]), bytes),
                        w = std::min<std::uint64_t>(number(widths[l]), bytes);
    nodes += u;
    words += std::min<std::uint64_t>(u * ((w + 63) / 64), bytes);
  }
  doc.nodes.reserve(capped(nodes, 40));
  doc.node_layer.reserve(capped(nodes, 40));
  doc.pattern_bits.reserve(capped(nodes, 40));
  doc.pattern_hex.reserve(capped(nodes, 40));
  doc.pattern_words.reserve(capped(words, 64));
  doc.histograms.reserve(capped(2 * nodes, 8));
  doc.node_ids.reserve(capped(nodes, 40), capped(10 * nodes, 4));
  doc.links.reserve(capped(nodes, 40));
  doc.link_ends.reserve(capped(2 * nodes, 20), capped(20 * nodes, 2));
  doc.index.reserve(capped(instances, 40));
  doc.label.reserve(capped(instances, 40));
  doc.predicted.reserve(capped(instances, 40));
  doc.path_count.reserve(capped(instances, 40));
  const std::uint64_t path_ids = std::min<std::uint64_t>(instances, bytes) * widths.size();
  doc.path_ids.reserve(capped(path_ids, 8), capped(10 * path_ids, 2));
}

// Walks the top-level object: the three arrays go record by record to the
// RecordParser; every other value is parsed whole by simdjson.
class TopLevel {
 public:
  TopLevel(ByteSource& source, std::string name)
      : in_(source, name), name_(std::move(name)), records_(doc_, name_), size_(source.size()) {}

  ApdDocument run() {
    try {
      scan();
    } catch (...) {
      // The records before the fault may hold an earlier one: that one is
      // reported (finish() rethrows it); otherwise the scanner's.
      records_.finish();
      throw;
    }
    records_.finish();
    return std::move(doc_);
  }

 private:
  void scan() {
    const int first = in_.skip_whitespace();
    if (first < 0) in_.syntax_error("the file is empty", first);
    doc_.top = type_of_first_byte(static_cast<char>(first));
    if (first != '{') {
      (void)parse_whole("top level");  // its type is all the checks need, once it is valid JSON
      return;
    }
    in_.advance();
    int c = in_.skip_whitespace();
    if (c == '}') in_.advance();
    while (c != '}') {
      const std::string key = read_key();
      in_.expect(':', fmt::format("after the key \"{}\"", key));
      value(key);
      c = in_.skip_whitespace();
      if (c != ',' && c != '}') in_.syntax_error("expected ',' or '}' in the top-level object", c);
      in_.advance();
    }
    if (in_.skip_whitespace() >= 0) in_.syntax_error("text after the top-level object", in_.peek());
  }

  std::string read_key() {
    const int c = in_.skip_whitespace();
    if (c != '"') in_.syntax_error("expected a key string", c);
    const nlohmann::json key = parse_whole("top level");
    return key.get<std::string>();
  }

  void value(const std::string& key) {
    const int c = in_.skip_whitespace();
    if (c < 0) in_.syntax_error(fmt::format("missing value of \"{}\"", key), c);
    const JsonType type = type_of_first_byte(static_cast<char>(c));
    if (!seen_.insert(key).second) fail(name_, "top level", fmt::format("duplicate field \"{}\"", key));
    if (is(key, "nodes")) doc_.nodes_type = type;
    if (is(key, "links")) doc_.links_type = type;
    if (is(key, "instances")) doc_.instances_type = type;
    if (type == JsonType::array && (is(key, "nodes") || is(key, "links") || is(key, "instances"))) {
      return records(is(key, "nodes") ? Section::nodes : is(key, "links") ? Section::links : Section::instances);
    }
    nlohmann::json v = parse_whole(key);
    if (is(key, "schema") && v.is_string()) doc_.schema = v.get<std::string>();
    if (is(key, "graph")) {
      doc_.graph_type = type;
      doc_.graph = std::move(v);
      if (doc_.graph.is_object()) {
        records_.run_in_order([this] {
          if (doc_.nodes.empty()) reserve_from_graph(doc_, doc_.graph, size_);
        });
      }
    }
  }

  void records(Section section) {
    in_.advance();  // '['
    int c = in_.skip_whitespace();
    if (c == ']') return in_.advance();
    for (std::size_t k = 0;; ++k) {
      if (c != '{') {
        if (c < 0) in_.syntax_error("unterminated array", c);
        fail(name_, fmt::format("{}[{}]", section_name(section), k),
             fmt::format("expected an object, got {}", type_name(type_of_first_byte(static_cast<char>(c)))));
      }
      if (!scan_record(section)) {
        in_.mark();
        in_.skip_value();
        records_.add(section, in_.marked());
        in_.unmark();
      }
      c = in_.skip_whitespace();
      if (c == ']') return in_.advance();
      if (c != ',') in_.syntax_error(fmt::format("expected ',' or ']' after {}[{}]", section_name(section), k), c);
      in_.advance();
      c = in_.skip_whitespace();
    }
  }

  // Reads the link or instance record at the cursor by hand if it has
  // apd's exact form.
  bool scan_record(Section section) {
    constexpr std::size_t kLongest = 4096;  // longer records take the general path
    std::size_t length = 0;
    if (section == Section::instances) {
      length = RecordScanner::scan(in_.ahead(kLongest), row_);
      if (length > 0) records_.add_instance(row_);  // copies the ids before the window moves
    } else if (section == Section::links) {
      length = RecordScanner::scan(in_.ahead(kLongest), link_);
      if (length > 0) records_.add_link(link_);
    }
    in_.advance(length);
    return length > 0;
  }

  // Cuts out the value at the cursor and parses it with simdjson on its own
  // (inside brackets: simdjson reads any value there, scalars included).
  nlohmann::json parse_whole(const std::string& where) {
    in_.mark();
    in_.skip_value();
    const std::string_view text = in_.marked();
    simdjson::padded_string padded(text.size() + 2);
    padded.data()[0] = '[';
    std::memcpy(padded.data() + 1, text.data(), text.size());
    padded.data()[text.size() + 1] = ']';
    in_.unmark();
    sj::document doc;
    sj::array arr;
    simdjson::error_code e = parser_.iterate(padded).get(doc);
    if (e == simdjson::SUCCESS) e = doc.get_array().get(arr);
    if (e != simdjson::SUCCESS) fail(name_, where, fmt::format("not valid JSON ({})", simdjson::error_message(e)));
    nlohmann::json out;
    std::size_t values = 0;
    for (auto element : arr) {
      sj::value v;
      if (element.get(v) != simdjson::SUCCESS) fail(name_, where, "not valid JSON");
      out = to_dom(v, name_, where, 1);
      ++values;
    }
    if (values != 1) fail(name_, where, "not valid JSON");
    return out;
  }

  Window in_;
  std::string name_;
  ApdDocument doc_;
  RecordParser records_;
  sj::parser parser_;
  std::set<std::string> seen_;
  std::uint64_t size_;
  InstanceRow row_;
  LinkRow link_;
};

}  // namespace

ApdDocument parse_apd_document(ByteSource& source, const std::string& name) { return TopLevel(source, name).run(); }

}  // namespace apd::detail
