// Reader of apd/1 JSON: validates structure and counts, and names the
// offending field ("FILE: nodes[3].count: ...") in every error.
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "apd/apd_json.hpp"
#include "apd/atomic_file.hpp"
#include "apd/error.hpp"

namespace apd {

namespace {

using nlohmann::json;

const char* type_name(const json& v) { return v.type_name(); }

class Reader {
 public:
  explicit Reader(std::string name) : name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", name_, where, what));
  }

  const json& field(const json& obj, const char* key, const std::string& where) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(where, fmt::format("missing field \"{}\"", key));
    return *it;
  }

  std::uint64_t get_uint(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
      fail(where + "." + key, fmt::format("expected a non-negative integer, got {}", type_name(v)));
    }
    return v.get<std::uint64_t>();
  }

  std::int64_t get_int(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_number_integer()) fail(where + "." + key, fmt::format("expected an integer, got {}", type_name(v)));
    return v.get<std::int64_t>();
  }

  std::int32_t get_label(const json& obj, const char* key, const std::string& where) const {
    const std::int64_t v = get_int(obj, key, where);
    if (v < 0 || v > std::numeric_limits<std::int32_t>::max()) {
      fail(where + "." + key, fmt::format("label {} is outside 0..2^31-1", v));
    }
    return static_cast<std::int32_t>(v);
  }

  const std::string& get_string(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_string()) fail(where + "." + key, fmt::format("expected a string, got {}", type_name(v)));
    return v.get_ref<const std::string&>();
  }

  const json& get_array(const json& obj, const char* key, const std::string& where) const {
    const json& v = field(obj, key, where);
    if (!v.is_array()) fail(where.empty() ? key : where + "." + key, fmt::format("expected an array, got {}", type_name(v)));
    return v;
  }

  // Appends a histogram object {"label": count, ...} to the pool; returns its sum.
  std::uint64_t read_histogram(const json& obj, const char* key, const std::string& where,
                               std::vector<LabelCount>& pool) const {
    const json& v = field(obj, key, where);
    const std::string at = where + "." + key;
    if (!v.is_object()) fail(at, fmt::format("expected an object of label counts, got {}", type_name(v)));
    const std::size_t begin = pool.size();
    std::uint64_t sum = 0;
    for (const auto& [label_text, count] : v.items()) {
      std::size_t used = 0;
      long long label = -1;
      try {
        label = std::stoll(label_text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != label_text.size() || label < 0 || label > std::numeric_limits<std::int32_t>::max()) {
        fail(at, fmt::format("key \"{}\" is not a label (a non-negative integer)", label_text));
      }
      if (!count.is_number_unsigned() && !(count.is_number_integer() && count.get<std::int64_t>() >= 0)) {
        fail(at + "." + label_text, fmt::format("expected a non-negative integer, got {}", type_name(count)));
      }
      pool.push_back({static_cast<std::int32_t>(label), count.get<std::uint64_t>()});
      sum += count.get<std::uint64_t>();
    }
    std::sort(pool.begin() + static_cast<std::ptrdiff_t>(begin), pool.end(),
              [](const LabelCount& a, const LabelCount& b) { return a.label < b.label; });
    return sum;
  }

  Diagram read(const json& doc) const;

 private:
  void read_graph(const json& doc, Diagram& d) const;
  void read_nodes(const json& doc, Diagram& d, std::unordered_map<std::string, std::uint32_t>& ids) const;
  void read_links(const json& doc, Diagram& d, const std::unordered_map<std::string, std::uint32_t>& ids) const;
  void read_instances(const json& doc, Diagram& d, const std::unordered_map<std::string, std::uint32_t>& ids) const;
  void check_counts(const Diagram& d) const;

  std::string name_;
};

void Reader::read_graph(const json& doc, Diagram& d) const {
  const json& graph = field(doc, "graph", "top level");
  if (!graph.is_object()) fail("graph", fmt::format("expected an object, got {}", type_name(graph)));
  d.graph = graph;
  const json& widths = get_array(graph, "widths", "graph");
  if (widths.empty()) fail("graph.widths", "at least one hidden layer is needed");
  for (std::size_t l = 0; l < widths.size(); ++l) {
    if (!widths[l].is_number_unsigned() || widths[l].get<std::uint64_t>() == 0) {
      fail(fmt::format("graph.widths[{}]", l), "expected a positive integer");
    }
    d.widths.push_back(widths[l].get<std::size_t>());
  }
  d.instances = get_uint(graph, "instances", "graph");
  d.errors = get_uint(graph, "errors", "graph");
  if (d.errors > d.instances) fail("graph.errors", fmt::format("{} errors among {} instances", d.errors, d.instances));
}

