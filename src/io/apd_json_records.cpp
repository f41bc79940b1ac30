// The records of an apd/1 file's nodes, links and instances arrays as
// columns of the document: batches of records parsed by simdjson On-Demand
// (iterate_many) on a second thread, and the records the fast path read by
// hand appended in order with them.
#include "apd_json_records.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "serial_worker.hpp"

namespace apd::detail {

namespace {

constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();
constexpr std::size_t kBatchBytes = std::size_t{2} << 20;

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
  // A distance >= 0, or null (+infinity).
  double distance(sj::value v, std::string_view key) const {
    if (type_of(v) == JsonType::null) return std::numeric_limits<double>::infinity();
    double out = 0;
    if (v.get_double().get(out) != simdjson::SUCCESS || !(out >= 0)) {
      fail_at(suffix(key), fmt::format("expected a distance (a number >= 0, or null), got {}", type_name(type_of(v))));
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

}  // namespace

// Turns records (whole JSON objects, as text) into the document's columns.
struct RecordParser::Impl {
  Impl(ApdDocument& doc, const std::string& name) : doc_(doc), name_(name) {}

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
    double radius = kAbsent, boundary = kAbsent;
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
      } else if (is(key, "region_radius")) {
        radius = r.distance(v, "region_radius");
      } else if (is(key, "boundary_distance")) {
        boundary = r.distance(v, "boundary_distance");
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
    if (std::isnan(radius) != std::isnan(boundary)) {
      r.fail_at("", "region_radius and boundary_distance go together: one is missing");
    }
    doc_.region_radius.push_back(radius);
    doc_.boundary_distance.push_back(boundary);
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

RecordParser::RecordParser(ApdDocument& doc, const std::string& name) : impl_(std::make_unique<Impl>(doc, name)) {}
RecordParser::~RecordParser() = default;
void RecordParser::add(Section section, std::string_view record) { impl_->add(section, record); }
void RecordParser::add_link(const LinkRow& row) { impl_->add_link(row); }
void RecordParser::add_instance(const InstanceRow& row) { impl_->add_instance(row); }
void RecordParser::run_in_order(std::function<void()> task) { impl_->run_in_order(std::move(task)); }
void RecordParser::finish() { impl_->finish(); }

}  // namespace apd::detail
