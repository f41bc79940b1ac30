#include "patches.hpp"

#include <algorithm>

#include <ATen/ATen.h>

namespace apd::linearised::patches {

namespace {

// The frame of a window `w` (convolution or pooling) over positions of frame `f`.
Frame windowed(const Frame& f, const Window2d& w) {
  Frame out = f;
  const std::array<std::int64_t, 2> k{w.kh, w.kw}, s{w.sh, w.sw}, p{w.ph, w.pw}, d{w.dh, w.dw};
  for (std::size_t a = 0; a < 2; ++a) {
    out.jump[a] = f.jump[a] * s[a];
    out.offset[a] = f.offset[a] + p[a] * f.jump[a];
    out.size[a] = f.size[a] + (k[a] - 1) * d[a] * f.jump[a];
  }
  return out;
}

// The patches padded with zero patches as `w` pads, cut to the rows and
// columns `ho` x `wo` windows read.
torch::Tensor padded(const torch::Tensor& t, const Window2d& w, std::int64_t ho, std::int64_t wo) {
  const std::int64_t rows = (ho - 1) * w.sh + w.dh * (w.kh - 1) + 1, cols = (wo - 1) * w.sw + w.dw * (w.kw - 1) + 1;
  if (w.ph == 0 && w.pw == 0 && rows <= t.size(2) && cols <= t.size(3)) return t;
  std::vector<std::int64_t> sizes(t.sizes().begin(), t.sizes().end());
  sizes[2] = rows;
  sizes[3] = cols;
  torch::Tensor out = torch::zeros(sizes, t.options());
  const std::int64_t h = std::clamp<std::int64_t>(rows - w.ph, 0, t.size(2));
  const std::int64_t v = std::clamp<std::int64_t>(cols - w.pw, 0, t.size(3));
  out.narrow(2, w.ph, h).narrow(3, w.pw, v).copy_(t.narrow(2, 0, h).narrow(3, 0, v));
  return out;
}

// The patches window element (i, j) reads at every window: [S, C, ho, wo, C0, Rh, Rw].
torch::Tensor element(const torch::Tensor& padded, const Window2d& w, std::int64_t i, std::int64_t j, std::int64_t ho,
                      std::int64_t wo) {
  return padded.slice(2, i * w.dh, i * w.dh + (ho - 1) * w.sh + 1, w.sh)
      .slice(3, j * w.dw, j * w.dw + (wo - 1) * w.sw + 1, w.sw);
}

// Where element (i, j) of a window's input patches sits in the window's frame.
torch::Tensor placed(const torch::Tensor& in_frame, const Frame& f, const Window2d& w, std::int64_t i, std::int64_t j) {
  return in_frame.narrow(-2, i * w.dh * f.jump[0], f.size[0]).narrow(-1, j * w.dw * f.jump[1], f.size[1]);
}

}  // namespace

torch::Tensor identity(const Frame& f, torch::ScalarType type) {
  const auto [c, h, w] = f.image;
  const torch::Tensor eye =
      torch::eye(c, torch::TensorOptions().dtype(type)).view({1, c, 1, 1, c, 1, 1}).expand({1, c, h, w, c, 1, 1});
  if (f.first == 0 && f.count == c * h * w) return eye;
  torch::Tensor chosen = torch::zeros({c * h * w}, torch::TensorOptions().dtype(type));
  chosen.narrow(0, f.first, f.count).fill_(1.0);
  return eye * chosen.view({1, c, h, w, 1, 1, 1});
}

torch::Tensor dense(const torch::Tensor& t, const Frame& f) {
  const std::int64_t s = t.size(0), c = t.size(1), h = t.size(2), w = t.size(3);
  const auto [c0, h0, w0] = f.image;
  // Input pixel r sits at row r + offset of a canvas holding every patch and the image.
  const std::int64_t rows = std::max(h0 + f.offset[0], (h - 1) * f.jump[0] + f.size[0]);
  const std::int64_t cols = std::max(w0 + f.offset[1], (w - 1) * f.jump[1] + f.size[1]);
  torch::Tensor canvas = torch::zeros({s, c, h, w, c0, rows, cols}, t.options());
  // Each position has a canvas of its own; its patch moves by `jump` with it.
  canvas
      .as_strided({s, c, h, w, c0, f.size[0], f.size[1]},
                  {canvas.stride(0), canvas.stride(1), canvas.stride(2) + f.jump[0] * cols,
                   canvas.stride(3) + f.jump[1], canvas.stride(4), cols, 1})
      .copy_(t);
  return canvas.narrow(5, f.offset[0], h0)
      .narrow(6, f.offset[1], w0)
      .permute({0, 4, 5, 6, 1, 2, 3})
      .reshape({s, c0 * h0 * w0, c, h, w})
      .narrow(1, f.first, f.count)
      .reshape({s * f.count, c, h, w});
}

bool worth_keeping(const Frame& f) { return 2 * f.size[0] * f.size[1] <= f.image[1] * f.image[2]; }

torch::Tensor squares(const torch::Tensor& t) { return at::sum(t.square(), {4, 5, 6}, false, torch::kFloat64); }

Patched conv2d(const Patched& x, const torch::Tensor& weight, const Window2d& w, std::int64_t groups) {
  const torch::Tensor& t = x.t;
  const std::int64_t s = t.size(0), c = t.size(1), c0 = t.size(4);
  const std::int64_t ho = (t.size(2) + 2 * w.ph - w.dh * (w.kh - 1) - 1) / w.sh + 1;
  const std::int64_t wo = (t.size(3) + 2 * w.pw - w.dw * (w.kw - 1) - 1) / w.sw + 1;
  const std::int64_t cg = c / groups, og = weight.size(0) / groups;
  const Frame frame = windowed(x.frame, w);
  // Channels first: each kernel element's product is one matrix product over all instances.
  const torch::Tensor in = padded(t, w, ho, wo).transpose(0, 1);
  const torch::Tensor kernel = weight.to(t.scalar_type());
  torch::Tensor out = torch::zeros({og * groups, s, ho, wo, c0, frame.size[0], frame.size[1]}, t.options());
  for (std::int64_t i = 0; i < w.kh; ++i) {
    for (std::int64_t j = 0; j < w.kw; ++j) {
      const torch::Tensor at = element(in, w, i, j, ho, wo);
      for (std::int64_t g = 0; g < groups; ++g) {
        const torch::Tensor rows = at.narrow(0, g * cg, cg).reshape({cg, -1});
        const torch::Tensor product = kernel.narrow(0, g * og, og).select(3, j).select(2, i).mm(rows);
        placed(out.narrow(0, g * og, og), x.frame, w, i, j)
            .add_(product.view({og, s, ho, wo, c0, x.frame.size[0], x.frame.size[1]}));
      }
    }
  }
  return {out.transpose(0, 1), frame};
}

torch::Tensor linear(const Patched& x, const torch::Tensor& weight) {
  const torch::Tensor& t = x.t;
  const Frame& f = x.frame;
  const std::int64_t s = t.size(0), c = t.size(1), h = t.size(2), w = t.size(3), o = weight.size(0);
  const auto [c0, h0, w0] = f.image;
  const std::int64_t q = c0 * f.size[0] * f.size[1];
  // Per position: its weights [O, C] times its patches [C, S*Q], one batched product.
  const torch::Tensor by_position = weight.to(t.scalar_type()).view({o, c, h * w}).permute({2, 0, 1});
  const torch::Tensor product =
      at::bmm(by_position, t.permute({2, 3, 1, 0, 4, 5, 6}).reshape({h * w, c, s * q}));  // [HW, O, S*Q]
  // Summed into a canvas of the input (as dense()'s), each position's patch where it lies.
  const std::int64_t rows = std::max(h0 + f.offset[0], (h - 1) * f.jump[0] + f.size[0]);
  const std::int64_t cols = std::max(w0 + f.offset[1], (w - 1) * f.jump[1] + f.size[1]);
  const torch::Tensor at_row = torch::arange(h, torch::kInt64).mul_(f.jump[0]).view({h, 1, 1, 1}) +
                               torch::arange(f.size[0], torch::kInt64).view({1, 1, f.size[0], 1});
  const torch::Tensor at_col = torch::arange(w, torch::kInt64).mul_(f.jump[1]).view({1, w, 1, 1}) +
                               torch::arange(f.size[1], torch::kInt64).view({1, 1, 1, f.size[1]});
  const torch::Tensor index = (at_row * cols + at_col).reshape({-1});  // [HW * Rh * Rw]
  // Rows of the canvas are pixels: each position's patch adds whole rows of S*O*C0 numbers.
  torch::Tensor canvas = torch::zeros({rows * cols, s * o * c0}, t.options());
  canvas.index_add_(0, index,
                    product.view({h * w, o, s, c0, f.size[0] * f.size[1]})
                        .permute({0, 4, 2, 1, 3})
                        .reshape({h * w * f.size[0] * f.size[1], s * o * c0}));
  return canvas.view({rows, cols, s, o, c0})
      .narrow(0, f.offset[0], h0)
      .narrow(1, f.offset[1], w0)
      .permute({2, 4, 0, 1, 3})
      .reshape({s, c0 * h0 * w0, o})
      .narrow(1, f.first, f.count)
      .reshape({s * f.count, o});
}

Patched pool_windows(const Patched& x, const Window2d& w, std::int64_t ho, std::int64_t wo) {
  const torch::Tensor& t = x.t;
  const Frame frame = windowed(x.frame, w);
  const torch::Tensor in = padded(t, w, ho, wo);
  torch::Tensor out =
      torch::zeros({t.size(0), t.size(1), ho, wo, w.kh * w.kw, t.size(4), frame.size[0], frame.size[1]}, t.options());
  for (std::int64_t i = 0; i < w.kh; ++i) {
    for (std::int64_t j = 0; j < w.kw; ++j) {
      placed(out.select(4, i * w.kw + j), x.frame, w, i, j).copy_(element(in, w, i, j, ho, wo));
    }
  }
  return {out, frame};
}

torch::Tensor reframed(const Patched& x, const Frame& to) {
  const std::int64_t top = to.offset[0] - x.frame.offset[0], left = to.offset[1] - x.frame.offset[1];
  if (top == 0 && left == 0 && to.size == x.frame.size) return x.t;
  return at::constant_pad_nd(x.t, {left, to.size[1] - x.frame.size[1] - left, top, to.size[0] - x.frame.size[0] - top},
                             0.0);
}

std::optional<Frame> united(const Frame& a, const Frame& b) {
  if (a.jump != b.jump || a.image != b.image) return std::nullopt;
  Frame out = a;
  for (std::size_t i = 0; i < 2; ++i) {
    out.offset[i] = std::max(a.offset[i], b.offset[i]);
    out.size[i] = std::max(a.size[i] - a.offset[i], b.size[i] - b.offset[i]) + out.offset[i];
  }
  return out;
}

}  // namespace apd::linearised::patches

namespace apd::linearised {

Dual dense(const Dual& d) {
  if (!d.frame) return d;
  return {d.p, Pass::reshaped(patches::dense(d.t, *d.frame), d.p), d.shared};
}

}  // namespace apd::linearised
