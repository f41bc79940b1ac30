#include "linearised.hpp"

#include <algorithm>
#include <limits>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "patches.hpp"

namespace apd::linearised {

namespace {

constexpr std::size_t kLogits = std::numeric_limits<std::size_t>::max();
constexpr double kInfinity = std::numeric_limits<double>::infinity();
// Bytes of one im2col block of a convolution's tangents: the rows are
// gathered and multiplied this many at a time.
constexpr std::int64_t kBlockBytes = std::int64_t{64} << 20;
// An estimate of the live copies of the widest value per instance and direction.
constexpr std::int64_t kLiveCopies = 6;
// Sub-batches of patches no larger than this when they could be (within the
// budget): larger ones ran slower here (LeNet-5: 7 s per 1,000 images at 64
// MB, 10-12 s at 256 MB), their tangents no longer in the caches. Not for
// dense tangents: their shared tangents are made once per sub-batch, and
// smaller sub-batches made LeNet-5's twice as slow.
constexpr std::int64_t kSubBatchBytes = std::int64_t{64} << 20;

std::vector<std::int64_t> with_leading(std::int64_t first, at::IntArrayRef rest) {
  std::vector<std::int64_t> shape{first};
  shape.insert(shape.end(), rest.begin(), rest.end());
  return shape;
}

// [N, K, ...] for a per-instance tangent [N*K, ...].
std::vector<std::int64_t> instance_major(std::int64_t n, std::int64_t k, const torch::Tensor& t) {
  std::vector<std::int64_t> shape{n, k};
  shape.insert(shape.end(), t.sizes().begin() + 1, t.sizes().end());
  return shape;
}

// PyTorch's output size of a pooling or convolution window along one axis.
std::int64_t windows_along(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                           bool ceil_mode) {
  const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) throw Error(fmt::format("--geometry: a {}-wide window does not fit an input of {}", k, in));
  std::int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// `x` [B, C, H, W] padded with `fill` as the window `w` needs, and the
// number of windows along each axis.
struct Padded {
  torch::Tensor x;
  std::int64_t ho = 0, wo = 0;
};

Padded padded(const torch::Tensor& x, const Window2d& w, double fill) {
  if (x.dim() != 4) throw Error(fmt::format("--geometry: a 2-D window over a tensor of {} dimensions", x.dim()));
  const std::int64_t ho = windows_along(x.size(2), w.kh, w.sh, w.ph, w.dh, w.ceil_mode);
  const std::int64_t wo = windows_along(x.size(3), w.kw, w.sw, w.pw, w.dw, w.ceil_mode);
  // ceil_mode's last window may reach past the padding: pad it too.
  const std::int64_t extra_h =
      std::max<std::int64_t>(0, (ho - 1) * w.sh + w.dh * (w.kh - 1) + 1 - x.size(2) - 2 * w.ph);
  const std::int64_t extra_w =
      std::max<std::int64_t>(0, (wo - 1) * w.sw + w.dw * (w.kw - 1) + 1 - x.size(3) - 2 * w.pw);
  if (w.pw == 0 && w.ph == 0 && extra_w == 0 && extra_h == 0) return {x.contiguous(), ho, wo};
  return {at::constant_pad_nd(x, {w.pw, w.pw + extra_w, w.ph, w.ph + extra_h}, fill).contiguous(), ho, wo};
}

// The windows of a padded [B, C, Hp, Wp] as [B, C, L, kh*kw] (a copy).
torch::Tensor windows_of(const Padded& padded, const Window2d& w) {
  const torch::Tensor& x = padded.x;
  const std::int64_t b = x.size(0), c = x.size(1), hp = x.size(2), wp = x.size(3);
  return x
      .as_strided({b, c, padded.ho, padded.wo, w.kh, w.kw}, {c * hp * wp, hp * wp, w.sh * wp, w.sw, w.dh * wp, w.dw})
      .reshape({b, c, padded.ho * padded.wo, w.kh * w.kw});
}

// A bias-free 2-D convolution as im2col and one matrix product per block
// of rows and group: LibTorch's float64 convolution calls one small GEMM per
// image, ~20x slower on the thousands of tangent images a pass holds.
torch::Tensor convolve(const torch::Tensor& x, const torch::Tensor& weight, const Window2d& w, std::int64_t groups) {
  const Padded p = padded(x, w, 0.0);
  const std::int64_t b = x.size(0), c = x.size(1), hp = p.x.size(2), wp = p.x.size(3);
  const std::int64_t cg = c / groups, og = weight.size(0) / groups, l = p.ho * p.wo;
  const std::int64_t row_bytes = l * cg * w.kh * w.kw * static_cast<std::int64_t>(sizeof(double));
  const std::int64_t block = std::max<std::int64_t>(1, kBlockBytes / std::max<std::int64_t>(1, row_bytes));
  std::vector<torch::Tensor> blocks;
  for (std::int64_t first = 0; first < b; first += block) {
    const std::int64_t rows = std::min(block, b - first);
    std::vector<torch::Tensor> parts;
    for (std::int64_t g = 0; g < groups; ++g) {
      const torch::Tensor in = p.x.narrow(0, first, rows).narrow(1, g * cg, cg);
      const torch::Tensor cols =
          in.as_strided({rows, p.ho, p.wo, cg, w.kh, w.kw}, {c * hp * wp, w.sh * wp, w.sw, hp * wp, w.dh * wp, w.dw})
              .reshape({rows * l, cg * w.kh * w.kw});
      parts.push_back(cols.mm(weight.narrow(0, g * og, og).reshape({og, -1}).t()));
    }
    blocks.push_back((groups == 1 ? parts[0] : at::cat(parts, 1)).view({rows, p.ho, p.wo, og * groups}));
  }
  return (blocks.size() == 1 ? blocks[0] : at::cat(blocks, 0)).permute({0, 3, 1, 2});
}

// sum of squares over `dim`, accumulated in float64 whatever the tangents' type.
torch::Tensor square_sum(const torch::Tensor& t, std::int64_t dim) {
  return at::sum(t.square(), {dim}, false, torch::kFloat64);
}

// v_m - v_q per window [N, C, L, kk]; padding (-inf) and the chosen input itself never bind.
torch::Tensor margin_of(const torch::Tensor& values, const torch::Tensor& chosen) {
  torch::Tensor margin = values.gather(3, chosen) - values;
  margin.scatter_(3, chosen, kInfinity);
  return margin;
}

// Broadcasts a per-channel vector over dimension 1 of a `dims`-dimensional tensor.
torch::Tensor per_channel(const torch::Tensor& v, std::int64_t dims) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[1] = v.numel();
  return v.reshape(shape);
}

}  // namespace

