// Reader of apd/1 JSON. A SAX pass (nlohmann::json::sax_parse, no DOM: a
// million instances would cost gigabytes) type-checks each record as it
// streams and keeps it in compact form; a second pass checks the structure
// (ids, columns, widths, counts) in a fixed order. Every error names the
// offending field and position: "FILE: nodes[3].count: ...".
#include <algorithm>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/core/error.hpp"

namespace apd {

namespace {

using nlohmann::json;

// The JSON type names nlohmann uses, for "expected X, got Y" messages.
enum class Got { nothing, null, boolean, integer, unsigned_int, floating, string, object, array };

const char* got_name(Got g) {
  switch (g) {
    case Got::nothing: return "nothing";
    case Got::null: return "null";
    case Got::boolean: return "boolean";
    case Got::integer:
    case Got::unsigned_int:
    case Got::floating: return "number";
    case Got::string: return "string";
    case Got::object: return "object";
    case Got::array: return "array";
  }
  return "value";
}

// One scalar field of a record, as it arrived.
struct Field {
  Got got = Got::nothing;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  std::string s;
};

struct RawNode {
  std::string id;
  bool is_label = false;
  std::int64_t layer = 0;
  std::string pattern;
  std::int32_t label = 0;
  std::uint64_t count = 0, errors = 0;
  std::size_t true_begin = 0, true_size = 0, pred_begin = 0, pred_size = 0;
};

struct RawLink {
  std::string source, target;
  std::uint64_t count = 0, errors = 0;
};

enum class Section { top, graph, nodes, links, instances, skip };

class Handler : public nlohmann::json_sax<json> {
 public:
  explicit Handler(std::string name) : name_(std::move(name)) {}

  // --- results of the SAX pass
  Field schema;
  bool has_graph = false;
  json graph;
  Got nodes_got = Got::nothing, links_got = Got::nothing, instances_got = Got::nothing;
  std::vector<RawNode> nodes;
  std::vector<LabelCount> histograms;
  std::vector<RawLink> links;
  std::vector<std::int64_t> index;
  std::vector<std::int32_t> label, predicted;
  std::string path_chars;                   // node ids of all paths, back to back
  std::vector<std::uint32_t> path_end;      // end offset of each id in path_chars
  std::vector<std::uint32_t> path_count;    // ids per instance
  Got top_got = Got::nothing;

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", name_, where, what));
  }

  bool null() override { return scalar(Field{Got::null, 0, 0, {}}); }
  bool boolean(bool v) override { return scalar(Field{Got::boolean, v, 0, {}}); }
  bool number_integer(number_integer_t v) override {
    return scalar(Field{Got::integer, v, v >= 0 ? static_cast<std::uint64_t>(v) : 0, {}});
  }
  bool number_unsigned(number_unsigned_t v) override {
    return scalar(Field{Got::unsigned_int,
                        v <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ? static_cast<std::int64_t>(v) : -1,
                        v, {}});
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(Field{Got::floating, 0, 0, {}}); }
  bool string(string_t& v) override { return scalar(Field{Got::string, 0, 0, std::move(v)}); }
  bool binary(binary_t&) override { return scalar(Field{Got::string, 0, 0, {}}); }

