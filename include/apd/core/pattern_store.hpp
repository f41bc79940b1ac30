// The packed activation-pattern store: for N instances and L hidden layers,
// A_l(x) as one bit per neuron (bit i = 1 iff neuron i's ReLU output is > 0),
// 64 neurons per word, about N x (total width) / 8 bytes. Appendable batch by
// batch, so extraction streams into it without keeping float activations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apd {

class PatternStore {
 public:
  // One layer per width (none: a store of no layer, holding no instance).
  explicit PatternStore(std::vector<std::size_t> widths);

  [[nodiscard]] std::size_t layers() const noexcept { return widths_.size(); }
  [[nodiscard]] std::size_t width(std::size_t layer) const { return widths_.at(layer); }
  [[nodiscard]] const std::vector<std::size_t>& widths() const noexcept { return widths_; }
  [[nodiscard]] std::size_t words(std::size_t layer) const { return words_.at(layer); }
  // Instances complete in every layer; throws apd::Error if layers disagree.
  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

  void reserve(std::size_t instances);
  // Packs `rows` x width(layer) row-major values: bit = value > 0 (NaN -> 0).
  void append_activations(std::size_t layer, std::span<const float> values, std::size_t rows);
  // The same for flags already taken, each 0 or 1 (a bool tensor's bytes).
  void append_flags(std::size_t layer, std::span<const std::uint8_t> flags, std::size_t rows);
  // Appends one pattern written as '0'/'1' characters, neuron 1 first.
  void append_pattern(std::size_t layer, std::string_view bits);
  // Appends one already-packed row of words(layer) words (unused high bits 0).
  void append_row(std::size_t layer, std::span<const std::uint64_t> row);

  [[nodiscard]] std::span<const std::uint64_t> row(std::size_t layer, std::size_t instance) const {
    const std::size_t w = words_[layer];
    return {data_[layer].data() + instance * w, w};
  }
  [[nodiscard]] bool bit(std::size_t layer, std::size_t instance, std::size_t neuron) const {
    return ((row(layer, instance)[neuron / 64] >> (neuron % 64)) & 1U) != 0;
  }
  [[nodiscard]] std::string pattern_string(std::size_t layer, std::size_t instance) const;

 private:
  template <typename T>
  void append_values(std::size_t layer, std::span<const T> values, std::size_t rows);

  std::vector<std::size_t> widths_;
  std::vector<std::size_t> words_;
  std::vector<std::vector<std::uint64_t>> data_;
  std::vector<std::size_t> rows_;
};

// '0'/'1' text of a packed row, neuron 1 first.
[[nodiscard]] std::string pattern_to_string(std::span<const std::uint64_t> row, std::size_t width);
// Writes that text into out[0, width).
void write_pattern_text(std::span<const std::uint64_t> row, std::size_t width, char* out) noexcept;
// Packs '0'/'1' text into `row` (ceil(size/64) words, zeroed by the caller):
// bit i % 64 of word i / 64 is neuron i + 1. Returns the index of the first
// character that is neither '0' nor '1', or npos.
[[nodiscard]] std::size_t pack_pattern_text(std::string_view text, std::span<std::uint64_t> row) noexcept;
// The compact text of wide patterns ("pattern_hex" in APD files): the bits,
// neuron 1 first, packed most significant bit first into ceil(width/8) bytes
// (zero-padded at the end), in lowercase hex: 2 * ceil(width/8) digits.
// numpy.packbits(bits).tobytes().hex() writes the same text.
[[nodiscard]] std::size_t pattern_hex_digits(std::size_t width) noexcept;
void write_pattern_hex(std::span<const std::uint64_t> row, std::size_t width, char* out) noexcept;
// Unpacks hex digits into `row` (ceil(4 * size / 64) words, zeroed by the
// caller): 4 * size bits. Returns the index of the first character that is
// not a lowercase hex digit, or npos.
[[nodiscard]] std::size_t pack_pattern_hex(std::string_view text, std::span<std::uint64_t> row) noexcept;
// Lexicographic order of the '0'/'1' strings, without building them.
[[nodiscard]] int compare_patterns(std::span<const std::uint64_t> a, std::span<const std::uint64_t> b) noexcept;

// A partition of instances into dense groups numbered in order of first
// appearance: id[i] is instance i's group, first[g] its first instance,
// count[g] its size.
struct Grouping {
  std::vector<std::uint32_t> id;
  std::vector<std::uint32_t> first;
  std::vector<std::uint64_t> count;

  [[nodiscard]] std::size_t groups() const noexcept { return first.size(); }
};

// Groups instances by their pattern in `layer`: groups() is |A*_l(D)|.
[[nodiscard]] Grouping group_patterns(const PatternStore& store, std::size_t layer);
// Groups instances by an exact 64-bit key each.
[[nodiscard]] Grouping group_keys(std::span<const std::uint64_t> keys);
// Groups instances by the pair (a[i], b[i]) of two ids.
[[nodiscard]] Grouping group_pairs(std::span<const std::uint32_t> a, std::span<const std::uint32_t> b);
// |A*_l(D)| for every layer.
[[nodiscard]] std::vector<std::size_t> unique_pattern_counts(const PatternStore& store);

}  // namespace apd