Pass::Pass(std::int64_t n, std::int64_t k, std::vector<Constraint>& constraints)
    : n_(n), k_(k), constraints_(constraints) {}

torch::Tensor Pass::spread(const Dual& d) const {
  if (!d.shared) return d.t;
  return d.t.unsqueeze(0).expand(with_leading(n_, d.t.sizes())).reshape(with_leading(n_ * k_, d.t.sizes().slice(1)));
}

torch::Tensor Pass::reshaped(const torch::Tensor& t, const torch::Tensor& p) {
  return t.reshape(with_leading(t.size(0), p.sizes().slice(1)));
}

void Pass::record(std::size_t layer, const torch::Tensor& value, const torch::Tensor& squares) {
  if (next_ == constraints_.size()) {
    constraints_.push_back({layer, value.reshape({n_, -1}).contiguous(), squares.reshape({n_, -1}).clone()});
  } else {
    constraints_[next_].squares += squares.reshape({n_, -1});
  }
  ++next_;
}

Dual Pass::relu(const Dual& z, std::size_t layer, bool keep_mask) {
  if (z.frame) {
    record(layer, z.p.abs(), patches::squares(z.t).expand({n_, -1, -1, -1}));
    const torch::Tensor on =
        z.p.gt(0).to(z.t.scalar_type()).view(with_leading(n_, {z.p.size(1), z.p.size(2), z.p.size(3), 1, 1, 1}));
    return {at::relu(z.p), z.t * on, false, {}, z.frame};
  }
  const torch::Tensor squares = z.shared ? square_sum(z.t.reshape({k_, -1}), 0).unsqueeze(0).expand({n_, -1})
                                         : square_sum(z.t.reshape({n_, k_, -1}), 1);
  record(layer, z.p.abs(), squares);
  if (z.shared && keep_mask) return {at::relu(z.p), z.t, true, z.p.gt(0)};
  const torch::Tensor on = z.p.gt(0).to(z.t.scalar_type()).unsqueeze(1);  // [N, 1, ...]
  const torch::Tensor t = z.shared ? z.t.unsqueeze(0) : z.t.reshape(instance_major(n_, k_, z.t));
  return {at::relu(z.p), (t * on).reshape(with_leading(n_ * k_, z.p.sizes().slice(1))), false, {}};
}

