// The 64-bit hash finaliser of MurmurHash3 (also SplitMix64's), for apd::core's
// open-addressing tables of packed patterns.
#pragma once

#include <cstdint>

namespace apd::detail {

[[nodiscard]] inline std::uint64_t mix64(std::uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  return h ^ (h >> 33);
}

}  // namespace apd::detail