  bool start_object(std::size_t) override { return open(Got::object); }
  bool start_array(std::size_t) override { return open(Got::array); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override {
    if (graph_depth_ > 0) return graph_key(k);
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw Error(fmt::format("{}: not valid JSON: {}", name_, e.what()));
  }

 private:
  // Where the parser is: depth 1 = top object, 2 = a section's array, 3 = a
  // record, 4 = a record's histogram or path.
  bool open(Got what) {
    ++depth_;
    if (graph_depth_ > 0) return graph_open(what);
    if (skip_depth_ > 0) return true;
    if (depth_ == 1) {
      top_got = what;
      return true;
    }
    if (depth_ == 2) {
      if (key_ == "graph") {
        if (what == Got::object) {
          has_graph = true;
          graph = json::object();
          graph_stack_ = {&graph};
          graph_depth_ = 1;
          return true;
        }
        has_graph = true;
        graph = what == Got::array ? json::array() : json();
        skip_depth_ = depth_;
        return true;
      }
      if (key_ == "nodes") section_ = Section::nodes, nodes_got = what;
      else if (key_ == "links") section_ = Section::links, links_got = what;
      else if (key_ == "instances") section_ = Section::instances, instances_got = what;
      else section_ = Section::skip;
      if (what != Got::array || section_ == Section::skip) skip_depth_ = depth_;
      return true;
    }
    if (depth_ == 3) return open_record(what);
    if (depth_ == 4) return open_nested(what);
    return true;
  }

  bool close() {
    if (graph_depth_ > 0) {
      graph_stack_.pop_back();
      --depth_;
      if (--graph_depth_ == 0) graph_stack_.clear();
      return true;
    }
    if (skip_depth_ > 0) {
      if (depth_ == skip_depth_) skip_depth_ = 0;
      --depth_;
      return true;
    }
    if (depth_ == 3) close_record();
    if (depth_ == 4) nested_ = Nested::none;
    --depth_;
    return true;
  }

  // --- graph metadata: kept as a small DOM
  bool graph_key(std::string& k) {
    graph_key_ = std::move(k);
    return true;
  }
  json& graph_slot(json value) {
    json& parent = *graph_stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      return parent.back();
    }
    parent[graph_key_] = std::move(value);
    return parent[graph_key_];
  }
  bool graph_open(Got what) {
    ++graph_depth_;
    graph_stack_.push_back(&graph_slot(what == Got::object ? json::object() : json::array()));
    return true;
  }
  bool graph_scalar(const Field& f) {
    switch (f.got) {
      case Got::null: graph_slot(nullptr); break;
      case Got::boolean: graph_slot(f.i != 0); break;
      case Got::integer: graph_slot(f.i); break;
      case Got::unsigned_int: graph_slot(f.u); break;
      case Got::string: graph_slot(f.s); break;
      default: break;
    }
    return true;
  }

  // --- records
  enum class Nested { none, true_labels, predicted_labels, path, skip };

  bool open_record(Got what) {
    if (what != Got::object) {
      fail(fmt::format("{}[{}]", section_name(), record_index()), fmt::format("expected an object, got {}", got_name(what)));
    }
    fields_.clear();
    hist_true_ = hist_pred_ = path_ = Got::nothing;
    hist_true_begin_ = hist_pred_begin_ = 0;
    hist_true_sum_ = hist_pred_sum_ = 0;
    path_ids_ = 0;
    return true;
  }

  bool open_nested(Got what) {
    const std::string where = fmt::format("{}.{}", record_where(), key_);
    if (section_ == Section::nodes && (key_ == "true_labels" || key_ == "predicted_labels")) {
      const bool is_true = key_ == "true_labels";
      (is_true ? hist_true_ : hist_pred_) = what;
      if (what != Got::object) fail(where, fmt::format("expected an object of label counts, got {}", got_name(what)));
      nested_ = is_true ? Nested::true_labels : Nested::predicted_labels;
      (is_true ? hist_true_begin_ : hist_pred_begin_) = histograms.size();
      return true;
    }
    if (section_ == Section::instances && key_ == "path") {
      path_ = what;
      if (what != Got::array) fail(where, fmt::format("expected an array, got {}", got_name(what)));
      nested_ = Nested::path;
      return true;
    }
    field_slot(key_) = Field{what, 0, 0, {}};
    nested_ = Nested::skip;
    skip_depth_ = depth_;
    return true;
  }

  bool scalar(Field f) {
    if (graph_depth_ > 0) return graph_scalar(f);
    if (skip_depth_ > 0) return true;
    if (depth_ == 1) {
      if (key_ == "schema") schema = std::move(f);
      else if (key_ == "graph") has_graph = true, graph = f.got == Got::string ? json(f.s) : json(nullptr);
      else if (key_ == "nodes") nodes_got = f.got;
      else if (key_ == "links") links_got = f.got;
      else if (key_ == "instances") instances_got = f.got;
      return true;
    }
    if (depth_ == 0) {
      top_got = f.got;
      return true;
    }
    if (depth_ == 2) {
      fail(fmt::format("{}[{}]", section_name(), record_index()), fmt::format("expected an object, got {}", got_name(f.got)));
    }
    if (depth_ == 3) {
      field_slot(key_) = std::move(f);
      return true;
    }
    if (depth_ == 4) nested_scalar(f);
    return true;
  }