// Max-pooling of ReLU outputs whose tangents are shared ones masked per
// instance: sum_k (a_m s_m - a_q s_q)^2 = a_m G_mm + a_q G_qq - 2 a_m a_q G_mq
// with G the windows' Gram matrices over the directions, computed once for
// all instances; only the chosen inputs' tangents are made per instance.
Dual Pass::masked_max_pool2d(const Dual& x, const Window2d& w, const torch::Tensor& values,
                             const torch::Tensor& chosen) {
  const std::int64_t c = values.size(1), l = values.size(2), kk = values.size(3);
  const torch::Tensor sw = windows_of(padded(x.t, w, 0.0), w);  // [K, C, L, kk]
  const torch::Tensor s = sw.permute({1, 2, 3, 0}).reshape({c * l, kk, k_});
  const torch::Tensor gram = at::bmm(s, s.transpose(1, 2)).to(torch::kFloat64).view({1, c, l, kk, kk});
  const torch::Tensor a = windows_of(padded(x.mask.to(torch::kFloat64), w, 0.0), w);  // [N, C, L, kk]
  const torch::Tensor am = a.gather(3, chosen);
  const torch::Tensor diag = gram.diagonal(0, 3, 4);  // [1, C, L, kk]
  const torch::Tensor gmm = diag.expand({n_, c, l, kk}).gather(3, chosen);
  const torch::Tensor gmq = gram.expand({n_, c, l, kk, kk}).gather(3, chosen.unsqueeze(4).expand({n_, c, l, 1, kk}));
  record(0, margin_of(values, chosen), (am * gmm + a * diag - 2.0 * am * a * gmq.squeeze(3)).clamp_min(0.0));
  // The chosen inputs' tangents: one index_select of the shared windows' columns for all instances.
  const torch::Tensor at = (torch::arange(c * l, torch::kInt64).mul_(kk).view({1, c, l, 1}) + chosen).view(-1);
  const torch::Tensor tm = sw.reshape({k_, c * l * kk}).index_select(1, at).view({k_, n_, c, l}).transpose(0, 1);
  return {values.gather(3, chosen), tm * am.squeeze(3).unsqueeze(1).to(tm.scalar_type()), false, {}};
}

