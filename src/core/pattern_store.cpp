#include "apd/core/pattern_store.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "hash.hpp"

namespace apd {

namespace {

constexpr std::size_t kBitsPerWord = 64;

std::uint64_t hash_row(std::span<const std::uint64_t> row) noexcept {
  std::uint64_t h = 0x9e3779b97f4a7c15ULL;
  for (const std::uint64_t w : row) h = detail::mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
  return h;
}

// Groups 0..n-1, numbered in order of first appearance. Open addressing
// with linear probing; each slot holds the instance's 64-bit fingerprint
// beside its group id (0 = empty, else id + 1), so a probe touches one cache
// line, and `same(i, j)` (j a group's first instance) is asked only when the
// fingerprints agree. For exact 64-bit keys, `same` is simply true.
template <typename Fingerprint, typename Same>
Grouping group_by(std::size_t n, Fingerprint&& fingerprint, Same&& same) {
  if (n >= std::numeric_limits<std::uint32_t>::max()) {
    throw Error(fmt::format("{} instances exceed the 2^32 - 1 this store can group", n));
  }
  std::size_t capacity = 16;
  while (capacity < 2 * n) capacity *= 2;
  const std::size_t mask = capacity - 1;
  std::vector<std::uint64_t> slot_key(capacity);
  std::vector<std::uint32_t> slot_id(capacity, 0);
  Grouping g;
  g.id.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t key = fingerprint(i);
    std::size_t s = static_cast<std::size_t>(detail::mix64(key)) & mask;
    while (slot_id[s] != 0 && !(slot_key[s] == key && same(i, g.first[slot_id[s] - 1]))) s = (s + 1) & mask;
    if (slot_id[s] == 0) {
      const auto fresh = static_cast<std::uint32_t>(g.first.size());
      slot_key[s] = key;
      slot_id[s] = fresh + 1;
      g.first.push_back(static_cast<std::uint32_t>(i));
      g.count.push_back(1);
      g.id[i] = fresh;
    } else {
      g.id[i] = slot_id[s] - 1;
      ++g.count[slot_id[s] - 1];
    }
  }
  return g;
}

}  // namespace

PatternStore::PatternStore(std::vector<std::size_t> widths) : widths_(std::move(widths)) {
  for (std::size_t l = 0; l < widths_.size(); ++l) {
    if (widths_[l] == 0) throw UsageError(fmt::format("layer {} has width 0", l + 1));
    words_.push_back((widths_[l] + kBitsPerWord - 1) / kBitsPerWord);
  }
  data_.resize(widths_.size());
  rows_.assign(widths_.size(), 0);
}

std::size_t PatternStore::size() const {
  if (rows_.empty()) return 0;  // no layers: the patterns of no layer were kept
  for (std::size_t l = 1; l < rows_.size(); ++l) {
    if (rows_[l] != rows_[0]) {
      throw Error(fmt::format("pattern store is incomplete: layer 1 holds {} instances, layer {} holds {}", rows_[0],
                              l + 1, rows_[l]));
    }
  }
  return rows_[0];
}

std::size_t PatternStore::memory_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& d : data_) total += d.capacity() * sizeof(std::uint64_t);
  return total;
}

void PatternStore::reserve(std::size_t instances) {
  for (std::size_t l = 0; l < layers(); ++l) data_[l].reserve(instances * words_[l]);
}

namespace {

// Packs `rows` x `width` row-major values into words: bit = value > 0.
template <typename T>
void pack_rows(std::span<const T> values, std::size_t rows, std::size_t width, std::size_t w, std::uint64_t* dst) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* src = values.data() + r * width;
    for (std::size_t word = 0; word < w; ++word) {
      const std::size_t begin = word * kBitsPerWord;
      const std::size_t end = std::min(width, begin + kBitsPerWord);
      std::uint64_t bits = 0;
      for (std::size_t i = begin; i < end; ++i) bits |= std::uint64_t{src[i] > T{0}} << (i - begin);
      dst[r * w + word] = bits;
    }
  }
}

