#include "apd/core/flows.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

std::vector<std::size_t> default_flow_layers(std::size_t layers) {
  if (layers <= 1) return {1};
  return {layers - 1, layers};
}

std::vector<std::size_t> normalize_flow_layers(std::vector<std::size_t> layers, std::size_t L) {
  if (layers.empty()) throw UsageError("flow layers: at least one layer is needed");
  for (const std::size_t l : layers) {
    if (l < 1 || l > L) throw UsageError(fmt::format("flow layer {} is outside 1..{}", l, L));
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

namespace {

// Refines the grouping one layer at a time: pairs of (group so far, node).
Grouping group_flows(const Diagram& d, std::span<const std::size_t> layers) {
  const std::size_t n = d.instances;
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = d.path_node(i, layers[0]);
  Grouping flows = group_keys(keys);
  for (std::size_t k = 1; k < layers.size(); ++k) {
    for (std::size_t i = 0; i < n; ++i) keys[i] = (std::uint64_t{flows.id[i]} << 32) | d.path_node(i, layers[k]);
    flows = group_keys(keys);
  }
  return flows;
}

// Strength, errors and the majority predicted label (smallest on ties) of
// each flow, from the (flow, predicted label) pairs.
std::vector<Flow> measure_flows(const Diagram& d, const Grouping& flows) {
  std::vector<Flow> raw(flows.groups());
  for (std::size_t f = 0; f < raw.size(); ++f) raw[f].strength = flows.count[f];
  std::vector<std::uint64_t> keys(d.instances);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    keys[i] = (std::uint64_t{flows.id[i]} << 32) | static_cast<std::uint32_t>(d.predicted[i]);
    if (d.label[i] != d.predicted[i]) ++raw[flows.id[i]].errors;
  }
  const Grouping votes = group_keys(keys);
  for (std::size_t v = 0; v < votes.groups(); ++v) {
    const std::size_t i = votes.first[v];
    Flow& f = raw[flows.id[i]];
    const std::int32_t label = d.predicted[i];
    if (votes.count[v] > f.majority_count || (votes.count[v] == f.majority_count && label < f.majority_label)) {
      f.majority_count = votes.count[v];
      f.majority_label = label;
    }
  }
  return raw;
}

// The order of the flows: by descending strength, then by their nodes. Sorts
// on contiguous keys (strength, the first two nodes packed in one word); only
// ties on both look at further layers.
std::vector<std::uint32_t> flow_order(const std::vector<Flow>& raw, const std::vector<std::uint32_t>& nodes,
                                      std::size_t k_layers) {
  struct Key {
    std::uint64_t strength;
    std::uint64_t nodes;
    std::uint32_t flow;
  };
  std::vector<Key> keys(raw.size());
  for (std::uint32_t f = 0; f < raw.size(); ++f) {
    const std::uint64_t second = k_layers > 1 ? nodes[f * k_layers + 1] : 0;
    keys[f] = {raw[f].strength, (std::uint64_t{nodes[f * k_layers]} << 32) | second, f};
  }
  std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
    if (a.strength != b.strength) return a.strength > b.strength;
    if (a.nodes != b.nodes) return a.nodes < b.nodes;
    for (std::size_t k = 2; k < k_layers; ++k) {
      const auto na = nodes[a.flow * k_layers + k];
      const auto nb = nodes[b.flow * k_layers + k];
      if (na != nb) return na < nb;
    }
    return false;
  });
  std::vector<std::uint32_t> order(keys.size());
  for (std::size_t r = 0; r < keys.size(); ++r) order[r] = keys[r].flow;
  return order;
}

}  // namespace

