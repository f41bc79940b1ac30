// Deterministic randomness that does not depend on the standard library's
// distributions (which differ between implementations): SplitMix64, unbiased
// bounded draws (Lemire), Fisher-Yates shuffles, and the train/validation
// split. Same seed, same result, on every platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace apd {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}
  // A generator for stream `stream` of `seed` (e.g. one per epoch).
  [[nodiscard]] static Rng stream(std::uint64_t seed, std::uint64_t stream) noexcept;

  std::uint64_t next() noexcept;
  // Uniform in [0, bound), bound > 0, without modulo bias.
  std::uint64_t below(std::uint64_t bound) noexcept;

 private:
  std::uint64_t state_;
};

template <typename T>
void shuffle(std::span<T> items, Rng& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(rng.below(i));
    std::swap(items[i - 1], items[j]);
  }
}

struct Split {
  std::vector<std::int64_t> train;       // indices into the source, ascending
  std::vector<std::int64_t> validation;  // ascending
};

// Holds out round(n * val_fraction) of 0..n-1, chosen by a seeded permutation.
[[nodiscard]] Split make_split(std::size_t n, double val_fraction, std::uint64_t seed);

// Label noise as in Zhang et al. (ICLR 2017): each label, in order, is
// replaced with probability `p` by a class drawn uniformly from
// 0..classes-1. Returns the positions whose label changed, ascending, and
// their new labels (a draw of the label's own class changes nothing, so
// about p (classes - 1) / classes of the labels change).
struct LabelNoise {
  std::vector<std::size_t> positions;
  std::vector<std::int64_t> labels;
};
[[nodiscard]] LabelNoise draw_label_noise(std::span<const std::int64_t> labels, std::int64_t classes, double p,
                                          std::uint64_t seed);

}  // namespace apd
