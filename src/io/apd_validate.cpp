// The structural checks of an apd/1 file, on the parsed document: schema,
// widths, node ids and columns, links between consecutive columns, counts
// that agree across layers, links and instances. Checked in a fixed order, so
// a file with several faults always gets the same message.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd_document.hpp"

namespace apd::detail {

namespace {

class Validator {
 public:
  Validator(ApdDocument&& doc, std::string name) : doc_(std::move(doc)), name_(std::move(name)) {}

  Diagram run() {
    schema();
    graph();
    nodes();
    links();
    counts();
    instances();
    return std::move(d_);
  }

 private:
  [[noreturn]] void fail(const std::string& where, const std::string& what) const {
    throw Error(fmt::format("{}: {}: {}", name_, where, what));
  }

  void require_type(const char* field, JsonType got, JsonType expected) const {
    if (got == JsonType::absent) fail("top level", fmt::format("missing field \"{}\"", field));
    if (got != expected)
      fail(field,
           fmt::format("expected {}, got {}", expected == JsonType::array ? "an array" : "an object", type_name(got)));
  }

  void schema() const {
    if (doc_.top != JsonType::object) fail("top level", fmt::format("expected an object, got {}", type_name(doc_.top)));
    if (!doc_.schema) {
      throw Error(fmt::format("{}: not an APD file (no \"schema\" string; apd files carry \"schema\": \"{}\")", name_,
                              kSchema));
    }
    if (doc_.schema->starts_with("apd-run/")) {
      throw Error(fmt::format("{}: is an apd-train run.json, not an APD file (apd-stats --run DIR reads runs)", name_));
    }
    if (*doc_.schema != kSchema && *doc_.schema != kSchemaHex) {
      throw Error(fmt::format("{}: schema \"{}\" is not understood (this apd reads: {}, {})", name_, *doc_.schema,
                              kSchema, kSchemaHex));
    }
  }

  void graph() {
    require_type("graph", doc_.graph_type, JsonType::object);
    d_.graph = std::move(doc_.graph);
    // apd/2 differs from apd/1 only in how patterns are written: in memory
    // a diagram is the same either way.
    if (d_.graph.contains("schema")) d_.graph["schema"] = kSchema;
    const auto widths = d_.graph.find("widths");
    if (widths == d_.graph.end()) fail("graph", "missing field \"widths\"");
    if (!widths->is_array()) fail("graph.widths", fmt::format("expected an array, got {}", widths->type_name()));
    if (widths->empty()) fail("graph.widths", "at least one hidden layer is needed");
    if (widths->size() > kMaxApdLayers) {
      fail("graph.widths", fmt::format("{} layers; an APD holds at most {}", widths->size(), kMaxApdLayers));
    }
    for (std::size_t l = 0; l < widths->size(); ++l) {
      const nlohmann::json& w = (*widths)[l];
      if (!w.is_number_unsigned() || w.get<std::uint64_t>() == 0 || w.get<std::uint64_t>() > kMaxWidth) {
        fail(fmt::format("graph.widths[{}]", l), fmt::format("expected a positive integer up to {}", kMaxWidth));
      }
      d_.widths.push_back(w.get<std::size_t>());
    }
    d_.instances = count_field("instances");
    d_.errors = count_field("errors");
    if (d_.errors > d_.instances)
      fail("graph.errors", fmt::format("{} errors among {} instances", d_.errors, d_.instances));
  }

  std::uint64_t count_field(const char* key) const {
    const auto it = d_.graph.find(key);
    if (it == d_.graph.end()) fail("graph", fmt::format("missing field \"{}\"", key));
    if (!it->is_number_unsigned()) {
      fail(fmt::format("graph.{}", key), fmt::format("expected a non-negative integer, got {}", it->type_name()));
    }
    return it->get<std::uint64_t>();
  }

