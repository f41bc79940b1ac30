#include "apd/core/merge.hpp"

#include <algorithm>
#include <numeric>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

// Adds the sorted histogram `add` into the sorted histogram `into`.
void add_histogram(std::vector<LabelCount>& into, std::span<const LabelCount> add) {
  std::vector<LabelCount> sum;
  sum.reserve(into.size() + add.size());
  std::size_t a = 0, b = 0;
  while (a < into.size() || b < add.size()) {
    if (b == add.size() || (a < into.size() && into[a].label < add[b].label)) {
      sum.push_back(into[a++]);
    } else if (a == into.size() || add[b].label < into[a].label) {
      sum.push_back(add[b++]);
    } else {
      sum.push_back({into[a].label, into[a].count + add[b].count});
      ++a;
      ++b;
    }
  }
  into.swap(sum);
}

struct MergedNode {
  std::uint64_t count = 0, errors = 0;
  std::size_t pattern_offset = 0;  // into the layer's words (pattern nodes)
  std::int32_t label = 0;          // label nodes
  std::vector<LabelCount> true_labels, predicted_labels;
};

// A pattern's packed words as a hashable key into the layer's word pool.
std::string_view key_of(std::span<const std::uint64_t> row) {
  return {reinterpret_cast<const char*>(row.data()), row.size_bytes()};
}

}  // namespace

struct DiagramMerger::State {
  bool started = false;
  std::vector<std::size_t> widths;
  bool has_instances = false;
  std::uint64_t instances = 0, errors = 0;
  // Per column (layers 1..L, then labels): merged nodes in order of first
  // appearance; pattern columns keep their words in one pool per layer,
  // indexed by a map from the words' bytes (views into the pool's chunks).
  std::vector<std::vector<MergedNode>> columns;
  std::vector<std::vector<std::unique_ptr<std::uint64_t[]>>> word_chunks;
  std::vector<std::unordered_map<std::string_view, std::uint32_t>> pattern_index;
  std::unordered_map<std::int32_t, std::uint32_t> label_index;
  // Per source column: (source, target) in column-local ids -> (count, errors).
  std::vector<std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::uint64_t>>> links;
  std::vector<std::int64_t> index;
  std::vector<std::int32_t> label, predicted;
  std::vector<std::uint32_t> path;  // column-local ids, N x L

  std::uint32_t pattern_node(std::size_t layer, std::span<const std::uint64_t> row) {
    auto& map = pattern_index[layer];
    if (const auto it = map.find(key_of(row)); it != map.end()) return it->second;
    auto words = std::make_unique<std::uint64_t[]>(row.size());
    std::copy(row.begin(), row.end(), words.get());
    const auto id = static_cast<std::uint32_t>(columns[layer].size());
    map.emplace(key_of({words.get(), row.size()}), id);
    word_chunks[layer].push_back(std::move(words));
    columns[layer].emplace_back();
    return id;
  }

  std::uint32_t label_node(std::int32_t predicted_label) {
    const auto [it, fresh] = label_index.emplace(predicted_label, static_cast<std::uint32_t>(columns.back().size()));
    if (fresh) columns.back().push_back(MergedNode{0, 0, 0, predicted_label, {}, {}});
    return it->second;
  }
};

DiagramMerger::DiagramMerger() : state_(std::make_unique<State>()) {}
DiagramMerger::DiagramMerger(DiagramMerger&&) noexcept = default;
DiagramMerger& DiagramMerger::operator=(DiagramMerger&&) noexcept = default;
DiagramMerger::~DiagramMerger() = default;

void DiagramMerger::add(const Diagram& part, std::uint64_t position) {
  State& s = *state_;
  const std::size_t L = part.layers();
  if (!s.started) {
    s.started = true;
    s.widths = part.widths;
    s.has_instances = part.has_instances;
    s.columns.resize(L + 1);
    s.word_chunks.resize(L);
    s.pattern_index.resize(L);
    s.links.resize(L);
  } else if (part.widths != s.widths) {
    throw Error(fmt::format("layer widths {} differ from the first part's {}", fmt::join(part.widths, ","),
                            fmt::join(s.widths, ",")));
  } else if (part.has_instances != s.has_instances) {
    throw Error("some parts have instance records and some do not");
  }
  // Each of the part's nodes as a column-local merged id.
  std::vector<std::uint32_t> merged(part.nodes.size());
  for (std::size_t k = 0; k < part.nodes.size(); ++k) {
    const Node& n = part.nodes[k];
    const std::size_t col = n.layer - 1;
    merged[k] = n.kind == NodeKind::pattern ? s.pattern_node(col, part.pattern_row(k)) : s.label_node(n.label);
    MergedNode& m = s.columns[col][merged[k]];
    m.count += n.count;
    m.errors += n.errors;
    add_histogram(m.true_labels, part.true_labels(k));
    add_histogram(m.predicted_labels, part.predicted_labels(k));
  }
  for (const Link& l : part.links) {
    const std::size_t col = part.nodes[l.source].layer - 1;
    auto& acc = s.links[col][(std::uint64_t{merged[l.source]} << 32) | merged[l.target]];
    acc.first += l.count;
    acc.second += l.errors;
  }
  s.instances += part.instances;
  s.errors += part.errors;
  if (!part.has_instances) return;
  const auto at = static_cast<std::size_t>(position);
  const std::size_t end = at + part.index.size();
  if (s.index.size() < end) {
    s.index.resize(end);
    s.label.resize(end);
    s.predicted.resize(end);
    s.path.resize(end * L);
  }
  std::copy(part.index.begin(), part.index.end(), s.index.begin() + static_cast<std::ptrdiff_t>(at));
  std::copy(part.label.begin(), part.label.end(), s.label.begin() + static_cast<std::ptrdiff_t>(at));
  std::copy(part.predicted.begin(), part.predicted.end(), s.predicted.begin() + static_cast<std::ptrdiff_t>(at));
  for (std::size_t k = 0; k < part.path.size(); ++k) s.path[at * L + k] = merged[part.path[k]];
}

