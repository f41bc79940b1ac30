#include "apd/core/merge.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/huge_pages.hpp"
#include "hash.hpp"

namespace apd {

// Named rather than anonymous: DiagramMerger::State, which has external
// linkage, holds these types.
namespace merge_detail {

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

// Open addressing (linear probing, power-of-two slots, at most half full)
// for the merger's two lookups per node and per link: std::unordered_map's
// node allocation and pointer chase per entry showed in apd-merge's profile.
// A layer's distinct patterns, numbered in order of first appearance, their
// words back to back in one pool.
class PatternTable {
 public:
  explicit PatternTable(std::size_t words) : words_(words) {}

  // The pattern's id, and whether it is new.
  std::pair<std::uint32_t, bool> find_or_add(std::span<const std::uint64_t> row) {
    if (2 * (count_ + 1) > slots_.size()) grow();
    const std::uint64_t h = hash(row);
    for (std::size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i] == 0) {
        slots_[i] = static_cast<std::uint32_t>(++count_);
        pool_.insert(pool_.end(), row.begin(), row.end());
        return {slots_[i] - 1, true};
      }
      if (std::equal(row.begin(), row.end(), this->row(slots_[i] - 1).begin())) return {slots_[i] - 1, false};
    }
  }
  [[nodiscard]] std::span<const std::uint64_t> row(std::size_t id) const {
    return {pool_.data() + id * words_, words_};
  }

 private:
  [[nodiscard]] std::uint64_t hash(std::span<const std::uint64_t> row) const noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (const std::uint64_t w : row) h = detail::mix64(h ^ w);
    return h;
  }
  void grow() {
    std::vector<std::uint32_t> old(std::max<std::size_t>(16, 2 * slots_.size()), 0);
    old.swap(slots_);
    for (const std::uint32_t id : old) {
      if (id == 0) continue;
      std::size_t i = hash(row(id - 1)) & (slots_.size() - 1);
      while (slots_[i] != 0) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = id;
    }
  }

  std::size_t words_;
  std::size_t count_ = 0;
  std::vector<std::uint32_t> slots_;  // id + 1, 0 = empty
  std::vector<std::uint64_t> pool_;
};