// The same for 0/1 flags, 8 at a time: the multiply gathers the low bit of
// each of 8 bytes into the top byte, byte j's bit at position j.
void pack_rows(std::span<const std::uint8_t> flags, std::size_t rows, std::size_t width, std::size_t w,
               std::uint64_t* dst) {
  constexpr std::uint64_t kLowBits = 0x0101010101010101ULL;
  constexpr std::uint64_t kGather = 0x0102040810204080ULL;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint8_t* src = flags.data() + r * width;
    for (std::size_t word = 0; word < w; ++word) {
      const std::size_t begin = word * kBitsPerWord;
      const std::size_t end = std::min(width, begin + kBitsPerWord);
      std::uint64_t bits = 0;
      std::size_t i = begin;
      for (; i + 8 <= end; i += 8) {
        std::uint64_t eight = 0;
        std::memcpy(&eight, src + i, sizeof eight);
        bits |= (((eight & kLowBits) * kGather) >> 56) << (i - begin);
      }
      for (; i < end; ++i) bits |= std::uint64_t{src[i] != 0} << (i - begin);
      dst[r * w + word] = bits;
    }
  }
}

}  // namespace

template <typename T>
void PatternStore::append_values(std::size_t layer, std::span<const T> values, std::size_t rows) {
  const std::size_t width = widths_.at(layer);
  if (values.size() != rows * width) {
    throw Error(fmt::format("layer {}: {} values for {} rows of width {}", layer + 1, values.size(), rows, width));
  }
  auto& out = data_[layer];
  const std::size_t w = words_[layer];
  const std::size_t base = out.size();
  out.resize(base + rows * w, 0);
  pack_rows(values, rows, width, w, out.data() + base);
  rows_[layer] += rows;
}

void PatternStore::append_activations(std::size_t layer, std::span<const float> values, std::size_t rows) {
  append_values(layer, values, rows);
}

void PatternStore::append_flags(std::size_t layer, std::span<const std::uint8_t> flags, std::size_t rows) {
  append_values(layer, flags, rows);
}

void PatternStore::append_pattern(std::size_t layer, std::string_view bits) {
  const std::size_t width = widths_.at(layer);
  if (bits.size() != width) {
    throw Error(fmt::format("layer {}: pattern of {} bits, the layer has {} neurons", layer + 1, bits.size(), width));
  }
  std::vector<std::uint64_t> row(words_[layer], 0);
  if (const std::size_t bad = pack_pattern_text(bits, row); bad != std::string_view::npos) {
    throw Error(
        fmt::format("layer {}: pattern has '{}' at position {} (only '0' and '1')", layer + 1, bits[bad], bad + 1));
  }
  append_row(layer, row);
}

void PatternStore::append_row(std::size_t layer, std::span<const std::uint64_t> row) {
  if (row.size() != words_.at(layer)) {
    throw Error(fmt::format("layer {}: row of {} words, expected {}", layer + 1, row.size(), words_[layer]));
  }
  const std::size_t tail = widths_[layer] % kBitsPerWord;
  if (tail != 0 && (row.back() >> tail) != 0) {
    throw Error(fmt::format("layer {}: bits set beyond neuron {}", layer + 1, widths_[layer]));
  }
  data_[layer].insert(data_[layer].end(), row.begin(), row.end());
  ++rows_[layer];
}

std::string PatternStore::pattern_string(std::size_t layer, std::size_t instance) const {
  return pattern_to_string(row(layer, instance), widths_.at(layer));
}

std::string pattern_to_string(std::span<const std::uint64_t> row, std::size_t width) {
  std::string out(width, '0');
  write_pattern_text(row, width, out.data());
  return out;
}

void write_pattern_text(std::span<const std::uint64_t> row, std::size_t width, char* out) noexcept {
  for (std::size_t i = 0; i < width; ++i)
    out[i] = static_cast<char>('0' + ((row[i / kBitsPerWord] >> (i % kBitsPerWord)) & 1U));
}

std::size_t pack_pattern_text(std::string_view text, std::span<std::uint64_t> row) noexcept {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '1') {
      row[i / kBitsPerWord] |= std::uint64_t{1} << (i % kBitsPerWord);
    } else if (text[i] != '0') {
      return i;
    }
  }
  return std::string_view::npos;
}

namespace {

// kReversed[b]: the byte b with its bit order reversed.
constexpr auto kReversed = [] {
  std::array<std::uint8_t, 256> table{};
  for (unsigned b = 0; b < 256; ++b) {
    unsigned r = 0;
    for (unsigned i = 0; i < 8; ++i) r |= ((b >> i) & 1U) << (7 - i);
    table[b] = static_cast<std::uint8_t>(r);
  }
  return table;
}();

}  // namespace