  void nested_scalar(const Field& f) {
    if (nested_ == Nested::true_labels || nested_ == Nested::predicted_labels) {
      const bool is_true = nested_ == Nested::true_labels;
      auto where = [&] { return fmt::format("{}.{}", record_where(), is_true ? "true_labels" : "predicted_labels"); };
      std::int64_t lbl = 0;
      bool ok = !key_.empty() && key_.size() <= 10;
      for (const char c : key_) {
        ok = ok && c >= '0' && c <= '9';
        lbl = lbl * 10 + (c - '0');
      }
      if (!ok || lbl > std::numeric_limits<std::int32_t>::max()) {
        fail(where(), fmt::format("key \"{}\" is not a label (a non-negative integer)", key_));
      }
      if (f.got != Got::unsigned_int && !(f.got == Got::integer && f.i >= 0)) {
        fail(where() + "." + key_, fmt::format("expected a non-negative integer, got {}", got_name(f.got)));
      }
      histograms.push_back({static_cast<std::int32_t>(lbl), f.u});
      (is_true ? hist_true_sum_ : hist_pred_sum_) += f.u;
    } else if (nested_ == Nested::path) {
      if (f.got != Got::string) {
        fail(fmt::format("{}.path[{}]", record_where(), path_ids_), fmt::format("expected a node id, got {}", got_name(f.got)));
      }
      path_chars += f.s;
      path_end.push_back(static_cast<std::uint32_t>(path_chars.size()));
      ++path_ids_;
    }
  }

  const Field& need(const char* k) const {
    for (const auto& [name, f] : fields_) {
      if (name == k) return f;
    }
    fail(record_where(), fmt::format("missing field \"{}\"", k));
  }
  std::uint64_t need_uint(const char* k) const {
    const Field& f = need(k);
    if (f.got != Got::unsigned_int && !(f.got == Got::integer && f.i >= 0)) {
      fail(record_where() + "." + k, fmt::format("expected a non-negative integer, got {}", got_name(f.got)));
    }
    return f.u;
  }
  std::int64_t need_int(const char* k) const {
    const Field& f = need(k);
    if ((f.got != Got::integer && f.got != Got::unsigned_int) || (f.got == Got::unsigned_int && f.i < 0)) {
      fail(record_where() + "." + k, fmt::format("expected an integer, got {}", got_name(f.got)));
    }
    return f.i;
  }
  std::int32_t need_label(const char* k) const {
    const std::int64_t v = need_int(k);
    if (v < 0 || v > std::numeric_limits<std::int32_t>::max()) {
      fail(record_where() + "." + k, fmt::format("label {} is outside 0..2^31-1", v));
    }
    return static_cast<std::int32_t>(v);
  }
  const std::string& need_string(const char* k) const {
    const Field& f = need(k);
    if (f.got != Got::string) fail(record_where() + "." + k, fmt::format("expected a string, got {}", got_name(f.got)));
    return f.s;
  }

