// An IDX dataset directory (MNIST, Fashion-MNIST: the four usual file names,
// each plain or .gz) and the pixel normalisations the tools offer.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "apd/core/names.hpp"

namespace apd {

struct DatasetFiles {
  std::filesystem::path dir;
  std::filesystem::path train_images;
  std::filesystem::path train_labels;
  std::filesystem::path test_images;
  std::filesystem::path test_labels;
};

// Finds `train-images-idx3-ubyte[.gz]` and its three siblings in `dir`;
// throws apd::Error listing what is missing.
[[nodiscard]] DatasetFiles find_dataset(const std::filesystem::path& dir);

enum class Normalization { unit, standard, symmetric, none };
inline constexpr NameTable<Normalization, 4> kNormalizationNames{{{"unit", Normalization::unit},
                                                                  {"standard", Normalization::standard},
                                                                  {"symmetric", Normalization::symmetric},
                                                                  {"none", Normalization::none}}};

// "unit": x/255; "standard": (x/255 - 0.1307)/0.3081 (MNIST's mean and
// standard deviation); "symmetric": x/127.5 - 1; "none": x as it is.
[[nodiscard]] Normalization parse_normalization(std::string_view name);
[[nodiscard]] std::string_view to_string(Normalization n) noexcept;

// x under `n`, in float arithmetic: every path (the byte table below, float
// data) computes it this way, so a value gives the same float everywhere.
[[nodiscard]] float normalize_value(float x, Normalization n) noexcept;

// The float of each byte value under `n`.
[[nodiscard]] std::array<float, 256> normalization_table(Normalization n) noexcept;

// Writes normalised floats for `pixels` into `out` (same length).
void normalize_pixels(std::span<const std::uint8_t> pixels, Normalization n, std::span<float> out);

}  // namespace apd
