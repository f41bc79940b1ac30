// Receptive-field tangents. The tangent of a spatial value [N, C, H, W] along
// the input's basis directions ([C0, H0, W0] of them) is zero outside each
// position's receptive field, so it is kept, per position, as the patch of
// the input that field covers: [S, C, H, W, C0, Rh, Rw] (S = 1 while shared,
// else N), position (h, w)'s patch starting at input pixel
// (h * jump - offset, w * jump - offset). A 5x5 convolution's output holds
// 25 numbers per position where the dense tangent ([K = C0*H0*W0, C, H, W])
// holds 784 on MNIST; the next convolution multiplies patches, not images.
// The numbers are the dense tangent's: entries outside the image are zeros,
// and dense() scatters the patches into the whole input again for the ops
// that work on dense tangents (linearised.hpp). Same arithmetic, other order
// of sums: the two agree to rounding.
#pragma once

#include <array>
#include <cstdint>

#include <torch/types.h>

#include "linearised.hpp"

namespace apd::linearised::patches {

// The identity on the input of `f` (its first..first+count pixels; zeros
// for the others): [1, C0, H0, W0, C0, 1, 1].
[[nodiscard]] torch::Tensor identity(const Frame& f, torch::ScalarType type);

// The patches `t` of frame `f` as a dense tangent [S*K, C, H, W] (K: the
// frame's count of directions).
[[nodiscard]] torch::Tensor dense(const torch::Tensor& t, const Frame& f);

// Whether patches of frame `f` are worth keeping: at most half the input.
[[nodiscard]] bool worth_keeping(const Frame& f);

// Sum of squares over each patch: [S, C, H, W], float64.
[[nodiscard]] torch::Tensor squares(const torch::Tensor& t);

struct Patched {
  torch::Tensor t;
  Frame frame;
};

// A bias-free 2-D convolution of the patches (no "same" padding: the window's own).
[[nodiscard]] Patched conv2d(const Patched& x, const torch::Tensor& weight, const Window2d& w, std::int64_t groups);

// The inputs of every (ho x wo) window `w` takes, each in the output's frame:
// [S, C, ho, wo, kh*kw, C0, Rh', Rw'] (padding: zero patches).
[[nodiscard]] Patched pool_windows(const Patched& x, const Window2d& w, std::int64_t ho, std::int64_t wo);

// A bias-free Linear layer (`weight` [O, C*H*W]) of flattened patches: the
// dense tangent [S*K, O].
[[nodiscard]] torch::Tensor linear(const Patched& x, const torch::Tensor& weight);

// `x` re-framed to `to` (its positions', a frame holding x's); same jump.
[[nodiscard]] torch::Tensor reframed(const Patched& x, const Frame& to);

// The smallest frame holding both, when their positions are the same
// pixels (same jump); nullopt otherwise.
[[nodiscard]] std::optional<Frame> united(const Frame& a, const Frame& b);

}  // namespace apd::linearised::patches