  void close_record() {
    if (section_ == Section::nodes) {
      RawNode n;
      n.id = need_string("id");
      const std::string& kind = need_string("kind");
      n.count = need_uint("count");
      n.errors = need_uint("errors");
      if (n.errors > n.count) fail(record_where(), fmt::format("errors {} exceed count {}", n.errors, n.count));
      if (kind == "pattern") {
        n.layer = need_int("layer");
        n.pattern = need_string("pattern");
      } else if (kind == "label") {
        n.is_label = true;
        n.label = need_label("label");
      } else {
        fail(record_where() + ".kind", fmt::format("\"{}\" is neither \"pattern\" nor \"label\"", kind));
      }
      for (const bool is_true : {true, false}) {
        const char* field = is_true ? "true_labels" : "predicted_labels";
        if ((is_true ? hist_true_ : hist_pred_) == Got::nothing) fail(record_where(), fmt::format("missing field \"{}\"", field));
        if ((is_true ? hist_true_sum_ : hist_pred_sum_) != n.count) {
          fail(record_where() + "." + field, fmt::format("counts do not sum to the node's count {}", n.count));
        }
      }
      // The two histograms were appended one after the other; sort each by label.
      n.true_begin = hist_true_begin_;
      n.pred_begin = hist_pred_begin_;
      const std::size_t first_end = std::max(hist_true_begin_, hist_pred_begin_);
      n.true_size = (hist_true_begin_ < hist_pred_begin_ ? first_end : histograms.size()) - hist_true_begin_;
      n.pred_size = (hist_pred_begin_ < hist_true_begin_ ? first_end : histograms.size()) - hist_pred_begin_;
      auto by_label = [](const LabelCount& a, const LabelCount& b) { return a.label < b.label; };
      std::sort(histograms.begin() + static_cast<std::ptrdiff_t>(n.true_begin),
                histograms.begin() + static_cast<std::ptrdiff_t>(n.true_begin + n.true_size), by_label);
      std::sort(histograms.begin() + static_cast<std::ptrdiff_t>(n.pred_begin),
                histograms.begin() + static_cast<std::ptrdiff_t>(n.pred_begin + n.pred_size), by_label);
      nodes.push_back(std::move(n));
    } else if (section_ == Section::links) {
      RawLink l;
      l.source = need_string("source");
      l.target = need_string("target");
      l.count = need_uint("count");
      l.errors = need_uint("errors");
      if (l.errors > l.count) fail(record_where(), fmt::format("errors {} exceed count {}", l.errors, l.count));
      links.push_back(std::move(l));
    } else if (section_ == Section::instances) {
      index.push_back(need_int("index"));
      label.push_back(need_label("label"));
      predicted.push_back(need_label("predicted"));
      if (path_ == Got::nothing) fail(record_where(), "missing field \"path\"");
      path_count.push_back(static_cast<std::uint32_t>(path_ids_));
    }
  }

  const char* section_name() const {
    switch (section_) {
      case Section::nodes: return "nodes";
      case Section::links: return "links";
      case Section::instances: return "instances";
      default: return "?";
    }
  }
  std::size_t record_index() const {
    switch (section_) {
      case Section::nodes: return nodes.size();
      case Section::links: return links.size();
      case Section::instances: return index.size();
      default: return 0;
    }
  }
  std::string record_where() const { return fmt::format("{}[{}]", section_name(), record_index()); }

  std::string name_;
  int depth_ = 0;
  int skip_depth_ = 0;
  int graph_depth_ = 0;
  std::vector<json*> graph_stack_;
  std::string graph_key_;
  std::string key_;
  Section section_ = Section::top;
  Nested nested_ = Nested::none;
  // The record's scalar fields (a handful: a vector beats a hash map here).
  std::vector<std::pair<std::string, Field>> fields_;
  Field& field_slot(const std::string& k) {
    for (auto& [name, f] : fields_) {
      if (name == k) return f;
    }
    fields_.emplace_back(k, Field{});
    return fields_.back().second;
  }
  Got hist_true_ = Got::nothing, hist_pred_ = Got::nothing, path_ = Got::nothing;
  std::size_t hist_true_begin_ = 0, hist_pred_begin_ = 0;
  std::uint64_t hist_true_sum_ = 0, hist_pred_sum_ = 0;
  std::size_t path_ids_ = 0;
};

// The structural pass: builds the Diagram, checking ids, columns, widths and counts.
class Checker {
 public:
  Checker(std::string name, Handler& h) : name_(std::move(name)), h_(h) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", name_, where, what));
  }

  Diagram run() {
    if (h_.top_got != Got::object) fail("top level", fmt::format("expected an object, got {}", got_name(h_.top_got)));
    if (h_.schema.got != Got::string) {
      throw Error(fmt::format("{}: not an APD file (no \"schema\" string; apd files carry \"schema\": \"{}\")", name_, kSchema));
    }
    if (h_.schema.s.starts_with("apd-run/")) {
      throw Error(fmt::format("{}: is an apd-train run.json, not an APD file (apd-stats --run DIR reads runs)", name_));
    }
    if (h_.schema.s != kSchema) {
      throw Error(fmt::format("{}: schema \"{}\" is not understood (this apd reads: {})", name_, h_.schema.s, kSchema));
    }
    graph();
    nodes();
    links();
    counts();
    instances();
    return std::move(d_);
  }

