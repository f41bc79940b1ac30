#include "apd/report/gallery.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/flows.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/thumbnails.hpp"
#include "apd/report/report.hpp"

namespace apd {

namespace {

// Per Sankey column (1..L+1, index 0 unused): the index of its first drawn
// node, the ranks drawn as themselves, as sankey_view lays them out
// (columns in order; a column of more than max_nodes nodes keeps
// max_nodes - 1 and merges the rest into one "other" node after them), and
// the rank at each drawing position when that is not the rank itself (a
// file not ordered by descending count), else null.
nlohmann::json column_layout(const Diagram& d, std::size_t max_nodes) {
  const auto by_column = column_order(d);
  nlohmann::json first = nlohmann::json::array({nullptr}), kept = nlohmann::json::array({nullptr}),
                 order = nlohmann::json::array({nullptr});
  std::size_t at = 0;
  for (std::size_t c = 1; c < by_column.size(); ++c) {
    const std::size_t size = by_column[c].size();
    first.push_back(at);
    kept.push_back(drawn_alone(size, max_nodes));
    at += std::min(size, max_nodes);
    std::vector<std::uint32_t> ranks;
    for (const std::size_t k : by_column[c]) ranks.push_back(d.nodes[k].rank);
    const bool in_rank_order = std::is_sorted(ranks.begin(), ranks.end());
    order.push_back(in_rank_order ? nlohmann::json(nullptr) : nlohmann::json(ranks));
  }
  return {{"first", first}, {"kept", kept}, {"order", order}};
}

nlohmann::json flows_json(const Diagram& d) {
  const FlowSet fs = compute_flows(d, default_flow_layers(d.layers()));
  nlohmann::json f = {{"layers", fs.layers},
                      {"strength", nlohmann::json::array()},
                      {"errors", nlohmann::json::array()},
                      {"majority", nlohmann::json::array()},
                      {"majority_count", nlohmann::json::array()},
                      {"ranks", nlohmann::json::array()}};
  for (std::size_t k = 0; k < fs.layers.size(); ++k) f["ranks"].push_back(nlohmann::json::array());
  for (std::size_t i = 0; i < fs.flows.size(); ++i) {
    const Flow& flow = fs.flows[i];
    f["strength"].push_back(flow.strength);
    f["errors"].push_back(flow.errors);
    f["majority"].push_back(flow.majority_label);
    f["majority_count"].push_back(flow.majority_count);
    const auto nodes = fs.nodes(i);
    for (std::size_t k = 0; k < nodes.size(); ++k) f["ranks"][k].push_back(d.nodes[nodes[k]].rank);
  }
  return f;
}

// A PNG as libpng writes a small image: the signature and IHDR (the same
// for every image of one shape), one IDAT chunk, IEND. The page keeps the
// shared head and tail once and each image's IDAT data and CRC, and puts
// the exact bytes back together (report.js, pngSource).
constexpr std::size_t kPngHead = 8 + 25;  // signature, IHDR chunk
constexpr std::size_t kPngTail = 12;      // IEND chunk
constexpr std::string_view kIdat = "IDAT";

struct PngParts {
  std::string_view head, idat, tail;  // idat: data then CRC
};

std::optional<PngParts> png_parts(std::string_view png) {
  if (png.size() < kPngHead + 12 + kPngTail || png.substr(kPngHead + 4, 4) != kIdat) return std::nullopt;
  std::uint32_t length = 0;
  for (std::size_t k = 0; k < 4; ++k) length = length << 8 | static_cast<std::uint8_t>(png[kPngHead + k]);
  if (png.size() != kPngHead + 12 + std::size_t{length} + kPngTail) return std::nullopt;  // several IDATs
  return PngParts{png.substr(0, kPngHead), png.substr(kPngHead + 8, length + 4), png.substr(png.size() - kPngTail)};
}

// The pictures of `indices`: each image's IDAT part when all share one head
// and tail ("head"/"tail" set), else each whole PNG ("head" null).
nlohmann::json pictures(const DatasetImages& images, const std::set<std::int64_t>& indices, std::size_t& total) {
  std::vector<std::string> pngs;
  pngs.reserve(indices.size());
  for (const auto i : indices) pngs.push_back(images.png(i));
  std::optional<PngParts> first = pngs.empty() ? std::nullopt : png_parts(pngs.front());
  bool split = first.has_value();
  for (std::size_t k = 1; split && k < pngs.size(); ++k) {
    const auto parts = png_parts(pngs[k]);
    split = parts && parts->head == first->head && parts->tail == first->tail;
  }
  nlohmann::json out = {{"head", split ? nlohmann::json(base64(first->head)) : nlohmann::json(nullptr)},
                        {"tail", split ? nlohmann::json(base64(first->tail)) : nlohmann::json(nullptr)},
                        {"png", nlohmann::json::array()}};
  for (const std::string& png : pngs) {
    std::string text = base64(split ? png_parts(png)->idat : std::string_view(png));
    total += text.size();
    if (total > kMaxThumbnailBytes) {
      throw Error(
          fmt::format("{}: the pictures of the galleries exceed {} MB: fewer instances (--limit) or "
                      "--no-images",
                      images.file().string(), kMaxThumbnailBytes >> 20));
    }
    out["png"].push_back(std::move(text));
  }
  return out;
}

// Ascending indices as runs [first, length]: a whole split is one pair.
nlohmann::json index_runs(const std::set<std::int64_t>& indices) {
  nlohmann::json runs = nlohmann::json::array();
  std::int64_t start = -1, length = 0;
  for (const auto i : indices) {
    if (length > 0 && i == start + length) {
      ++length;
      continue;
    }
    if (length > 0) runs.push_back({start, length});
    start = i;
    length = 1;
  }
  if (length > 0) runs.push_back({start, length});
  return runs;
}

}  // namespace

nlohmann::json gallery_json(const Diagram& d, std::size_t max_nodes) {
  if (!d.has_instances) throw Error("gallery: the APD holds no instance records");
  const std::size_t L = d.layers();
  nlohmann::json g = column_layout(d, max_nodes);
  g["index"] = d.index;
  g["label"] = d.label;
  g["predicted"] = d.predicted;
  g["ranks"] = nlohmann::json::array();
  for (std::size_t l = 1; l <= L; ++l) {
    std::vector<std::uint32_t> ranks(d.instances);
    for (std::size_t i = 0; i < ranks.size(); ++i) ranks[i] = d.nodes[d.path_node(i, l)].rank;
    g["ranks"].push_back(std::move(ranks));
  }
  nlohmann::json labels = nlohmann::json::array();
  for (const Node& n : d.nodes) {
    if (n.kind == NodeKind::label) labels.push_back(n.label);  // in rank order
  }
  g["label_nodes"] = std::move(labels);
  g["flows"] = flows_json(d);
  return g;
}

struct Thumbnails::Dataset {
  std::unique_ptr<DatasetImages> images;
  std::set<std::int64_t> indices;
};

Thumbnails::Thumbnails(GalleryOptions options) : options_(std::move(options)) {}
Thumbnails::~Thumbnails() = default;

std::optional<std::size_t> Thumbnails::add(const Diagram& d, const std::string& apd,
                                           std::vector<std::string>& warnings) {
  if (options_.no_images || !d.has_instances || d.instances == 0) return std::nullopt;
  if (const auto it = d.graph.find("dataset"); it == d.graph.end() || !it->is_object()) {
    warnings.push_back(fmt::format("{}: records no dataset (graph.dataset): galleries without pictures", apd));
    return std::nullopt;
  }
  const DatasetSource source = dataset_source(d.graph, apd, options_.images);
  if (source.sha256.empty()) {
    warnings.push_back(
        fmt::format("{}: records no SHA-256 of its data (apd before 2026-12-07): its pictures from {} "
                    "are not checked",
                    apd, source.file.string()));
  }
  std::size_t k = 0;
  std::error_code ec;
  for (; k < datasets_.size(); ++k) {
    if (std::filesystem::equivalent(datasets_[k]->images->file(), source.file, ec)) break;
  }
  if (k == datasets_.size()) {
    try {
      auto dataset = std::make_unique<Dataset>();
      dataset->images = std::make_unique<DatasetImages>(source);
      datasets_.push_back(std::move(dataset));
    } catch (const Error& e) {
      throw Error(
          fmt::format("{}: its dataset {} (--images PATH when it moved, --no-images for a page without "
                      "pictures)",
                      apd, e.what()));
    }
  } else if (!source.sha256.empty() && datasets_[k]->images->sha256() != source.sha256) {
    throw Error(fmt::format("{}: recorded SHA-256 {}... of {}, another file's than the other APDs' ({}...)", apd,
                            source.sha256.substr(0, 12), source.file.string(),
                            datasets_[k]->images->sha256().substr(0, 12)));
  }
  Dataset& dataset = *datasets_[k];
  if (!dataset.images->shape()) {
    warnings.push_back(
        fmt::format("{}: the instances of {} are not images (shape HxW, CxHxW or HxWxC with 1 or 3 "
                    "channels): galleries list them without pictures",
                    apd, source.file.string()));
    return std::nullopt;
  }
  for (const auto i : d.index) {
    if (i < 0 || static_cast<std::size_t>(i) >= dataset.images->count()) {
      throw Error(fmt::format("{}: instance {} is outside the {} instances of {}", apd, i, dataset.images->count(),
                              source.file.string()));
    }
    dataset.indices.insert(i);
  }
  return k;
}

nlohmann::json Thumbnails::json() const {
  nlohmann::json out = nlohmann::json::array();
  std::size_t total = 0;
  for (const auto& dataset : datasets_) {
    const DatasetImages& images = *dataset->images;
    if (!images.shape()) {  // listed without pictures, but kept: datasets are numbered in add()'s order
      out.push_back({{"file", images.file().string()}, {"sha256", images.sha256()}, {"png", nullptr}});
      continue;
    }
    const ImageShape& s = *images.shape();
    nlohmann::json d = pictures(images, dataset->indices, total);
    d.update({{"file", images.file().string()},
              {"sha256", images.sha256()},
              {"height", s.height},
              {"width", s.width},
              {"channels", s.channels},
              {"scaling", images.scaling()},
              {"index_runs", index_runs(dataset->indices)}});
    out.push_back(std::move(d));
    spdlog::debug("{}: {} pictures", images.file().string(), dataset->indices.size());
  }
  return out;
}

}  // namespace apd