FlowSet compute_flows(const Diagram& d, std::span<const std::size_t> layers_in) {
  if (!d.has_instances) {
    throw Error(
        "flows need per-instance records, and this APD has none "
        "(rerun apd-extract without --no-instances)");
  }
  FlowSet out;
  out.layers = normalize_flow_layers({layers_in.begin(), layers_in.end()}, d.layers());
  if (d.instances == 0) return out;
  const Grouping flows = group_flows(d, out.layers);
  const std::vector<Flow> raw = measure_flows(d, flows);
  const std::size_t k_layers = out.layers.size();
  std::vector<std::uint32_t> raw_nodes(raw.size() * k_layers);
  for (std::size_t f = 0; f < raw.size(); ++f) {
    for (std::size_t k = 0; k < k_layers; ++k) raw_nodes[f * k_layers + k] = d.path_node(flows.first[f], out.layers[k]);
  }
  std::vector<std::uint32_t> position(raw.size());
  out.flows.reserve(raw.size());
  out.flow_nodes.reserve(raw.size() * k_layers);
  const std::vector<std::uint32_t> order = flow_order(raw, raw_nodes, k_layers);
  for (std::size_t r = 0; r < order.size(); ++r) {
    const std::uint32_t f = order[r];
    position[f] = static_cast<std::uint32_t>(r);
    out.flows.push_back(raw[f]);
    out.flow_nodes.insert(out.flow_nodes.end(), raw_nodes.begin() + static_cast<std::ptrdiff_t>(f * k_layers),
                          raw_nodes.begin() + static_cast<std::ptrdiff_t>((f + 1) * k_layers));
  }
  out.flow_of.resize(d.instances);
  for (std::size_t i = 0; i < d.instances; ++i) out.flow_of[i] = position[flows.id[i]];
  return out;
}

std::size_t strength_bin(std::uint64_t strength, double base) {
  std::size_t k = 0;
  double edge = base;
  while (static_cast<double>(strength) >= edge) {
    edge *= base;
    ++k;
  }
  return k;
}

__extension__ using Wide = unsigned __int128;  // majority x bins must not overflow

std::size_t purity_bin(std::uint64_t majority, std::uint64_t strength, std::size_t bins) {
  // Integer arithmetic: floor(purity * bins) with no rounding at bin edges.
  const auto b = static_cast<std::size_t>((static_cast<Wide>(majority) * bins) / strength);
  return std::min(b, bins - 1);
}

std::vector<BinCell> bin_flows(const FlowSet& flows, const BinSpec& spec) {
  if (!(spec.strength_base > 1.0) || !std::isfinite(spec.strength_base)) {
    throw UsageError(fmt::format("strength bin base must be > 1 (got {})", spec.strength_base));
  }
  if (spec.purity_bins == 0) throw UsageError("purity bins must be at least 1");
  std::size_t strength_bins = 0;
  for (const Flow& f : flows.flows)
    strength_bins = std::max(strength_bins, strength_bin(f.strength, spec.strength_base) + 1);
  const std::size_t pb = spec.purity_bins;
  std::vector<BinCell> cells(strength_bins * pb);
  double lo = 1.0;
  for (std::size_t s = 0; s < strength_bins; ++s) {
    for (std::size_t p = 0; p < pb; ++p) {
      BinCell& c = cells[s * pb + p];
      c.strength_bin = s;
      c.strength_lo = lo;
      c.strength_hi = lo * spec.strength_base;
      c.purity_bin = p;
      c.purity_lo = static_cast<double>(p) / static_cast<double>(pb);
      c.purity_hi = static_cast<double>(p + 1) / static_cast<double>(pb);
    }
    lo *= spec.strength_base;
  }
  for (const Flow& f : flows.flows) {
    BinCell& c =
        cells[strength_bin(f.strength, spec.strength_base) * pb + purity_bin(f.majority_count, f.strength, pb)];
    ++c.flows;
    c.instances += f.strength;
    c.wrong += f.errors;
  }
  return cells;
}

std::vector<LayerSummary> summarize_layers(const Diagram& d) {
  std::vector<LayerSummary> out(d.layers());
  for (std::size_t l = 0; l < d.layers(); ++l) {
    out[l].layer = l + 1;
    out[l].width = d.widths[l];
  }
  for (const Node& node : d.nodes) {
    if (node.kind != NodeKind::pattern) continue;
    LayerSummary& s = out[node.layer - 1];
    s.instances += node.count;
    ++s.unique_patterns;
    if (node.count == 1) ++s.singletons;
    s.largest = std::max(s.largest, node.count);
  }
  for (const Node& node : d.nodes) {
    if (node.kind != NodeKind::pattern || node.count == 0) continue;
    LayerSummary& s = out[node.layer - 1];
    const double p = static_cast<double>(node.count) / static_cast<double>(s.instances);
    s.entropy_bits -= p * std::log2(p);
  }
  for (LayerSummary& s : out) {
    s.singleton_share = s.instances == 0 ? 0.0 : static_cast<double>(s.singletons) / static_cast<double>(s.instances);
    if (s.entropy_bits == 0.0) s.entropy_bits = 0.0;  // no "-0"
  }
  return out;
}

}  // namespace apd