// (source, target) as one key -> (count, errors).
class LinkTable {
 public:
  std::pair<std::uint64_t, std::uint64_t>& operator[](std::uint64_t key) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = detail::mix64(key) & (slots_.size() - 1);
    while (slots_[i].key != kEmpty && slots_[i].key != key) i = (i + 1) & (slots_.size() - 1);
    if (slots_[i].key == kEmpty) {
      slots_[i].key = key;
      ++size_;
    }
    return slots_[i].value;
  }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  template <typename Visit>
  void for_each(Visit&& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.key != kEmpty) visit(slot.key, slot.value);
    }
  }

 private:
  // Keys are two 32-bit node ids below 2^32 - 1 each: never all ones.
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};
  struct Slot {
    std::uint64_t key = kEmpty;
    std::pair<std::uint64_t, std::uint64_t> value{0, 0};
  };
  void grow() {
    std::vector<Slot> old(std::max<std::size_t>(16, 2 * slots_.size()));
    old.swap(slots_);
    size_ = 0;
    for (const Slot& slot : old) {
      if (slot.key != kEmpty) (*this)[slot.key] = slot.value;
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace merge_detail

struct DiagramMerger::State {
  bool started = false;
  std::vector<std::size_t> widths;
  bool has_instances = false;
  std::uint64_t instances = 0, errors = 0;
  // Per column (layers 1..L, then labels): merged nodes in order of first
  // appearance; pattern columns find theirs by their words.
  std::vector<std::vector<merge_detail::MergedNode>> columns;
  std::vector<merge_detail::PatternTable> patterns;
  std::unordered_map<std::int32_t, std::uint32_t> label_index;
  // Per source column: (source, target) in column-local ids -> (count, errors).
  std::vector<merge_detail::LinkTable> links;
  std::vector<std::int64_t> index;
  std::vector<std::int32_t> label, predicted;
  std::vector<std::uint32_t> path;  // column-local ids, N x L
  std::size_t expected = 0;         // instance records to make room for (reserve)
  // Whether the parts with instances carry region_radius/boundary_distance
  // (unknown until one has instances); then their values, N each.
  std::optional<bool> geometry;
  std::vector<double> radius, boundary;

  // Room for instance records up to `end`, in one allocation when the
  // whole count was announced (page faults were a fifth of the merge).
  void make_room(std::size_t end, std::size_t layers) {
    if (index.size() >= end) return;
    if (index.capacity() < end) {
      const std::size_t n = std::max(end, expected);
      index.reserve(n);
      label.reserve(n);
      predicted.reserve(n);
      path.reserve(n * layers);
      advise_huge_pages(index.data(), n * sizeof(index[0]));
      advise_huge_pages(label.data(), n * sizeof(label[0]));
      advise_huge_pages(predicted.data(), n * sizeof(predicted[0]));
      advise_huge_pages(path.data(), n * layers * sizeof(path[0]));
    }
    index.resize(end);
    label.resize(end);
    predicted.resize(end);
    path.resize(end * layers);
    if (geometry.value_or(false)) {
      radius.resize(end);
      boundary.resize(end);
    }
  }

  // A part's distances, at `at` in the merged order; every part with
  // instances has them, or none has.
  void add_geometry(const Diagram& part, std::size_t at) {
    const bool has = !part.region_radius.empty();
    if (geometry && *geometry != has) {
      throw Error("some parts have region_radius and boundary_distance (apd-extract --geometry) and some do not");
    }
    geometry = has;
    if (!has) return;
    radius.resize(std::max(radius.size(), at + part.instances));
    boundary.resize(radius.size());
    std::copy(part.region_radius.begin(), part.region_radius.end(), radius.begin() + static_cast<std::ptrdiff_t>(at));
    std::copy(part.boundary_distance.begin(), part.boundary_distance.end(),
              boundary.begin() + static_cast<std::ptrdiff_t>(at));
  }

  std::uint32_t pattern_node(std::size_t layer, std::span<const std::uint64_t> row) {
    const auto [id, fresh] = patterns[layer].find_or_add(row);
    if (fresh) columns[layer].emplace_back();
    return id;
  }

  std::uint32_t label_node(std::int32_t predicted_label) {
    const auto [it, fresh] = label_index.emplace(predicted_label, static_cast<std::uint32_t>(columns.back().size()));
    if (fresh) columns.back().push_back(merge_detail::MergedNode{0, 0, 0, predicted_label, {}, {}});
    return it->second;
  }
  // Appends every column's nodes to `d`, ordered as build_diagram orders
  // them: descending count, then pattern (label nodes: then label).
  // Returns global[col][local] = the node's index in d.nodes.
  std::vector<std::vector<std::uint32_t>> add_nodes(Diagram& d) {
    const std::size_t L = widths.size();
    std::vector<std::vector<std::uint32_t>> global(L + 1);
    for (std::size_t col = 0; col <= L; ++col) {
      const auto& nodes = columns[col];
      std::vector<std::uint32_t> order(nodes.size());
      std::iota(order.begin(), order.end(), 0U);
      std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        if (nodes[a].count != nodes[b].count) return nodes[a].count > nodes[b].count;
        if (col == L) return nodes[a].label < nodes[b].label;
        return compare_patterns(patterns[col].row(a), patterns[col].row(b)) < 0;
      });
      global[col].resize(nodes.size());
      for (std::size_t r = 0; r < order.size(); ++r) {
        global[col][order[r]] = static_cast<std::uint32_t>(d.nodes.size());
        add_node(d, col, r, order[r]);
      }
    }
    return global;
  }

  // Appends node `k` of column `col`, at rank `rank`.
  void add_node(Diagram& d, std::size_t col, std::size_t rank, std::uint32_t k) const {
    const std::size_t L = widths.size();
    const merge_detail::MergedNode& m = columns[col][k];
    Node n;
    n.kind = col < L ? NodeKind::pattern : NodeKind::label;
    n.layer = static_cast<std::uint32_t>(col + 1);
    n.rank = static_cast<std::uint32_t>(rank);
    n.label = col < L ? 0 : m.label;
    n.count = m.count;
    n.errors = m.errors;
    if (col < L) {
      n.pattern_offset = d.pattern_words.size();
      const auto words_of = patterns[col].row(k);
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

  // Appends each column's links, ordered as build_diagram orders them.
  void add_links(Diagram& d, const std::vector<std::vector<std::uint32_t>>& global) const {
    for (std::size_t col = 0; col < widths.size(); ++col) {
      std::vector<Link> merged;
      merged.reserve(links[col].size());
      links[col].for_each([&](std::uint64_t key, const std::pair<std::uint64_t, std::uint64_t>& acc) {
        merged.push_back({global[col][key >> 32], global[col + 1][key & 0xFFFFFFFFU], acc.first, acc.second});
      });
      std::sort(merged.begin(), merged.end(), [](const Link& a, const Link& b) {
        if (a.count != b.count) return a.count > b.count;
        if (a.source != b.source) return a.source < b.source;
        return a.target < b.target;
      });
      d.links.insert(d.links.end(), merged.begin(), merged.end());
    }
  }

  // Moves the instance records into `d`, their paths as global node indices.
  void move_instances(Diagram& d, const std::vector<std::vector<std::uint32_t>>& global) {
    if (index.size() != instances) {
      throw Error(
          fmt::format("the parts' instance records cover {} positions for {} instances", index.size(), instances));
    }
    const std::size_t L = widths.size();
    d.has_instances = true;
    d.index = std::move(index);
    d.label = std::move(label);
    d.predicted = std::move(predicted);
    d.path = std::move(path);
    for (std::size_t i = 0; i < d.path.size(); ++i) d.path[i] = global[i % L][d.path[i]];
    if (geometry.value_or(false)) {
      radius.resize(instances);
      boundary.resize(instances);
      d.region_radius = std::move(radius);
      d.boundary_distance = std::move(boundary);
    }
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
    for (std::size_t l = 0; l < L; ++l) s.patterns.emplace_back((part.widths[l] + 63) / 64);
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
    merge_detail::MergedNode& m = s.columns[col][merged[k]];
    m.count += n.count;
    m.errors += n.errors;
    merge_detail::add_histogram(m.true_labels, part.true_labels(k));
    merge_detail::add_histogram(m.predicted_labels, part.predicted_labels(k));
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
  s.make_room(end, L);
  std::copy(part.index.begin(), part.index.end(), s.index.begin() + static_cast<std::ptrdiff_t>(at));
  std::copy(part.label.begin(), part.label.end(), s.label.begin() + static_cast<std::ptrdiff_t>(at));
  std::copy(part.predicted.begin(), part.predicted.end(), s.predicted.begin() + static_cast<std::ptrdiff_t>(at));
  for (std::size_t k = 0; k < part.path.size(); ++k) s.path[at * L + k] = merged[part.path[k]];
  if (part.instances > 0) s.add_geometry(part, at);
}

void DiagramMerger::reserve(std::uint64_t instances) { state_->expected = static_cast<std::size_t>(instances); }

Diagram DiagramMerger::finish(nlohmann::json metadata) {
  State& s = *state_;
  if (!s.started) throw Error("nothing to merge");
  Diagram d;
  d.graph = metadata.is_object() ? std::move(metadata) : nlohmann::json::object();
  d.widths = s.widths;
  d.instances = s.instances;
  d.errors = s.errors;
  const auto global = s.add_nodes(d);
  s.add_links(d, global);
  if (s.has_instances) s.move_instances(d, global);
  complete_metadata(d);
  return d;
}

}  // namespace apd