std::size_t pattern_hex_digits(std::size_t width) noexcept { return 2 * ((width + 7) / 8); }

void write_pattern_hex(std::span<const std::uint64_t> row, std::size_t width, char* out) noexcept {
  static constexpr std::string_view kDigits = "0123456789abcdef";
  // Byte b holds neurons 8b+1..8b+8, the first as its most significant bit:
  // the store's byte (neuron 8b+1 at bit 0) reversed. Bits past the last
  // neuron are zero in the store.
  for (std::size_t b = 0; b < (width + 7) / 8; ++b) {
    const auto stored = static_cast<std::uint8_t>(row[b / 8] >> (8 * (b % 8)));
    const unsigned msb_first = kReversed[stored];
    out[2 * b] = kDigits[msb_first >> 4];
    out[2 * b + 1] = kDigits[msb_first & 0xF];
  }
}

namespace {

// Hex digit -> its 4 bits reversed (the digit's most significant bit is the
// lowest-numbered neuron, which sits in the lowest bit); 0xFF: not a digit.
constexpr std::array<std::uint8_t, 256> kHexNibble = [] {
  std::array<std::uint8_t, 256> table{};
  table.fill(0xFF);
  const auto reversed = [](unsigned v) {
    return static_cast<std::uint8_t>(((v & 1U) << 3) | ((v & 2U) << 1) | ((v & 4U) >> 1) | ((v & 8U) >> 3));
  };
  for (unsigned v = 0; v < 10; ++v) table['0' + v] = reversed(v);
  for (unsigned v = 0; v < 6; ++v) table['a' + v] = reversed(10 + v);
  return table;
}();

}  // namespace

std::size_t pack_pattern_hex(std::string_view text, std::span<std::uint64_t> row) noexcept {
  constexpr std::size_t kDigitsPerWord = kBitsPerWord / 4;
  for (std::size_t first = 0, w = 0; first < text.size(); first += kDigitsPerWord, ++w) {
    const std::size_t end = std::min(text.size(), first + kDigitsPerWord);
    std::uint64_t word = 0;
    for (std::size_t d = first; d < end; ++d) {
      const std::uint8_t nibble = kHexNibble[static_cast<unsigned char>(text[d])];
      if (nibble == 0xFF) return d;
      word |= std::uint64_t{nibble} << (4 * (d - first));
    }
    row[w] |= word;
  }
  return std::string_view::npos;
}

int compare_patterns(std::span<const std::uint64_t> a, std::span<const std::uint64_t> b) noexcept {
  for (std::size_t w = 0; w < a.size() && w < b.size(); ++w) {
    const std::uint64_t diff = a[w] ^ b[w];
    if (diff != 0) {
      // The first differing neuron is the lowest differing bit; '0' < '1'.
      const int first = std::countr_zero(diff);
      return ((a[w] >> first) & 1U) != 0 ? 1 : -1;
    }
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

Grouping group_keys(std::span<const std::uint64_t> keys) {
  return group_by(
      keys.size(), [&](std::size_t i) { return keys[i]; }, [](std::size_t, std::size_t) { return true; });
}

Grouping group_patterns(const PatternStore& store, std::size_t layer) {
  const std::size_t n = store.size();
  if (n == 0) return {};
  const std::size_t w = store.words(layer);
  const std::uint64_t* data = store.row(layer, 0).data();
  if (w == 1) return group_keys({data, n});  // widths up to 64: the word is the key
  return group_by(
      n,
      [&](std::size_t i) {
        return hash_row({data + i * w, w});
      },
      [&](std::size_t i, std::size_t j) { return std::equal(data + i * w, data + (i + 1) * w, data + j * w); });
}

Grouping group_pairs(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b) {
  if (a.size() != b.size()) throw Error("group_pairs: id vectors differ in length");
  std::vector<std::uint64_t> keys(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) keys[i] = (std::uint64_t{a[i]} << 32) | b[i];
  return group_keys(keys);
}

std::vector<std::size_t> unique_pattern_counts(const PatternStore& store) {
  std::vector<std::size_t> out;
  for (std::size_t l = 0; l < store.layers(); ++l) out.push_back(group_patterns(store, l).groups());
  return out;
}

}  // namespace apd
