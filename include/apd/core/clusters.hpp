// The decision-tree clustering of an APD's instances from the paper
// authors' public code, whose cluster size ranks instances by difficulty.
// Start with all instances as one cluster at the last hidden layer L; split a
// cluster by its instances' patterns at layer l, and each child again at
// layer l - 1, and so on. A split is kept only when its information gain on
// the predicted labels is > 0: H(parent) - sum_k |child_k|/|parent| H(child_k)
// (base 2). The gain is zero exactly when every child has its parent's
// predicted-label proportions (a single child, or a pure parent, included),
// so it is decided in integer arithmetic: n_ky * n == n_y * n_k for every
// child k and label y. A cluster whose split has no gain is final at the
// layer where the split was tried; a child is final when its split was made
// at layer 1 or it holds one instance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "apd/core/diagram.hpp"

namespace apd {

struct Cluster {
  std::uint64_t size = 0;
  std::size_t layer = 0;  // where it stopped (1-based)
  std::uint64_t correct = 0;
  std::int32_t majority_predicted = 0;  // most frequent predicted label (smallest on ties)
  std::uint32_t first = 0;              // its first instance (position in the file)

  // Share predicted correctly: what the authors' code calls purity.
  [[nodiscard]] double accuracy() const noexcept { return static_cast<double>(correct) / static_cast<double>(size); }
};

struct Clustering {
  std::vector<Cluster> clusters;          // by descending size, then first instance
  std::vector<std::uint32_t> cluster_of;  // per instance
};

// Needs per-instance records (d.has_instances); throws apd::Error otherwise.
[[nodiscard]] Clustering decision_tree_clusters(const Diagram& d);

}  // namespace apd