 private:
  void graph() {
    if (!h_.has_graph) fail("top level", "missing field \"graph\"");
    if (!h_.graph.is_object()) fail("graph", fmt::format("expected an object, got {}", h_.graph.type_name()));
    d_.graph = std::move(h_.graph);
    const auto widths = d_.graph.find("widths");
    if (widths == d_.graph.end()) fail("graph", "missing field \"widths\"");
    if (!widths->is_array()) fail("graph.widths", fmt::format("expected an array, got {}", widths->type_name()));
    if (widths->empty()) fail("graph.widths", "at least one hidden layer is needed");
    for (std::size_t l = 0; l < widths->size(); ++l) {
      const json& w = (*widths)[l];
      if (!w.is_number_unsigned() || w.get<std::uint64_t>() == 0) fail(fmt::format("graph.widths[{}]", l), "expected a positive integer");
      d_.widths.push_back(w.get<std::size_t>());
    }
    d_.instances = count_field("instances");
    d_.errors = count_field("errors");
    if (d_.errors > d_.instances) fail("graph.errors", fmt::format("{} errors among {} instances", d_.errors, d_.instances));
  }

  std::uint64_t count_field(const char* key) {
    const auto it = d_.graph.find(key);
    if (it == d_.graph.end()) fail("graph", fmt::format("missing field \"{}\"", key));
    if (!it->is_number_unsigned()) {
      fail(fmt::format("graph.{}", key), fmt::format("expected a non-negative integer, got {}", it->type_name()));
    }
    return it->get<std::uint64_t>();
  }

  void nodes() {
    if (h_.nodes_got == Got::nothing) fail("top level", "missing field \"nodes\"");
    if (h_.nodes_got != Got::array) fail("nodes", fmt::format("expected an array, got {}", got_name(h_.nodes_got)));
    const std::size_t L = d_.layers();
    std::vector<std::uint32_t> next_rank(L + 2, 0);
    d_.histograms = std::move(h_.histograms);
    ids_.reserve(h_.nodes.size());
    for (std::size_t k = 0; k < h_.nodes.size(); ++k) {
      RawNode& raw = h_.nodes[k];
      const auto where = [k] { return fmt::format("nodes[{}]", k); };
      if (!ids_.emplace(raw.id, static_cast<std::uint32_t>(k)).second) fail(where() + ".id", fmt::format("duplicate id \"{}\"", raw.id));
      Node node;
      node.count = raw.count;
      node.errors = raw.errors;
      if (raw.is_label) {
        node.kind = NodeKind::label;
        node.layer = static_cast<std::uint32_t>(L + 1);
        node.label = raw.label;
      } else {
        if (raw.layer < 1 || static_cast<std::size_t>(raw.layer) > L) fail(where() + ".layer", fmt::format("{} is outside 1..{}", raw.layer, L));
        node.layer = static_cast<std::uint32_t>(raw.layer);
        const std::size_t width = d_.widths[node.layer - 1];
        if (raw.pattern.size() != width) {
          fail(where() + ".pattern", fmt::format("{} bits, layer {} has {} neurons", raw.pattern.size(), raw.layer, width));
        }
        node.pattern_offset = d_.pattern_words.size();
        d_.pattern_words.resize(node.pattern_offset + d_.words(node.layer), 0);
        for (std::size_t i = 0; i < width; ++i) {
          const char c = raw.pattern[i];
          if (c == '1') {
            d_.pattern_words[node.pattern_offset + i / 64] |= std::uint64_t{1} << (i % 64);
          } else if (c != '0') {
            fail(where() + ".pattern", fmt::format("character '{}' at position {} (only '0' and '1')", c, i + 1));
          }
        }
      }
      node.rank = next_rank[node.layer]++;
      node.true_begin = raw.true_begin;
      node.true_size = raw.true_size;
      node.pred_begin = raw.pred_begin;
      node.pred_size = raw.pred_size;
      d_.nodes.push_back(node);
      if (node.kind == NodeKind::label) label_node_[node.label] = static_cast<std::uint32_t>(k);
    }
    // Files written by apd use ids "l<layer>n<rank>" and "y<label>": those
    // resolve by their digits, without hashing strings.
    canonical_ = true;
    by_rank_.assign(L + 1, {});
    for (std::size_t k = 0; k < d_.nodes.size() && canonical_; ++k) {
      canonical_ = h_.nodes[k].id == d_.node_id(k);
      if (d_.nodes[k].kind == NodeKind::pattern) by_rank_[d_.nodes[k].layer].push_back(static_cast<std::uint32_t>(k));
    }
  }