Dual Pass::max_pool2d(const Dual& x, const Window2d& w) {
  const Padded pp = padded(x.p, w, -kInfinity);
  const torch::Tensor values = windows_of(pp, w);       // [N, C, L, kk]
  const torch::Tensor chosen = values.argmax(3, true);  // first maximum, as PyTorch's pooling takes
  const std::int64_t c = values.size(1), l = values.size(2), kk = values.size(3);
  if (x.frame) return patched_max_pool2d(x, w, values, chosen, {pp.ho, pp.wo});
  if (x.mask.defined()) {
    const Dual out = masked_max_pool2d(x, w, values, chosen);
    return {out.p.view({n_, c, pp.ho, pp.wo}), out.t.reshape({n_ * k_, c, pp.ho, pp.wo}), false, {}};
  }
  const torch::Tensor p = values.gather(3, chosen).squeeze(3);  // [N, C, L]
  const torch::Tensor tw = windows_of(padded(x.t, w, 0.0), w);  // [B, C, L, kk]
  const torch::Tensor t = x.shared ? tw.unsqueeze(0).expand({n_, k_, c, l, kk}) : tw.view({n_, k_, c, l, kk});
  const torch::Tensor tm = t.gather(4, chosen.unsqueeze(1).expand({n_, k_, c, l, 1}));  // [N, K, C, L, 1]
  record(0, margin_of(values, chosen), square_sum(tm - t, 1));
  return {p.view({n_, c, pp.ho, pp.wo}), tm.reshape({n_ * k_, c, pp.ho, pp.wo}), false, {}};
}

// Max-pooling of patches: each window's inputs in the output's frame, the
// chosen one's kept, and the squared norms of its differences with the others.
Dual Pass::patched_max_pool2d(const Dual& x, const Window2d& w, const torch::Tensor& values,
                              const torch::Tensor& chosen, std::array<std::int64_t, 2> out) {
  const std::int64_t c = values.size(1), kk = values.size(3);
  const patches::Patched windows = patches::pool_windows({x.t, *x.frame}, w, out[0], out[1]);
  std::vector<std::int64_t> sizes(windows.t.sizes().begin(), windows.t.sizes().end());
  sizes[0] = n_;
  const torch::Tensor all = windows.t.expand(sizes);  // [N, C, ho, wo, kk, C0, Rh, Rw]
  sizes[4] = 1;
  const torch::Tensor tm = all.gather(4, chosen.view({n_, c, out[0], out[1], 1, 1, 1, 1}).expand(sizes));
  record(0, margin_of(values, chosen),
         at::sum((tm - all).square(), {5, 6, 7}, false, torch::kFloat64).view({n_, c, -1, kk}));
  return kept({values.gather(3, chosen).view({n_, c, out[0], out[1]}), tm.squeeze(4), false, {}, windows.frame});
}

Dual Pass::conv2d(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias, const Window2d& w,
                  std::int64_t groups) const {
  torch::Tensor p = convolve(x.p, weight, w, groups);
  if (bias.defined()) p = p + per_channel(bias, 4);
  if (x.frame) {
    const patches::Patched out = patches::conv2d({x.t, *x.frame}, weight, w, groups);
    return kept({p.contiguous(), out.t, x.shared, {}, out.frame});
  }
  const torch::Tensor t =
      x.t.scalar_type() == torch::kFloat64
          ? convolve(x.t, weight, w, groups)
          : at::conv2d(x.t, weight.to(x.t.scalar_type()), {}, {w.sh, w.sw}, {w.ph, w.pw}, {w.dh, w.dw}, groups);
  return {p.contiguous(), t, x.shared, {}};
}

Dual Pass::linear(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias) const {
  if (x.frame) return {at::linear(x.p, weight, bias), patches::linear({x.t, *x.frame}, weight), x.shared};
  return {at::linear(x.p, weight, bias), at::linear(x.t, weight.to(x.t.scalar_type())), x.shared, {}};
}

Dual Pass::batch_norm(const Dual& x, const torch::Tensor& weight, const torch::Tensor& bias, const torch::Tensor& mean,
                      const torch::Tensor& var, double eps) const {
  if (x.p.dim() < 2) throw Error("--geometry: batch normalisation of a tensor without channels");
  torch::Tensor scale = (var + eps).rsqrt();
  if (weight.defined()) scale = scale * weight;
  torch::Tensor shift = -mean * scale;
  if (bias.defined()) shift = shift + bias;
  const std::int64_t dims = x.p.dim();
  return {x.p * per_channel(scale, dims) + per_channel(shift, dims),
          x.t * per_channel(scale, x.t.dim()).to(x.t.scalar_type()),
          x.shared,
          {},
          x.frame};
}