void Reader::read_nodes(const json& doc, Diagram& d, std::unordered_map<std::string, std::uint32_t>& ids) const {
  const json& nodes = get_array(doc, "nodes", "");
  const std::size_t L = d.layers();
  std::vector<std::uint32_t> next_rank(L + 2, 0);
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const std::string where = fmt::format("nodes[{}]", k);
    const json& obj = nodes[k];
    if (!obj.is_object()) fail(where, fmt::format("expected an object, got {}", type_name(obj)));
    Node node;
    const std::string& id = get_string(obj, "id", where);
    if (!ids.emplace(id, static_cast<std::uint32_t>(k)).second) fail(where + ".id", fmt::format("duplicate id \"{}\"", id));
    const std::string& kind = get_string(obj, "kind", where);
    node.count = get_uint(obj, "count", where);
    node.errors = get_uint(obj, "errors", where);
    if (node.errors > node.count) fail(where, fmt::format("errors {} exceed count {}", node.errors, node.count));
    if (kind == "pattern") {
      const std::int64_t layer = get_int(obj, "layer", where);
      if (layer < 1 || static_cast<std::size_t>(layer) > L) fail(where + ".layer", fmt::format("{} is outside 1..{}", layer, L));
      node.layer = static_cast<std::uint32_t>(layer);
      const std::string& bits = get_string(obj, "pattern", where);
      const std::size_t width = d.widths[node.layer - 1];
      if (bits.size() != width) {
        fail(where + ".pattern", fmt::format("{} bits, layer {} has {} neurons", bits.size(), layer, width));
      }
      node.pattern_offset = d.pattern_words.size();
      d.pattern_words.resize(node.pattern_offset + d.words(node.layer), 0);
      for (std::size_t i = 0; i < width; ++i) {
        if (bits[i] == '1') {
          d.pattern_words[node.pattern_offset + i / 64] |= std::uint64_t{1} << (i % 64);
        } else if (bits[i] != '0') {
          fail(where + ".pattern", fmt::format("character '{}' at position {} (only '0' and '1')", bits[i], i + 1));
        }
      }
    } else if (kind == "label") {
      node.kind = NodeKind::label;
      node.layer = static_cast<std::uint32_t>(L + 1);
      node.label = get_label(obj, "label", where);
    } else {
      fail(where + ".kind", fmt::format("\"{}\" is neither \"pattern\" nor \"label\"", kind));
    }
    node.rank = next_rank[node.layer]++;
    node.true_begin = d.histograms.size();
    if (read_histogram(obj, "true_labels", where, d.histograms) != node.count) {
      fail(where + ".true_labels", fmt::format("counts do not sum to the node's count {}", node.count));
    }
    node.true_size = d.histograms.size() - node.true_begin;
    node.pred_begin = d.histograms.size();
    if (read_histogram(obj, "predicted_labels", where, d.histograms) != node.count) {
      fail(where + ".predicted_labels", fmt::format("counts do not sum to the node's count {}", node.count));
    }
    node.pred_size = d.histograms.size() - node.pred_begin;
    d.nodes.push_back(node);
  }
}

void Reader::read_links(const json& doc, Diagram& d, const std::unordered_map<std::string, std::uint32_t>& ids) const {
  const json& links = get_array(doc, "links", "");
  for (std::size_t k = 0; k < links.size(); ++k) {
    const std::string where = fmt::format("links[{}]", k);
    const json& obj = links[k];
    if (!obj.is_object()) fail(where, fmt::format("expected an object, got {}", type_name(obj)));
    Link link;
    for (const char* end : {"source", "target"}) {
      const std::string& id = get_string(obj, end, where);
      const auto it = ids.find(id);
      if (it == ids.end()) fail(where + "." + end, fmt::format("no node has id \"{}\"", id));
      (std::string_view(end) == "source" ? link.source : link.target) = it->second;
    }
    const Node& s = d.nodes[link.source];
    const Node& t = d.nodes[link.target];
    if (s.kind != NodeKind::pattern || t.layer != s.layer + 1) {
      fail(where, fmt::format("links column {} to column {}: links join consecutive layers, the last to a label",
                              s.layer, t.layer));
    }
    link.count = get_uint(obj, "count", where);
    link.errors = get_uint(obj, "errors", where);
    if (link.errors > link.count) fail(where, fmt::format("errors {} exceed count {}", link.errors, link.count));
    d.links.push_back(link);
  }
}

