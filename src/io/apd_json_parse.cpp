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

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd_document.hpp"
#include "apd_json_records.hpp"
#include "json_window.hpp"

namespace apd::detail {

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

// The graph metadata is small and written by apd; deeper nesting is an attack.
constexpr int kMaxGraphDepth = 64;

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
  if (!widths.is_array() || !unique.is_array() || widths.size() != unique.size() || widths.size() > kMaxApdLayers)
    return;
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

  // The graph metadata alone: the scan stops once it is read.
  nlohmann::json graph_only() {
    graph_only_ = true;
    try {
      scan();
    } catch (const GraphRead&) {
      return std::move(doc_.graph);
    }
    fail(name_, "top level", "missing field \"graph\"");
  }

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
    if (graph_only_ && !is(key, "graph")) {
      in_.skip_value();  // nothing kept: the window drops what it passes
      return;
    }
    if (type == JsonType::array && (is(key, "nodes") || is(key, "links") || is(key, "instances"))) {
      return records(is(key, "nodes") ? Section::nodes : is(key, "links") ? Section::links : Section::instances);
    }
    nlohmann::json v = parse_whole(key);
    if (is(key, "schema") && v.is_string()) doc_.schema = v.get<std::string>();
    if (is(key, "graph")) {
      doc_.graph_type = type;
      doc_.graph = std::move(v);
      if (graph_only_) {
        if (!doc_.graph.is_object()) fail(name_, "graph", fmt::format("expected an object, got {}", type_name(type)));
        throw GraphRead{};
      }
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

  struct GraphRead {};  // thrown to stop the scan once the graph is read

  Window in_;
  std::string name_;
  bool graph_only_ = false;
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

nlohmann::json parse_apd_graph(ByteSource& source, const std::string& name) {
  return TopLevel(source, name).graph_only();
}

}  // namespace apd::detail
