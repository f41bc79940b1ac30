#include "apd/core/clusters.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "apd/core/error.hpp"

namespace apd {

namespace {

using Members = std::vector<std::uint32_t>;  // instance positions, ascending

// (label, count) of the predicted labels of `members`, by label.
std::vector<std::pair<std::int32_t, std::uint64_t>> label_counts(const Diagram& d, const Members& members) {
  std::vector<std::int32_t> labels;
  labels.reserve(members.size());
  for (const auto i : members) labels.push_back(d.predicted[i]);
  std::sort(labels.begin(), labels.end());
  std::vector<std::pair<std::int32_t, std::uint64_t>> out;
  for (const auto l : labels) {
    if (out.empty() || out.back().first != l) out.emplace_back(l, 0);
    ++out.back().second;
  }
  return out;
}

// The gain is zero iff every child holds every parent label in the parent's
// proportion: n_ky * n == n_y * n_k.
bool has_gain(const Diagram& d, const Members& parent, const std::vector<Members>& children) {
  if (children.size() < 2) return false;
  const auto whole = label_counts(d, parent);
  if (whole.size() < 2) return false;  // pure
  // Counts are below 2^32 (decision_tree_clusters checks), so products fit.
  const std::uint64_t n = parent.size();
  for (const Members& child : children) {
    const auto part = label_counts(d, child);
    if (part.size() != whole.size()) return true;  // a parent label missing from the child
    const std::uint64_t nk = child.size();
    for (std::size_t y = 0; y < part.size(); ++y) {
      if (part[y].first != whole[y].first || part[y].second * n != whole[y].second * nk) return true;
    }
  }
  return false;
}

// `members` split by their pattern node at `layer`, children in node order.
std::vector<Members> split(const Diagram& d, const Members& members, std::size_t layer) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> keyed;  // (node, instance)
  keyed.reserve(members.size());
  for (const auto i : members) keyed.emplace_back(d.path_node(i, layer), i);
  std::sort(keyed.begin(), keyed.end());
  std::vector<Members> children;
  for (std::size_t k = 0; k < keyed.size(); ++k) {
    if (k == 0 || keyed[k].first != keyed[k - 1].first) children.emplace_back();
    children.back().push_back(keyed[k].second);
  }
  return children;
}

Cluster summarize(const Diagram& d, const Members& members, std::size_t layer) {
  Cluster c{members.size(), layer, 0, 0, members.front()};
  for (const auto i : members) c.correct += d.label[i] == d.predicted[i] ? 1 : 0;
  std::uint64_t best = 0;
  for (const auto& [label, count] : label_counts(d, members)) {
    if (count > best) best = count, c.majority_predicted = label;
  }
  return c;
}

}  // namespace

Clustering decision_tree_clusters(const Diagram& d) {
  if (!d.has_instances) throw Error("clusters need per-instance records and this APD has none");
  if (d.instances > std::numeric_limits<std::uint32_t>::max()) throw Error("clusters: more than 2^32 instances");
  Clustering out;
  out.cluster_of.assign(d.instances, 0);
  std::vector<std::pair<Members, std::size_t>> work;  // (cluster, layer to split at), depth first
  Members all(d.instances);
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  if (!all.empty() && d.layers() > 0) work.emplace_back(std::move(all), d.layers());
  std::vector<std::pair<Members, std::size_t>> final_clusters;
  while (!work.empty()) {
    auto [members, layer] = std::move(work.back());
    work.pop_back();
    std::vector<Members> children = split(d, members, layer);
    if (!has_gain(d, members, children)) {
      final_clusters.emplace_back(std::move(members), layer);
      continue;
    }
    for (Members& child : children) {
      if (layer == 1 || child.size() == 1) {
        final_clusters.emplace_back(std::move(child), layer);
      } else {
        work.emplace_back(std::move(child), layer - 1);
      }
    }
  }
  for (const auto& [members, layer] : final_clusters) out.clusters.push_back(summarize(d, members, layer));
  std::vector<std::uint32_t> order(out.clusters.size());
  for (std::uint32_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const Cluster &x = out.clusters[a], &y = out.clusters[b];
    return x.size != y.size ? x.size > y.size : x.first < y.first;
  });
  std::vector<Cluster> sorted;
  sorted.reserve(order.size());
  for (std::uint32_t rank = 0; rank < order.size(); ++rank) {
    sorted.push_back(out.clusters[order[rank]]);
    for (const auto i : final_clusters[order[rank]].first) out.cluster_of[i] = rank;
  }
  out.clusters = std::move(sorted);
  return out;
}

}  // namespace apd