  void nodes() {
    require_type("nodes", doc_.nodes_type, JsonType::array);
    const std::size_t L = d_.layers();
    if (doc_.nodes.size() >= std::numeric_limits<std::uint32_t>::max()) fail("nodes", "more than 2^32-1 nodes");
    std::vector<std::uint32_t> next_rank(L + 2, 0);
    for (std::size_t k = 0; k < doc_.nodes.size(); ++k) {
      Node& node = doc_.nodes[k];
      if (node.kind == NodeKind::label) {
        node.layer = static_cast<std::uint32_t>(L + 1);
        if (!label_node_.emplace(node.label, static_cast<std::uint32_t>(k)).second) {
          fail(fmt::format("nodes[{}].label", k), fmt::format("a second node for label {}", node.label));
        }
      } else {
        check_pattern(k);
      }
      node.rank = next_rank[node.layer]++;
    }
    d_.nodes = std::move(doc_.nodes);
    d_.pattern_words = std::move(doc_.pattern_words);
    d_.histograms = std::move(doc_.histograms);
    index_ids();
  }

  void check_pattern(std::size_t k) {
    const std::int64_t layer = doc_.node_layer[k];
    const std::size_t L = d_.layers();
    if (layer < 1 || static_cast<std::uint64_t>(layer) > L)
      fail(fmt::format("nodes[{}].layer", k), fmt::format("{} is outside 1..{}", layer, L));
    Node& node = doc_.nodes[k];
    node.layer = static_cast<std::uint32_t>(layer);
    const std::size_t width = d_.widths[node.layer - 1];
    if (doc_.pattern_hex[k] != 0) {
      check_hex_pattern(k, width);
    } else if (doc_.pattern_bits[k] != width) {
      fail(fmt::format("nodes[{}].pattern", k),
           fmt::format("{} bits, layer {} has {} neurons", doc_.pattern_bits[k], layer, width));
    }
  }

  // A pattern_hex holds whole bytes: 2 * ceil(width / 8) digits, its padding
  // bits zero, and only in apd/2 files.
  void check_hex_pattern(std::size_t k, std::size_t width) const {
    const std::string field = fmt::format("nodes[{}].pattern_hex", k);
    if (*doc_.schema != kSchemaHex) fail(field, fmt::format("needs schema \"{}\"", kSchemaHex));
    if (doc_.pattern_bits[k] != 4 * pattern_hex_digits(width)) {
      fail(field, fmt::format("{} digits, layer {} of {} neurons takes {}", doc_.pattern_bits[k] / 4,
                              doc_.nodes[k].layer, width, pattern_hex_digits(width)));
    }
    const std::size_t tail = width % 64;
    const std::size_t last = doc_.nodes[k].pattern_offset + (width + 63) / 64 - 1;
    if (tail != 0 && (doc_.pattern_words[last] >> tail) != 0) fail(field, "padding bits after the last neuron are set");
  }

  // Files written by apd use ids "l<layer>n<rank>" and "y<label>": those
  // resolve by their digits, without a hash map of strings.
  void index_ids() {
    const std::size_t L = d_.layers();
    canonical_ = true;
    by_rank_.assign(L + 1, {});
    for (std::size_t k = 0; k < d_.nodes.size(); ++k) {
      if (d_.nodes[k].kind == NodeKind::pattern) by_rank_[d_.nodes[k].layer].push_back(static_cast<std::uint32_t>(k));
    }
    for (std::size_t k = 0; k < d_.nodes.size() && canonical_; ++k) {
      canonical_ = parse_canonical(doc_.node_ids[k]) == static_cast<std::int64_t>(k);
    }
    if (canonical_) return;
    ids_.reserve(d_.nodes.size());
    for (std::size_t k = 0; k < d_.nodes.size(); ++k) {
      if (!ids_.emplace(doc_.node_ids[k], static_cast<std::uint32_t>(k)).second) {
        fail(fmt::format("nodes[{}].id", k), fmt::format("duplicate id \"{}\"", doc_.node_ids[k]));
      }
    }
  }

  // A node and its column (1..L, L+1 for labels); node -1 if no node has the id.
  struct NodeRef {
    std::int64_t node = -1;
    std::uint32_t column = 0;
  };

  // Canonical ids say the node's column themselves: for a million random
  // instances, not loading each node to check it saves most of the time.
  [[nodiscard]] NodeRef find_node(std::string_view id) const {
    if (!canonical_) {
      const auto it = ids_.find(id);
      if (it == ids_.end()) return {};
      return {std::int64_t{it->second}, d_.nodes[it->second].layer};
    }
    NodeRef ref;
    ref.node = parse_canonical(id, &ref.column);
    return ref;
  }

