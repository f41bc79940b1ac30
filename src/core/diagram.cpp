#include "apd/core/diagram.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "parallel.hpp"

namespace apd {

std::string Diagram::node_id(std::size_t node) const {
  const Node& n = nodes.at(node);
  if (n.kind == NodeKind::label) return fmt::format("y{}", n.label);
  return fmt::format("l{}n{}", n.layer, n.rank);
}

std::span<const std::uint64_t> Diagram::pattern_row(std::size_t node) const {
  const Node& n = nodes.at(node);
  return {pattern_words.data() + n.pattern_offset, words(n.layer)};
}

std::string Diagram::pattern(std::size_t node) const {
  const Node& n = nodes.at(node);
  if (n.kind != NodeKind::pattern) return {};
  return pattern_to_string(pattern_row(node), widths[n.layer - 1]);
}

std::vector<std::size_t> Diagram::unique_patterns() const {
  std::vector<std::size_t> out(layers(), 0);
  for (const Node& n : nodes) {
    if (n.kind == NodeKind::pattern) ++out[n.layer - 1];
  }
  return out;
}

void complete_metadata(Diagram& d) {
  d.graph["schema"] = kSchema;
  d.graph["layers"] = d.layers();
  d.graph["widths"] = d.widths;
  d.graph["unique_patterns"] = d.unique_patterns();
  d.graph["instances"] = d.instances;
  d.graph["errors"] = d.errors;
}

namespace {

std::uint64_t reverse_bits(std::uint64_t v) noexcept {
  v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
  v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
  v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
  return __builtin_bswap64(v);
}

// Orders the groups of one layer by descending count, then pattern text.
// Returns rank[group].
std::vector<std::uint32_t> rank_groups(const PatternStore& store, std::size_t layer, const Grouping& g) {
  std::vector<std::uint32_t> order(g.groups());
  if (store.words(layer) == 1) {
    // One word: neuron 1 is bit 0 but the most significant character, so
    // the bit-reversed word orders exactly like the '0'/'1' string.
    struct Key {
      std::uint64_t count;
      std::uint64_t pattern;
      std::uint32_t group;
    };
    std::vector<Key> keys(g.groups());
    for (std::uint32_t grp = 0; grp < g.groups(); ++grp) {
      keys[grp] = {g.count[grp], reverse_bits(store.row(layer, g.first[grp])[0]), grp};
    }
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) {
      if (a.count != b.count) return a.count > b.count;
      return a.pattern < b.pattern;
    });
    for (std::size_t r = 0; r < keys.size(); ++r) order[r] = keys[r].group;
  } else {
    std::iota(order.begin(), order.end(), 0U);
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (g.count[a] != g.count[b]) return g.count[a] > g.count[b];
      return compare_patterns(store.row(layer, g.first[a]), store.row(layer, g.first[b])) < 0;
    });
  }
  std::vector<std::uint32_t> rank(g.groups());
  for (std::size_t r = 0; r < order.size(); ++r) rank[order[r]] = static_cast<std::uint32_t>(r);
  return rank;
}

// Appends one histogram of `values` over `first..last` to `pool`, sorted by
// label; `dense` is zeroed scratch indexed by label (empty: use a map).
void append_histogram(std::vector<std::int32_t>::const_iterator first, std::vector<std::int32_t>::const_iterator last,
                      std::vector<std::uint64_t>& dense, std::vector<LabelCount>& pool) {
  const std::size_t begin = pool.size();
  if (!dense.empty()) {
    for (auto it = first; it != last; ++it) ++dense[static_cast<std::size_t>(*it)];
    for (auto it = first; it != last; ++it) {
      auto& c = dense[static_cast<std::size_t>(*it)];
      if (c != 0) {
        pool.push_back({*it, c});
        c = 0;
      }
    }
    std::sort(pool.begin() + static_cast<std::ptrdiff_t>(begin), pool.end(),
              [](const LabelCount& a, const LabelCount& b) { return a.label < b.label; });
  } else {
    std::map<std::int32_t, std::uint64_t> counts;
    for (auto it = first; it != last; ++it) ++counts[*it];
    for (const auto& [label, c] : counts) pool.push_back({label, c});
  }
}