void Reader::read_instances(const json& doc, Diagram& d, const std::unordered_map<std::string, std::uint32_t>& ids) const {
  const auto it = doc.find("instances");
  if (it == doc.end()) return;
  if (!it->is_array()) fail("instances", fmt::format("expected an array, got {}", type_name(*it)));
  const json& records = *it;
  const std::size_t L = d.layers();
  if (records.size() != d.instances) {
    fail("instances", fmt::format("{} records, graph.instances says {}", records.size(), d.instances));
  }
  d.has_instances = true;
  d.index.reserve(records.size());
  d.path.reserve(records.size() * L);
  std::vector<std::uint64_t> seen(d.nodes.size(), 0), wrong(d.nodes.size(), 0);
  std::unordered_map<std::int32_t, std::uint32_t> label_node;
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    if (d.nodes[k].kind == NodeKind::label) label_node[d.nodes[k].label] = static_cast<std::uint32_t>(k);
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const std::string where = fmt::format("instances[{}]", i);
    const json& obj = records[i];
    if (!obj.is_object()) fail(where, fmt::format("expected an object, got {}", type_name(obj)));
    d.index.push_back(get_int(obj, "index", where));
    d.label.push_back(get_label(obj, "label", where));
    d.predicted.push_back(get_label(obj, "predicted", where));
    const bool is_wrong = d.label.back() != d.predicted.back();
    const auto predicted_node = label_node.find(d.predicted.back());
    if (predicted_node == label_node.end()) {
      fail(where + ".predicted", fmt::format("no label node for predicted label {}", d.predicted.back()));
    }
    ++seen[predicted_node->second];
    wrong[predicted_node->second] += is_wrong;
    const json& path = get_array(obj, "path", where);
    if (path.size() != L) fail(where + ".path", fmt::format("{} node ids, expected one per layer ({})", path.size(), L));
    for (std::size_t l = 0; l < L; ++l) {
      const std::string at = fmt::format("{}.path[{}]", where, l);
      if (!path[l].is_string()) fail(at, fmt::format("expected a node id, got {}", type_name(path[l])));
      const auto node = ids.find(path[l].get_ref<const std::string&>());
      if (node == ids.end()) fail(at, fmt::format("no node has id \"{}\"", path[l].get_ref<const std::string&>()));
      if (d.nodes[node->second].layer != l + 1) {
        fail(at, fmt::format("node \"{}\" is not in layer {}", path[l].get_ref<const std::string&>(), l + 1));
      }
      d.path.push_back(node->second);
      ++seen[node->second];
      wrong[node->second] += is_wrong;
    }
  }
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    if (seen[k] != d.nodes[k].count || wrong[k] != d.nodes[k].errors) {
      fail(fmt::format("nodes[{}]", k), fmt::format("count {} / errors {}, but the instances give {} / {}",
                                                    d.nodes[k].count, d.nodes[k].errors, seen[k], wrong[k]));
    }
  }
}

void Reader::check_counts(const Diagram& d) const {
  const std::size_t L = d.layers();
  std::vector<std::uint64_t> column_count(L + 2, 0), column_errors(L + 2, 0), link_count(L + 2, 0);
  for (const Node& n : d.nodes) {
    column_count[n.layer] += n.count;
    column_errors[n.layer] += n.errors;
  }
  for (std::size_t c = 1; c <= L + 1; ++c) {
    const std::string what = c <= L ? fmt::format("layer {}", c) : std::string("label nodes");
    if (column_count[c] != d.instances) {
      fail(what, fmt::format("node counts sum to {}, graph.instances says {}", column_count[c], d.instances));
    }
    if (column_errors[c] != d.errors) {
      fail(what, fmt::format("node errors sum to {}, graph.errors says {}", column_errors[c], d.errors));
    }
  }
  std::vector<std::uint64_t> out_count(d.nodes.size(), 0), in_count(d.nodes.size(), 0);
  std::vector<std::uint64_t> out_errors(d.nodes.size(), 0), in_errors(d.nodes.size(), 0);
  for (const Link& link : d.links) {
    link_count[d.nodes[link.source].layer] += link.count;
    out_count[link.source] += link.count;
    in_count[link.target] += link.count;
    out_errors[link.source] += link.errors;
    in_errors[link.target] += link.errors;
  }
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    const Node& n = d.nodes[k];
    const bool has_out = n.kind == NodeKind::pattern;
    const bool has_in = n.layer > 1;
    if ((has_out && (out_count[k] != n.count || out_errors[k] != n.errors)) ||
        (has_in && (in_count[k] != n.count || in_errors[k] != n.errors))) {
      fail(fmt::format("nodes[{}]", k),
           fmt::format("count {} / errors {} do not match its links (in {}/{}, out {}/{})", n.count, n.errors,
                       in_count[k], in_errors[k], out_count[k], out_errors[k]));
    }
  }
}

Diagram Reader::read(const json& doc) const {
  if (!doc.is_object()) fail("top level", fmt::format("expected an object, got {}", type_name(doc)));
  const auto schema = doc.find("schema");
  if (schema == doc.end() || !schema->is_string()) {
    throw Error(fmt::format("{}: not an APD file (no \"schema\" string; apd files carry \"schema\": \"{}\")", name_, kSchema));
  }
  if (schema->get_ref<const std::string&>() != kSchema) {
    throw Error(fmt::format("{}: schema \"{}\" is not understood (this apd reads: {})", name_,
                            schema->get_ref<const std::string&>(), kSchema));
  }
  Diagram d;
  std::unordered_map<std::string, std::uint32_t> ids;
  read_graph(doc, d);
  read_nodes(doc, d, ids);
  read_links(doc, d, ids);
  check_counts(d);
  read_instances(doc, d, ids);
  return d;
}

}  // namespace

Diagram parse_apd_json(std::string_view text, const std::string& name) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", name, e.what()));
  }
  return Reader(name).read(doc);
}

Diagram read_apd_file(const std::filesystem::path& path) {
  return parse_apd_json(read_text_file(path), path.string());
}

}  // namespace apd