  // The node that the canonical id "l<layer>n<rank>" or "y<label>" names, or
  // -1. Numbers without leading zeros: each node has exactly one canonical id.
  [[nodiscard]] std::int64_t parse_canonical(std::string_view id, std::uint32_t* column = nullptr) const {
    std::size_t at = 1;
    auto number = [&]() -> std::int64_t {
      std::int64_t v = 0;
      const std::size_t start = at;
      while (at < id.size() && id[at] >= '0' && id[at] <= '9' && at - start < 10) v = v * 10 + (id[at++] - '0');
      const bool leading_zero = at - start > 1 && id[start] == '0';
      return at == start || leading_zero ? -1 : v;
    };
    std::int64_t node = -1;
    if (!id.empty() && id[0] == 'y') {
      const std::int64_t label = number();
      if (label < 0 || at != id.size() || label > std::numeric_limits<std::int32_t>::max()) return -1;
      const auto it = label_node_.find(static_cast<std::int32_t>(label));
      if (it == label_node_.end()) return -1;
      node = it->second;
      if (column != nullptr) *column = static_cast<std::uint32_t>(by_rank_.size());
    } else {
      if (id.empty() || id[0] != 'l') return -1;
      const std::int64_t layer = number();
      if (layer < 1 || static_cast<std::size_t>(layer) >= by_rank_.size() || at >= id.size() || id[at++] != 'n')
        return -1;
      const std::int64_t rank = number();
      const auto& nodes = by_rank_[static_cast<std::size_t>(layer)];
      if (rank < 0 || at != id.size() || static_cast<std::size_t>(rank) >= nodes.size()) return -1;
      node = nodes[static_cast<std::size_t>(rank)];
      if (column != nullptr) *column = static_cast<std::uint32_t>(layer);
    }
    return node;
  }

  [[nodiscard]] NodeRef node_of(std::string_view id, std::size_t link, const char* end) const {
    const NodeRef ref = find_node(id);
    if (ref.node < 0) fail(fmt::format("links[{}].{}", link, end), fmt::format("no node has id \"{}\"", id));
    return ref;
  }

  void links() {
    require_type("links", doc_.links_type, JsonType::array);
    d_.links = std::move(doc_.links);
    for (std::size_t k = 0; k < d_.links.size(); ++k) {
      Link& link = d_.links[k];
      const NodeRef s = node_of(doc_.link_ends[2 * k], k, "source");
      const NodeRef t = node_of(doc_.link_ends[2 * k + 1], k, "target");
      link.source = static_cast<std::uint32_t>(s.node);
      link.target = static_cast<std::uint32_t>(t.node);
      if (s.column > d_.layers() || t.column != s.column + 1) {
        fail(fmt::format("links[{}]", k),
             fmt::format("links column {} to column {}: links join consecutive layers, the last to a label", s.column,
                         t.column));
      }
    }
  }

  // Sums that must agree, in 128 bits: counts near 2^64 must not wrap into agreement.
  __extension__ typedef unsigned __int128 Sum;

  void counts() const {
    const std::size_t L = d_.layers();
    std::vector<Sum> column_count(L + 2, 0), column_errors(L + 2, 0);
    for (const Node& n : d_.nodes) {
      column_count[n.layer] += n.count;
      column_errors[n.layer] += n.errors;
    }
    for (std::size_t c = 1; c <= L + 1; ++c) {
      const std::string what = c <= L ? fmt::format("layer {}", c) : std::string("label nodes");
      if (column_count[c] != d_.instances)
        fail(what, fmt::format("node counts sum to {}, graph.instances says {}", text(column_count[c]), d_.instances));
      if (column_errors[c] != d_.errors)
        fail(what, fmt::format("node errors sum to {}, graph.errors says {}", text(column_errors[c]), d_.errors));
    }
    const std::size_t n = d_.nodes.size();
    std::vector<Sum> out_count(n, 0), in_count(n, 0), out_errors(n, 0), in_errors(n, 0);
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
        fail(fmt::format("nodes[{}]", k),
             fmt::format("count {} / errors {} do not match its links (in {}/{}, out {}/{})", node.count, node.errors,
                         text(in_count[k]), text(in_errors[k]), text(out_count[k]), text(out_errors[k])));
      }
    }
  }

  static std::string text(Sum v) {
    if (v <= std::numeric_limits<std::uint64_t>::max()) return std::to_string(static_cast<std::uint64_t>(v));
    return "more than 2^64-1";
  }

