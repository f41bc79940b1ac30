// A ReLU network linearised on each instance's region, in forward mode: every
// value carries, next to itself (float64, [N, ...]), its derivative along K
// directions of the input space. Directions are an orthonormal basis of the
// input space (or of a subspace holding every gradient: the row space of a
// first Linear layer narrower than the input), so a neuron's squared gradient
// norm is the sum of its squared tangents over the K directions, accumulated
// chunk by chunk when K directions at once would not fit in memory.
//
// While no ReLU or max-pooling has acted on it, a tangent is the same for
// every instance and is kept once ([K, ...], "shared"); after, it is
// per instance ([N*K, ...], instance-major). The Pass records, at each ReLU
// and max-pooling, the constraints that bound the region (geometry.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "apd/torch/geometry.hpp"

namespace apd::linearised {

// Where the patches of a receptive-field tangent lie in the input (patches.hpp).
struct Frame {
  std::array<std::int64_t, 2> jump{1, 1};    // input pixels between neighbouring positions
  std::array<std::int64_t, 2> offset{0, 0};  // position (0, 0)'s patch starts at input pixel -offset
  std::array<std::int64_t, 2> size{1, 1};    // the patch's rows and columns
  std::array<std::int64_t, 3> image{};       // the input's C0, H0, W0
  // The pass's directions: [first, first + count) of the C0*H0*W0 pixels
  // (the patches hold zeros for the others).
  std::int64_t first = 0, count = 0;
};

struct Dual {
  Dual() = default;
  Dual(torch::Tensor value, torch::Tensor tangents, bool same_for_all, torch::Tensor lazy_mask = {},
       std::optional<Frame> patches = std::nullopt)
      : p(std::move(value)), t(std::move(tangents)), shared(same_for_all), mask(std::move(lazy_mask)), frame(patches) {}

  torch::Tensor p;  // the value, float64 [N, ...]
  // Its tangents (float64, or float32 when asked for): [K, ...] when shared,
  // else [N*K, ...]; with a frame, patches [1 or N, C, H, W, C0, Rh, Rw].
  torch::Tensor t;
  bool shared = true;
  // Only from relu(..., keep_mask) of a shared tangent, only for max_pool2d:
  // the tangents are t masked per instance by `mask` (bool [N, ...]).
  torch::Tensor mask;
  std::optional<Frame> frame;  // set: t holds receptive-field patches
};

// `d` with dense tangents (its patches scattered into the whole input).
[[nodiscard]] Dual dense(const Dual& d);

struct Window2d {
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool ceil_mode = false;
};

// Every constraint's numerator (>= 0; +inf: never binding) and the running
// sum of its gradient's squared components, [N, m] each, in the order the
// pass meets them; `layer` is the ReLU layer (0 for max-pooling windows).
struct Constraint {
  std::size_t layer = 0;
  torch::Tensor value;
  torch::Tensor squares;
};

class Pass {
 public:
  // `n` instances, `k` directions in this chunk; `constraints` persist from
  // chunk to chunk (empty on the first).
  Pass(std::int64_t n, std::int64_t k, std::vector<Constraint>& constraints);

  [[nodiscard]] std::int64_t n() const noexcept { return n_; }
  [[nodiscard]] std::int64_t k() const noexcept { return k_; }
  // The tangent [N*K, ...] of `d`, expanding a shared one.
  [[nodiscard]] torch::Tensor spread(const Dual& d) const;
  // A tangent applied to `op`'s result shape: the leading dimension kept,
  // the rest those of `p` ([N, ...]); for per-instance reshapes.
  [[nodiscard]] static torch::Tensor reshaped(const torch::Tensor& t, const torch::Tensor& p);

  // ReLU layer `layer` (1-based, in call order): records |z| and z's gradients.
  // `keep_mask`: when the output goes to max_pool2d only, a shared tangent
  // stays shared, masked lazily (the pooling needs only the chosen inputs').
  [[nodiscard]] Dual relu(const Dual& z, std::size_t layer, bool keep_mask = false);
  // 2-D max-pooling: records, per window, v_m - v_q for every other input q.
  [[nodiscard]] Dual max_pool2d(const Dual& x, const Window2d& w);
  [[nodiscard]] Dual conv2d(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias, const Window2d& w,
                            std::int64_t groups) const;
  [[nodiscard]] Dual linear(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias) const;
  // Eval-mode batch normalisation over dimension 1.
  [[nodiscard]] Dual batch_norm(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                const torch::Tensor& mean, const torch::Tensor& var, double eps) const;
  // The logits: records, per class j != k (k = `predicted`), o_k - o_j and its gradient.
  void logits(const Dual& o, std::span<const std::int32_t> predicted);