// Appends, for each node of one column in node order, the histogram of true
// labels and then of predicted labels over its instances. The nodes of a
// column are contiguous and columns come in node order, so the pool ends up
// in node order too (the layout the reader produces).
void append_histograms(std::span<const std::uint32_t> node_of, std::span<const std::int32_t> true_labels,
                       std::span<const std::int32_t> predicted, std::vector<Node>& nodes,
                       std::vector<LabelCount>& pool) {
  if (node_of.empty()) return;
  const auto [lo_it, hi_it] = std::minmax_element(node_of.begin(), node_of.end());
  const std::size_t lo = *lo_it;
  const std::size_t span = std::size_t{*hi_it} - lo + 1;
  // Counting sort of the instances by node.
  std::vector<std::size_t> start(span + 1, 0);
  for (const std::uint32_t node : node_of) ++start[node - lo + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::int32_t> sorted_true(node_of.size()), sorted_pred(node_of.size());
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < node_of.size(); ++i) {
      const std::size_t at = next[node_of[i] - lo]++;
      sorted_true[at] = true_labels[i];
      sorted_pred[at] = predicted[i];
    }
  }
  const std::int32_t max_value = std::max(*std::max_element(true_labels.begin(), true_labels.end()),
                                          *std::max_element(predicted.begin(), predicted.end()));
  constexpr std::int32_t kDenseLimit = 1 << 16;
  std::vector<std::uint64_t> dense(max_value < kDenseLimit ? static_cast<std::size_t>(max_value) + 1 : 0, 0);
  for (std::size_t k = 0; k < span; ++k) {
    Node& node = nodes[lo + k];
    const auto from = static_cast<std::ptrdiff_t>(start[k]);
    const auto to = static_cast<std::ptrdiff_t>(start[k + 1]);
    node.true_begin = pool.size();
    append_histogram(sorted_true.cbegin() + from, sorted_true.cbegin() + to, dense, pool);
    node.true_size = pool.size() - node.true_begin;
    node.pred_begin = pool.size();
    append_histogram(sorted_pred.cbegin() + from, sorted_pred.cbegin() + to, dense, pool);
    node.pred_size = pool.size() - node.pred_begin;
  }
}

void check_inputs(const PatternStore& store, std::span<const std::int32_t> true_labels,
                  std::span<const std::int32_t> predicted, std::span<const std::int64_t> indices) {
  if (store.layers() == 0) throw UsageError("an APD needs the patterns of at least one layer");
  const std::size_t n = store.size();
  if (true_labels.size() != n || predicted.size() != n || indices.size() != n) {
    throw Error(fmt::format("APD input mismatch: {} patterns, {} labels, {} predictions, {} indices", n,
                            true_labels.size(), predicted.size(), indices.size()));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (true_labels[i] < 0 || predicted[i] < 0) {
      throw Error(fmt::format("instance {}: labels must be >= 0 (label {}, predicted {})", indices[i], true_labels[i],
                              predicted[i]));
    }
  }
}

// Which node each instance visits in each column (column `layers` holds the
// label nodes), and where each column's nodes begin in Diagram::nodes.
struct Columns {
  std::vector<std::vector<std::uint32_t>> node_of;  // [column][instance]
  std::vector<std::size_t> begin;                   // per column, plus the end
};

// Pattern nodes. Layers are independent: group and rank them in parallel,
// then fill each layer's own range of nodes.
void add_pattern_nodes(Diagram& d, const PatternStore& store, std::span<const std::uint8_t> wrong, Columns& c) {
  const std::size_t n = store.size();
  const std::size_t layers = store.layers();
  std::vector<Grouping> groups(layers);
  std::vector<std::vector<std::uint32_t>> ranks(layers);
  parallel_for(layers, [&](std::size_t l) {
    groups[l] = group_patterns(store, l);
    ranks[l] = rank_groups(store, l, groups[l]);
  });
  c.begin.assign(layers + 1, 0);
  std::vector<std::size_t> word_base(layers + 1, 0);
  for (std::size_t l = 0; l < layers; ++l) {
    c.begin[l + 1] = c.begin[l] + groups[l].groups();
    word_base[l + 1] = word_base[l] + groups[l].groups() * store.words(l);
  }
  d.nodes.resize(c.begin[layers]);
  d.pattern_words.resize(word_base[layers]);
  parallel_for(layers, [&](std::size_t l) {
    const Grouping& g = groups[l];
    const auto& rank = ranks[l];
    const std::size_t w = store.words(l);
    for (std::size_t grp = 0; grp < g.groups(); ++grp) {
      Node& node = d.nodes[c.begin[l] + rank[grp]];
      node.kind = NodeKind::pattern;
      node.layer = static_cast<std::uint32_t>(l + 1);
      node.rank = rank[grp];
      node.count = g.count[grp];
      node.pattern_offset = word_base[l] + rank[grp] * w;
      const auto row = store.row(l, g.first[grp]);
      std::copy(row.begin(), row.end(), d.pattern_words.begin() + static_cast<std::ptrdiff_t>(node.pattern_offset));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const auto node = static_cast<std::uint32_t>(c.begin[l] + rank[g.id[i]]);
      c.node_of[l][i] = node;
      d.nodes[node].errors += wrong[i];
    }
  });
}