  // Node index of `id`, or -1.
  std::int64_t find_node(const std::string& id) const {
    if (!canonical_) {
      const auto it = ids_.find(id);
      return it == ids_.end() ? std::int64_t{-1} : std::int64_t{it->second};
    }
    auto number = [&](std::size_t& at) -> std::int64_t {
      std::int64_t v = 0;
      const std::size_t start = at;
      while (at < id.size() && id[at] >= '0' && id[at] <= '9' && at - start < 10) v = v * 10 + (id[at++] - '0');
      return at == start ? -1 : v;
    };
    std::size_t at = 1;
    if (!id.empty() && id[0] == 'y') {
      const std::int64_t label = number(at);
      if (label < 0 || at != id.size() || label > std::numeric_limits<std::int32_t>::max()) return -1;
      const auto it = label_node_.find(static_cast<std::int32_t>(label));
      if (it == label_node_.end() || id.size() > 1 + std::to_string(label).size()) return -1;
      return std::int64_t{it->second};
    }
    if (id.empty() || id[0] != 'l') return -1;
    const std::int64_t layer = number(at);
    if (layer < 1 || static_cast<std::size_t>(layer) >= by_rank_.size() || at >= id.size() || id[at++] != 'n') return -1;
    const std::int64_t rank = number(at);
    const auto& nodes = by_rank_[static_cast<std::size_t>(layer)];
    if (rank < 0 || at != id.size() || static_cast<std::size_t>(rank) >= nodes.size()) return -1;
    const std::uint32_t node = nodes[static_cast<std::size_t>(rank)];
    if (h_.nodes[node].id != id) return -1;  // rejects leading zeros and the like
    return std::int64_t{node};
  }

  template <typename Where>
  std::uint32_t node_of(const std::string& id, const Where& where, const char* field) const {
    const std::int64_t node = find_node(id);
    if (node < 0) fail(where() + field, fmt::format("no node has id \"{}\"", id));
    return static_cast<std::uint32_t>(node);
  }

  void links() {
    if (h_.links_got == Got::nothing) fail("top level", "missing field \"links\"");
    if (h_.links_got != Got::array) fail("links", fmt::format("expected an array, got {}", got_name(h_.links_got)));
    for (std::size_t k = 0; k < h_.links.size(); ++k) {
      const RawLink& raw = h_.links[k];
      const auto where = [k] { return fmt::format("links[{}]", k); };
      Link link{node_of(raw.source, where, ".source"), node_of(raw.target, where, ".target"), raw.count, raw.errors};
      const Node& s = d_.nodes[link.source];
      const Node& t = d_.nodes[link.target];
      if (s.kind != NodeKind::pattern || t.layer != s.layer + 1) {
        fail(where(), fmt::format("links column {} to column {}: links join consecutive layers, the last to a label", s.layer, t.layer));
      }
      d_.links.push_back(link);
    }
  }