Dual Pass::kept(Dual d) { return d.frame && !patches::worth_keeping(*d.frame) ? dense(d) : d; }

void Pass::logits(const Dual& o, std::span<const std::int32_t> predicted) {
  const std::int64_t classes = o.p.size(1);
  const torch::Tensor k =
      torch::tensor(std::vector<std::int64_t>(predicted.begin(), predicted.end()), torch::kInt64).unsqueeze(1);
  torch::Tensor margin = o.p.gather(1, k) - o.p;  // o_k - o_j, [N, C]
  margin.scatter_(1, k, kInfinity);
  const torch::Tensor t = o.shared ? o.t.unsqueeze(0).expand({n_, k_, classes}) : o.t.view({n_, k_, classes});
  const torch::Tensor tk = t.gather(2, k.unsqueeze(1).expand({n_, k_, 1}));
  record(kLogits, margin, square_sum(tk - t, 1));
}

RegionGeometry distances(const std::vector<Constraint>& constraints, const GeometryPlan& plan) {
  if (constraints.empty()) return {};
  const std::int64_t n = constraints.front().value.size(0);
  torch::Tensor radius = torch::full({n}, kInfinity, torch::kFloat64);
  torch::Tensor boundary = radius.clone();
  for (const Constraint& c : constraints) {
    // A constraint whose gradient is zero is constant over the region: it
    // never binds while it holds (and, negative, is already crossed: 0).
    const torch::Tensor flat = c.squares.eq(0);
    const torch::Tensor dist =
        torch::where(flat, torch::where(c.value.ge(0), kInfinity, 0.0), c.value / c.squares.sqrt()).amin(1);
    const bool admitted = c.layer == 0 ? plan.layers.empty()
                                       : plan.layers.empty() || std::find(plan.layers.begin(), plan.layers.end(),
                                                                          c.layer) != plan.layers.end();
    if (c.layer == kLogits) {
      boundary = torch::minimum(boundary, dist);
    } else if (admitted) {
      radius = torch::minimum(radius, dist);
    }
  }
  boundary.clamp_min_(0.0);  // the float32 model's prediction, a hair across in float64
  const auto* r = radius.data_ptr<double>();
  const auto* d = boundary.data_ptr<double>();
  return {std::vector<double>(r, r + n), std::vector<double>(d, d + n)};
}

torch::Tensor directions(const std::vector<std::int64_t>& shape, const std::optional<torch::Tensor>& basis,
                         std::int64_t begin, std::int64_t count, torch::ScalarType type) {
  std::vector<std::int64_t> sizes{count};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  if (basis) return basis->narrow(0, begin, count).reshape(sizes).to(type);
  std::int64_t values = 1;
  for (const auto s : shape) values *= s;
  torch::Tensor rows = torch::zeros({count, values}, type);
  rows.diagonal(begin).fill_(1.0);
  return rows.reshape(sizes);
}

torch::Tensor row_space(const torch::Tensor& weight) {
  const auto [q, r] = at::linalg_qr(weight.to(torch::kFloat64).t(), "reduced");
  return q.t().contiguous();
}

Chunking chunking(const Widest& widest, std::int64_t bytes, std::int64_t directions, std::int64_t budget) {
  const std::int64_t per_direction = std::max<std::int64_t>(1, widest.per_direction) * kLiveCopies * bytes;
  const std::int64_t patches = widest.patches * kLiveCopies * bytes;
  const std::int64_t per_instance = per_direction * directions + patches;
  if (per_instance <= budget) {
    const std::int64_t target = widest.patches > 0 ? std::min(budget, kSubBatchBytes) : budget;
    return {std::max<std::int64_t>(target / per_instance, 1), directions};
  }
  return {1, std::clamp<std::int64_t>((budget - std::min(patches, budget / 2)) / per_direction, 1, directions)};
}

}  // namespace apd::linearised
