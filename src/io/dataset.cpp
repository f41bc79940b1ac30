#include "apd/io/dataset.hpp"

#include <array>
#include <vector>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

constexpr std::array<std::string_view, 4> kStems = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

}  // namespace

DatasetFiles find_dataset(const std::filesystem::path& dir) {
  if (!std::filesystem::is_directory(dir)) {
    throw Error(
        fmt::format("{}: not a directory (expected the four MNIST-style IDX files; "
                    "for MNIST run scripts/fetch-mnist.sh)",
                    dir.string()));
  }
  std::array<std::filesystem::path, 4> found;
  std::vector<std::string_view> missing;
  for (std::size_t i = 0; i < kStems.size(); ++i) {
    const auto plain = dir / std::string(kStems[i]);
    const auto gz = dir / (std::string(kStems[i]) + ".gz");
    if (std::filesystem::is_regular_file(plain)) {
      found[i] = plain;
    } else if (std::filesystem::is_regular_file(gz)) {
      found[i] = gz;
    } else {
      missing.push_back(kStems[i]);
    }
  }
  if (!missing.empty()) {
    throw Error(fmt::format("{}: missing {} (plain or .gz){}", dir.string(), fmt::join(missing, ", "),
                            dir.filename() == "mnist" ? "; run scripts/fetch-mnist.sh" : ""));
  }
  return {dir, found[0], found[1], found[2], found[3]};
}

Normalization parse_normalization(std::string_view name) {
  if (const auto n = from_name(kNormalizationNames, name)) return *n;
  throw UsageError(fmt::format("unknown normalization '{}' (expected {})", name, choices(kNormalizationNames)));
}

std::string_view to_string(Normalization n) noexcept { return name_of(kNormalizationNames, n); }

float normalize_value(float x, Normalization n) noexcept {
  switch (n) {
    case Normalization::unit: return x / 255.0f;
    case Normalization::standard: return (x / 255.0f - 0.1307f) / 0.3081f;
    case Normalization::symmetric: return x / 127.5f - 1.0f;
    case Normalization::none: return x;
  }
  return x;
}

std::array<float, 256> normalization_table(Normalization n) noexcept {
  std::array<float, 256> table{};
  for (std::size_t v = 0; v < table.size(); ++v) table[v] = normalize_value(static_cast<float>(v), n);
  return table;
}

void normalize_pixels(std::span<const std::uint8_t> pixels, Normalization n, std::span<float> out) {
  const auto table = normalization_table(n);
  for (std::size_t i = 0; i < pixels.size(); ++i) out[i] = table[pixels[i]];
}

}  // namespace apd