  void counts() const {
    const std::size_t L = d_.layers();
    std::vector<std::uint64_t> column_count(L + 2, 0), column_errors(L + 2, 0);
    for (const Node& n : d_.nodes) {
      column_count[n.layer] += n.count;
      column_errors[n.layer] += n.errors;
    }
    for (std::size_t c = 1; c <= L + 1; ++c) {
      const std::string what = c <= L ? fmt::format("layer {}", c) : std::string("label nodes");
      if (column_count[c] != d_.instances) fail(what, fmt::format("node counts sum to {}, graph.instances says {}", column_count[c], d_.instances));
      if (column_errors[c] != d_.errors) fail(what, fmt::format("node errors sum to {}, graph.errors says {}", column_errors[c], d_.errors));
    }
    const std::size_t n = d_.nodes.size();
    std::vector<std::uint64_t> out_count(n, 0), in_count(n, 0), out_errors(n, 0), in_errors(n, 0);
    for (const Link& link : d_.links) {
      out_count[link.source] += link.count;
      in_count[link.target] += link.count;
      out_errors[link.source] += link.errors;
      in_errors[link.target] += link.errors;
    }
    for (std::size_t k = 0; k < n; ++k) {
      const Node& node = d_.nodes[k];
      const bool has_out = node.kind == NodeKind::pattern;
      const bool has_in = node.layer > 1;
      if ((has_out && (out_count[k] != node.count || out_errors[k] != node.errors)) ||
          (has_in && (in_count[k] != node.count || in_errors[k] != node.errors))) {
        fail(fmt::format("nodes[{}]", k), fmt::format("count {} / errors {} do not match its links (in {}/{}, out {}/{})", node.count,
                                                      node.errors, in_count[k], in_errors[k], out_count[k], out_errors[k]));
      }
    }
  }

  void instances() {
    if (h_.instances_got == Got::nothing) return;
    if (h_.instances_got != Got::array) fail("instances", fmt::format("expected an array, got {}", got_name(h_.instances_got)));
    const std::size_t L = d_.layers();
    const std::size_t count = h_.index.size();
    if (count != d_.instances) fail("instances", fmt::format("{} records, graph.instances says {}", count, d_.instances));
    d_.has_instances = true;
    d_.index = std::move(h_.index);
    d_.label = std::move(h_.label);
    d_.predicted = std::move(h_.predicted);
    d_.path.reserve(count * L);
    std::vector<std::uint64_t> seen(d_.nodes.size(), 0), wrong(d_.nodes.size(), 0);
    std::size_t id = 0;
    std::uint32_t begin = 0;
    std::string key;
    for (std::size_t i = 0; i < count; ++i) {
      auto where = [i] { return fmt::format("instances[{}]", i); };
      const bool is_wrong = d_.label[i] != d_.predicted[i];
      const auto predicted_node = label_node_.find(d_.predicted[i]);
      if (predicted_node == label_node_.end()) fail(where() + ".predicted", fmt::format("no label node for predicted label {}", d_.predicted[i]));
      ++seen[predicted_node->second];
      wrong[predicted_node->second] += is_wrong;
      if (h_.path_count[i] != L) fail(where() + ".path", fmt::format("{} node ids, expected one per layer ({})", h_.path_count[i], L));
      for (std::size_t l = 0; l < L; ++l, ++id) {
        key.assign(h_.path_chars, begin, h_.path_end[id] - begin);
        begin = h_.path_end[id];
        const std::int64_t found = find_node(key);
        if (found < 0) fail(fmt::format("{}.path[{}]", where(), l), fmt::format("no node has id \"{}\"", key));
        const auto node = static_cast<std::uint32_t>(found);
        if (d_.nodes[node].layer != l + 1) {
          fail(fmt::format("{}.path[{}]", where(), l), fmt::format("node \"{}\" is not in layer {}", key, l + 1));
        }
        d_.path.push_back(node);
        ++seen[node];
        wrong[node] += is_wrong;
      }
    }
    for (std::size_t k = 0; k < d_.nodes.size(); ++k) {
      if (seen[k] != d_.nodes[k].count || wrong[k] != d_.nodes[k].errors) {
        fail(fmt::format("nodes[{}]", k), fmt::format("count {} / errors {}, but the instances give {} / {}", d_.nodes[k].count,
                                                      d_.nodes[k].errors, seen[k], wrong[k]));
      }
    }
  }

  std::string name_;
  Handler& h_;
  Diagram d_;
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::unordered_map<std::int32_t, std::uint32_t> label_node_;
  bool canonical_ = false;
  std::vector<std::vector<std::uint32_t>> by_rank_;  // canonical ids: layer -> rank -> node
};

}  // namespace

Diagram parse_apd_json(std::string_view text, const std::string& name) {
  Handler handler(name);
  json::sax_parse(text, &handler);
  return Checker(name, handler).run();
}

Diagram read_apd_file(const std::filesystem::path& path) {
  return parse_apd_json(read_text_file(path), path.string());
}

}  // namespace apd