Diagram DiagramMerger::finish(nlohmann::json metadata) {
  State& s = *state_;
  if (!s.started) throw Error("nothing to merge");
  const std::size_t L = s.widths.size();
  Diagram d;
  d.graph = metadata.is_object() ? std::move(metadata) : nlohmann::json::object();
  d.widths = s.widths;
  d.instances = s.instances;
  d.errors = s.errors;
  // Order each column as build_diagram does: descending count, then pattern
  // (label nodes: then label). global[col][local] = node index in d.nodes.
  std::vector<std::vector<std::uint32_t>> global(L + 1);
  for (std::size_t col = 0; col <= L; ++col) {
    auto& nodes = s.columns[col];
    std::vector<std::uint32_t> order(nodes.size());
    std::iota(order.begin(), order.end(), 0U);
    const std::size_t words = col < L ? (s.widths[col] + 63) / 64 : 0;
    const auto row = [&](std::uint32_t k) {
      return std::span<const std::uint64_t>(s.word_chunks[col][k].get(), words);
    };
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      if (nodes[a].count != nodes[b].count) return nodes[a].count > nodes[b].count;
      if (col == L) return nodes[a].label < nodes[b].label;
      return compare_patterns(row(a), row(b)) < 0;
    });
    global[col].resize(nodes.size());
    for (std::size_t r = 0; r < order.size(); ++r) {
      const MergedNode& m = nodes[order[r]];
      global[col][order[r]] = static_cast<std::uint32_t>(d.nodes.size());
      Node n;
      n.kind = col < L ? NodeKind::pattern : NodeKind::label;
      n.layer = static_cast<std::uint32_t>(col + 1);
      n.rank = static_cast<std::uint32_t>(r);
      n.label = col < L ? 0 : m.label;
      n.count = m.count;
      n.errors = m.errors;
      if (col < L) {
        n.pattern_offset = d.pattern_words.size();
        const auto words_of = row(order[r]);
        d.pattern_words.insert(d.pattern_words.end(), words_of.begin(), words_of.end());
      }
      n.true_begin = d.histograms.size();
      n.true_size = m.true_labels.size();
      d.histograms.insert(d.histograms.end(), m.true_labels.begin(), m.true_labels.end());
      n.pred_begin = d.histograms.size();
      n.pred_size = m.predicted_labels.size();
      d.histograms.insert(d.histograms.end(), m.predicted_labels.begin(), m.predicted_labels.end());
      d.nodes.push_back(n);
    }
  }
  for (std::size_t col = 0; col < L; ++col) {
    std::vector<Link> links;
    links.reserve(s.links[col].size());
    for (const auto& [key, acc] : s.links[col]) {
      links.push_back({global[col][key >> 32], global[col + 1][key & 0xFFFFFFFFU], acc.first, acc.second});
    }
    std::sort(links.begin(), links.end(), [](const Link& a, const Link& b) {
      if (a.count != b.count) return a.count > b.count;
      if (a.source != b.source) return a.source < b.source;
      return a.target < b.target;
    });
    d.links.insert(d.links.end(), links.begin(), links.end());
  }
  if (s.has_instances) {
    if (s.index.size() != s.instances) {
      throw Error(
          fmt::format("the parts' instance records cover {} positions for {} instances", s.index.size(), s.instances));
    }
    d.has_instances = true;
    d.index = std::move(s.index);
    d.label = std::move(s.label);
    d.predicted = std::move(s.predicted);
    d.path = std::move(s.path);
    for (std::size_t i = 0; i < d.path.size(); ++i) d.path[i] = global[i % L][d.path[i]];
  }
  complete_metadata(d);
  return d;
}

}  // namespace apd
