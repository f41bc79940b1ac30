#include "apd/core/random.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

Rng Rng::stream(std::uint64_t seed, std::uint64_t stream) noexcept {
  Rng mixer(seed ^ (0x9e3779b97f4a7c15ULL * (stream + 1)));
  return Rng(mixer.next());
}

std::uint64_t Rng::next() noexcept {  // SplitMix64
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Rng::below(std::uint64_t bound) noexcept {
  __extension__ using Wide = unsigned __int128;
  Wide m = static_cast<Wide>(next()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<Wide>(next()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

Split make_split(std::size_t n, double val_fraction, std::uint64_t seed) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    throw UsageError(fmt::format("validation share {} is outside (0, 1)", val_fraction));
  }
  const auto val = static_cast<std::size_t>(std::llround(static_cast<double>(n) * val_fraction));
  if (val == 0 || val >= n) {
    throw UsageError(fmt::format("a validation share of {} of {} instances leaves an empty split", val_fraction, n));
  }
  std::vector<std::int64_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::int64_t{0});
  Rng rng(seed);
  shuffle(std::span(perm), rng);
  Split s;
  s.validation.assign(perm.end() - static_cast<std::ptrdiff_t>(val), perm.end());
  s.train.assign(perm.begin(), perm.end() - static_cast<std::ptrdiff_t>(val));
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

LabelNoise draw_label_noise(std::span<const std::int64_t> labels, std::int64_t classes, double p, std::uint64_t seed) {
  if (!(p >= 0.0 && p <= 1.0)) throw UsageError(fmt::format("label noise probability {} is outside [0, 1]", p));
  if (classes < 1) throw UsageError(fmt::format("{} classes: at least one is needed", classes));
  // A label is replaced when a 53-bit draw falls below p * 2^53 (exact for
  // every double p in [0, 1]; p = 1 replaces every label).
  constexpr std::uint64_t kScale = std::uint64_t{1} << 53;
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(p, 53));
  constexpr std::uint64_t kLabelNoiseStream = 0x6c6162656c6e6f69ULL;  // "labelnoi"
  Rng rng = Rng::stream(seed, kLabelNoiseStream);
  LabelNoise noise;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (rng.below(kScale) >= threshold) continue;
    const auto drawn = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(classes)));
    if (drawn == labels[i]) continue;
    noise.positions.push_back(i);
    noise.labels.push_back(drawn);
  }
  return noise;
}

}  // namespace apd