  // Every instance's distances, or none.
  void geometry(std::size_t count) {
    const auto& radius = doc_.region_radius;
    const auto given =
        static_cast<std::size_t>(std::count_if(radius.begin(), radius.end(), [](double x) { return !std::isnan(x); }));
    if (given == 0) return;
    if (radius.size() != count) {  // some records went the fast path, which has no distances
      fail("instances",
           "some records have region_radius and boundary_distance and some do not: a file has them "
           "for all instances or none");
    }
    if (given != count) {
      const auto first = std::find_if(radius.begin(), radius.end(), [](double x) { return std::isnan(x); });
      fail(fmt::format("instances[{}]", first - radius.begin()),
           "no region_radius, where other instances have one: a file has them for all instances or none");
    }
    d_.region_radius = std::move(doc_.region_radius);
    d_.boundary_distance = std::move(doc_.boundary_distance);
  }

  void instances() {
    if (doc_.instances_type == JsonType::absent) return;
    require_type("instances", doc_.instances_type, JsonType::array);
    const std::size_t L = d_.layers();
    const std::size_t count = doc_.index.size();
    if (count != d_.instances)
      fail("instances", fmt::format("{} records, graph.instances says {}", count, d_.instances));
    d_.has_instances = true;
    d_.index = std::move(doc_.index);
    d_.label = std::move(doc_.label);
    d_.predicted = std::move(doc_.predicted);
    geometry(count);
    d_.path.reserve(count * L);
    // Instances and wrong ones per node, side by side: one cache miss per visit.
    std::vector<std::array<std::uint64_t, 2>> seen(d_.nodes.size(), {0, 0});
    std::size_t id = 0;
    for (std::size_t i = 0; i < count; ++i) {
      auto where = [i] { return fmt::format("instances[{}]", i); };
      const bool is_wrong = d_.label[i] != d_.predicted[i];
      const auto predicted_node = label_node_.find(d_.predicted[i]);
      if (predicted_node == label_node_.end())
        fail(where() + ".predicted", fmt::format("no label node for predicted label {}", d_.predicted[i]));
      seen[predicted_node->second][0] += 1;
      seen[predicted_node->second][1] += is_wrong;
      if (doc_.path_count[i] != L)
        fail(where() + ".path", fmt::format("{} node ids, expected one per layer ({})", doc_.path_count[i], L));
      for (std::size_t l = 0; l < L; ++l, ++id) {
        const std::string_view key = doc_.path_ids[id];
        const NodeRef found = find_node(key);
        if (found.node < 0) fail(fmt::format("{}.path[{}]", where(), l), fmt::format("no node has id \"{}\"", key));
        const auto node = static_cast<std::uint32_t>(found.node);
        if (found.column != l + 1) {
          fail(fmt::format("{}.path[{}]", where(), l), fmt::format("node \"{}\" is not in layer {}", key, l + 1));
        }
        d_.path.push_back(node);
        seen[node][0] += 1;
        seen[node][1] += is_wrong;
      }
    }
    for (std::size_t k = 0; k < d_.nodes.size(); ++k) {
      if (seen[k][0] != d_.nodes[k].count || seen[k][1] != d_.nodes[k].errors) {
        fail(fmt::format("nodes[{}]", k), fmt::format("count {} / errors {}, but the instances give {} / {}",
                                                      d_.nodes[k].count, d_.nodes[k].errors, seen[k][0], seen[k][1]));
      }
    }
  }

  // Wider layers than this are no ReLU network's: a guard against files that
  // would make a pattern row allocate gigabytes.
  static constexpr std::uint64_t kMaxWidth = std::uint64_t{1} << 28;

  ApdDocument doc_;
  std::string name_;
  Diagram d_;
  std::unordered_map<std::string_view, std::uint32_t> ids_;  // views into doc_.node_ids
  std::unordered_map<std::int32_t, std::uint32_t> label_node_;
  bool canonical_ = false;
  std::vector<std::vector<std::uint32_t>> by_rank_;  // canonical ids: layer -> rank -> node
};

}  // namespace

Diagram validate_apd_document(ApdDocument&& doc, const std::string& name) {
  return Validator(std::move(doc), name).run();
}

}  // namespace apd::detail
