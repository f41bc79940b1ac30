// The size of each instance's linear region (apd-extract --geometry). Inside
// x's region (its activation patterns and max-pooling choices fixed) a ReLU
// network is exactly affine, so two distances are exact:
//
//   region radius      r(x) = min over every ReLU neuron (l, i) of |z_li(x)| / ||a_li||,
//                      and over every max-pooling window of (v_m - v_q)(x) / ||grad(v_m - v_q)||
//                      (m the input the window takes, q any other): the L2 distance, in the
//                      model's input space, to the nearest point where the region ends;
//   boundary distance  d(x) = min over classes j != k of (o_k - o_j)(x) / ||grad(o_k - o_j)||,
//                      k the predicted class: the distance to the decision hyperplane of x's
//                      affine piece (the exact distance to the decision boundary when d <= r).
//
// The gradients a_li are those of x's affine piece. The arithmetic is float64
// (the gradients float32 on request); docs/geometry.md says where the float32
// model and this can disagree.
#pragma once

#include <cstdint>
#include <vector>

namespace apd {

struct GeometryPlan {
  // 1-based ReLU layers whose neurons bound the radius; empty: every ReLU
  // layer and every max-pooling window (the full region). Restricted, r is
  // the distance to the nearest hyperplane where a neuron of those layers
  // changes state, in x's affine piece (>= the full radius).
  std::vector<std::size_t> layers;
  // The gradients (tangents) in float32, the values, sums of squares and
  // distances still in float64: LibTorch's float32 convolutions are ~50x
  // faster than float64 ones; distances within ~1e-5 (relative).
  bool float32_gradients = false;
  // Every spatial tangent over the whole input. Off (the default), an image
  // model's tangents are kept as receptive-field patches until a layer's
  // field covers half the input: the same numbers, to rounding, ~4x faster
  // on LeNet-5 (float64). On: the dense baseline they are checked against.
  bool dense_tangents = false;
  // What one pass's tangents may take: sub-batches of instances and chunks
  // of directions are sized to it, so peak memory is bounded by it, not by
  // the dataset. Other sizes sum in other orders: the same numbers to rounding.
  std::int64_t pass_megabytes = 256;
};

struct RegionGeometry {
  // Per instance; +infinity when no constraint bounds it (every
  // pre-activation constant over the region; a one-class model).
  std::vector<double> radius;
  std::vector<double> boundary;
};

}  // namespace apd
