// The report's galleries: clicking a Sankey node, a link or a flow row shows
// the instances through it, with their pictures from the dataset the APD was
// extracted from. Here: what the page needs for that, per APD file (its
// instances' node ranks, how ranks map to the drawn Sankey nodes, its flows)
// and per dataset (each instance's PNG, read once for all files showing it).
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"

namespace apd {

class DatasetImages;

// How galleries find pictures: where the APDs say (checked against the
// SHA-256 they recorded), under `images` when the data moved, or not at all.
struct GalleryOptions {
  std::optional<std::filesystem::path> images;  // --images PATH: a file, or the directory holding it
  bool no_images = false;                       // --no-images
};

// The gallery data of `d` (which must hold instance records): per instance
// its dataset index, true and predicted label, and node rank per hidden
// layer; per Sankey column the first drawn node and how many ranks are
// drawn as themselves (the rest are "other"); the label of each label-node
// rank; the flows of the last two hidden layers (strength, errors, majority
// label and count, node ranks).
[[nodiscard]] nlohmann::json gallery_json(const Diagram& d, std::size_t max_nodes);

// The pictures of the instances of every APD shown, one entry per dataset.
class Thumbnails {
 public:
  explicit Thumbnails(GalleryOptions options);
  Thumbnails(const Thumbnails&) = delete;
  Thumbnails& operator=(const Thumbnails&) = delete;
  ~Thumbnails();

  // Registers `d`'s instances (read from `apd`); returns the number of its
  // dataset in json(), or none with --no-images, without instances, or when
  // the APD records no dataset or its instances are not images (a warning
  // says so for these two). Opens and checks each dataset once;
  // throws apd::Error naming the APD and the file when it is missing or
  // differs from the recorded one.
  [[nodiscard]] std::optional<std::size_t> add(const Diagram& d, const std::string& apd,
                                               std::vector<std::string>& warnings);

  // Per dataset: file, sha256, height, width, channels, scaling, the
  // instance indices (ascending) and their PNGs as base64, in that order.
  [[nodiscard]] nlohmann::json json() const;

 private:
  struct Dataset;
  GalleryOptions options_;
  std::vector<std::unique_ptr<Dataset>> datasets_;
};

}  // namespace apd