// Label nodes: by descending count, then label. Predicted labels are
// grouped as 64-bit keys, like patterns.
void add_label_nodes(Diagram& d, std::span<const std::int32_t> predicted, std::span<const std::uint8_t> wrong,
                     Columns& c) {
  const std::size_t layers = d.layers();
  std::vector<std::uint64_t> label_keys(predicted.begin(), predicted.end());
  const Grouping by_label = group_keys(label_keys);
  std::vector<std::uint32_t> label_order(by_label.groups());
  std::iota(label_order.begin(), label_order.end(), 0U);
  std::sort(label_order.begin(), label_order.end(), [&](std::uint32_t a, std::uint32_t b) {
    if (by_label.count[a] != by_label.count[b]) return by_label.count[a] > by_label.count[b];
    return predicted[by_label.first[a]] < predicted[by_label.first[b]];
  });
  std::vector<std::uint32_t> label_node(by_label.groups());
  for (std::size_t r = 0; r < label_order.size(); ++r) {
    Node node;
    node.kind = NodeKind::label;
    node.layer = static_cast<std::uint32_t>(layers + 1);
    node.rank = static_cast<std::uint32_t>(r);
    node.label = predicted[by_label.first[label_order[r]]];
    node.count = by_label.count[label_order[r]];
    label_node[label_order[r]] = static_cast<std::uint32_t>(d.nodes.size());
    d.nodes.push_back(node);
  }
  for (std::size_t i = 0; i < predicted.size(); ++i) {
    c.node_of[layers][i] = label_node[by_label.id[i]];
    d.nodes[c.node_of[layers][i]].errors += wrong[i];
  }
  c.begin.push_back(d.nodes.size());
}

// Label histograms, each column into its own pool in parallel, then one
// pool in node order (the layout the reader produces).
void add_histograms(Diagram& d, const Columns& c, std::span<const std::int32_t> true_labels,
                    std::span<const std::int32_t> predicted) {
  const std::size_t columns = c.node_of.size();
  std::vector<std::vector<LabelCount>> pools(columns);
  parallel_for(columns, [&](std::size_t col) {
    append_histograms(c.node_of[col], true_labels, predicted, d.nodes, pools[col]);
  });
  for (std::size_t col = 0; col < columns; ++col) {
    const std::size_t offset = d.histograms.size();
    for (std::size_t k = c.begin[col]; k < c.begin[col + 1]; ++k) {
      d.nodes[k].true_begin += offset;
      d.nodes[k].pred_begin += offset;
    }
    d.histograms.insert(d.histograms.end(), pools[col].begin(), pools[col].end());
  }
}

// Links between consecutive columns, each column in parallel, sorted by
// descending count, then source, then target.
void add_links(Diagram& d, const Columns& c, std::span<const std::uint8_t> wrong) {
  const std::size_t layers = d.layers();
  std::vector<std::vector<Link>> column_links(layers);
  parallel_for(layers, [&](std::size_t col) {
    const Grouping pairs = group_pairs(c.node_of[col], c.node_of[col + 1]);
    auto& links = column_links[col];
    links.reserve(pairs.groups());
    for (std::size_t p = 0; p < pairs.groups(); ++p) {
      const std::uint32_t i = pairs.first[p];
      links.push_back({c.node_of[col][i], c.node_of[col + 1][i], pairs.count[p], 0});
    }
    for (std::size_t i = 0; i < wrong.size(); ++i) links[pairs.id[i]].errors += wrong[i];
    std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) {
      if (a.count != b.count) return a.count > b.count;
      if (a.source != b.source) return a.source < b.source;
      return a.target < b.target;
    });
  });
  for (const auto& links : column_links) d.links.insert(d.links.end(), links.begin(), links.end());
}

void add_instance_records(Diagram& d, const Columns& c, std::span<const std::int64_t> indices,
                          std::span<const std::int32_t> true_labels, std::span<const std::int32_t> predicted) {
  const std::size_t layers = d.layers();
  const std::size_t n = indices.size();
  d.has_instances = true;
  d.index.assign(indices.begin(), indices.end());
  d.label.assign(true_labels.begin(), true_labels.end());
  d.predicted.assign(predicted.begin(), predicted.end());
  d.path.resize(n * layers);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t l = 0; l < layers; ++l) d.path[i * layers + l] = c.node_of[l][i];
  }
}

}  // namespace

Diagram build_diagram(const PatternStore& store, std::span<const std::int32_t> true_labels,
                      std::span<const std::int32_t> predicted, std::span<const std::int64_t> indices,
                      nlohmann::json metadata) {
  check_inputs(store, true_labels, predicted, indices);
  const std::size_t n = store.size();
  Diagram d;
  d.graph = metadata.is_object() ? std::move(metadata) : nlohmann::json::object();
  d.widths = store.widths();
  d.instances = n;
  std::vector<std::uint8_t> wrong(n);
  for (std::size_t i = 0; i < n; ++i) {
    wrong[i] = true_labels[i] != predicted[i] ? 1 : 0;
    d.errors += wrong[i];
  }
  Columns columns{std::vector<std::vector<std::uint32_t>>(store.layers() + 1, std::vector<std::uint32_t>(n)), {}};
  add_pattern_nodes(d, store, wrong, columns);
  add_label_nodes(d, predicted, wrong, columns);
  add_histograms(d, columns, true_labels, predicted);
  add_links(d, columns, wrong);
  add_instance_records(d, columns, indices, true_labels, predicted);
  complete_metadata(d);
  return d;
}

}  // namespace apd