 private:
  void record(std::size_t layer, const torch::Tensor& value, const torch::Tensor& squares);
  // max_pool2d of a lazily masked shared tangent: values [N, C, L, kk], the chosen [N, C, L, 1].
  [[nodiscard]] Dual masked_max_pool2d(const Dual& x, const Window2d& w, const torch::Tensor& values,
                                       const torch::Tensor& chosen);
  // max_pool2d of patches, to `out` windows (rows, columns).
  [[nodiscard]] Dual patched_max_pool2d(const Dual& x, const Window2d& w, const torch::Tensor& values,
                                        const torch::Tensor& chosen, std::array<std::int64_t, 2> out);
  // `d`, its patches made dense when they are no longer worth keeping.
  [[nodiscard]] static Dual kept(Dual d);

  std::int64_t n_, k_;
  std::vector<Constraint>& constraints_;
  std::size_t next_ = 0;
};

// After the last chunk: the radius over the constraints `plan` admits
// (geometry.hpp) and the boundary distance, per instance.
[[nodiscard]] RegionGeometry distances(const std::vector<Constraint>& constraints, const GeometryPlan& plan);

// The directions: rows [begin, begin + count) of the identity on `shape`'s
// values ([count, *shape]), or of `basis` ([D', D]) when given, as `type`.
[[nodiscard]] torch::Tensor directions(const std::vector<std::int64_t>& shape,
                                       const std::optional<torch::Tensor>& basis, std::int64_t begin,
                                       std::int64_t count, torch::ScalarType type = torch::kFloat64);
// An orthonormal basis ([r, D] rows) of the row space of `weight` ([m, D],
// m < D): every gradient of a network whose input feeds only this layer
// lies in it.
[[nodiscard]] torch::Tensor row_space(const torch::Tensor& weight);

// The most numbers a pass's tangents hold per instance: `per_direction` for
// each of its directions (dense tangents) and `patches` whatever their count
// (receptive-field patches hold every direction).
struct Widest {
  std::int64_t per_direction = 1;
  std::int64_t patches = 0;
};

// Instances per sub-batch and directions per chunk, for a network whose
// tangents hold `widest` numbers, each of `bytes`, with `directions` in all:
// a pass holds about `budget` bytes.
struct Chunking {
  std::int64_t instances = 1;
  std::int64_t directions = 1;
};
[[nodiscard]] Chunking chunking(const Widest& widest, std::int64_t bytes, std::int64_t directions, std::int64_t budget);

// Runs `run(pass, first, begin, count)` over sub-batches of `rows` instances
// and chunks of directions and returns their geometry. `run` runs the network
// on the pass (instances [first, first + pass.n()), directions [begin, begin +
// count)) and calls Pass::logits. Sub-batches start where
// (row + phase) is a multiple of their size: the same instances share one
// whichever rows of a batch are measured (a shard's give one process's bytes).
template <typename Run>
[[nodiscard]] RegionGeometry over_chunks(std::int64_t rows, std::int64_t phase, std::int64_t directions,
                                         const GeometryPlan& plan, const Widest& widest, Run&& run) {
  const Chunking c = chunking(widest, plan.float32_gradients ? 4 : 8, directions, plan.pass_megabytes << 20);
  RegionGeometry all;
  for (std::int64_t first = 0, n = 0; first < rows; first += n) {
    n = std::min(c.instances - (first + phase) % c.instances, rows - first);
    std::vector<Constraint> constraints;
    for (std::int64_t begin = 0; begin < directions; begin += c.directions) {
      Pass pass(n, std::min(c.directions, directions - begin), constraints);
      run(pass, first, begin, pass.k());
    }
    RegionGeometry part = distances(constraints, plan);
    all.radius.insert(all.radius.end(), part.radius.begin(), part.radius.end());
    all.boundary.insert(all.boundary.end(), part.boundary.begin(), part.boundary.end());
  }
  return all;
}

}  // namespace apd::linearised
