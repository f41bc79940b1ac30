#include "apd/io/thumbnails.hpp"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/npy.hpp"

namespace apd {

namespace {

std::optional<std::filesystem::path> string_at(const nlohmann::json& record, const char* key) {
  const auto it = record.find(key);
  if (it == record.end() || !it->is_string() || it->get<std::string>().empty()) return std::nullopt;
  return std::filesystem::path(it->get<std::string>());
}

// The file a record names: "data" (TorchScript records: the IDX images file
// or X.npy), or "dir" and "images" (the paper's MLP), or, in files of apd
// before the "images" field, "dir" and the selection's split.
std::filesystem::path recorded_file(const nlohmann::json& graph, const nlohmann::json& record, const std::string& apd) {
  if (auto data = string_at(record, "data")) return *data;
  const auto dir = string_at(record, "dir");
  if (!dir) throw Error(fmt::format("{}: graph.dataset names no data file or directory", apd));
  if (auto images = string_at(record, "images")) return *dir / *images;
  const auto selection = graph.find("selection");
  const bool test = selection != graph.end() && selection->is_object() && selection->value("split", "") == "test";
  return test ? find_dataset(*dir).test_images : find_dataset(*dir).train_images;
}

std::vector<std::int64_t> shape_at(const nlohmann::json& record) {
  std::vector<std::int64_t> shape;
  const auto it = record.find("input_shape");
  if (it == record.end() || !it->is_array()) return shape;
  for (const auto& d : *it) {
    if (!d.is_number_integer()) return {};
    shape.push_back(d.get<std::int64_t>());
  }
  return shape;
}

}  // namespace

DatasetSource dataset_source(const nlohmann::json& graph, const std::string& apd,
                             const std::optional<std::filesystem::path>& moved) {
  const auto it = graph.find("dataset");
  if (it == graph.end() || !it->is_object()) throw Error(fmt::format("{}: graph.dataset is missing", apd));
  DatasetSource s;
  s.file = recorded_file(graph, *it, apd);
  if (moved) s.file = std::filesystem::is_directory(*moved) ? *moved / s.file.filename() : *moved;
  if (auto sha = it->find("sha256"); sha != it->end() && sha->is_string()) s.sha256 = sha->get<std::string>();
  s.input_shape = shape_at(*it);
  return s;
}

std::optional<ImageShape> image_shape(std::span<const std::int64_t> s) {
  for (const auto d : s) {
    if (d <= 0 || d > (std::int64_t{1} << 16)) return std::nullopt;
  }
  const auto u = [&](std::size_t k) { return static_cast<std::size_t>(s[k]); };
  if (s.size() == 2) return ImageShape{u(0), u(1), 1, false};
  if (s.size() == 3 && (s[0] == 1 || s[0] == 3)) return ImageShape{u(1), u(2), u(0), false};
  if (s.size() == 3 && (s[2] == 1 || s[2] == 3)) return ImageShape{u(0), u(1), u(2), true};
  if (s.size() == 1) {
    const auto side = static_cast<std::size_t>(std::llround(std::sqrt(static_cast<double>(s[0]))));
    if (side * side == u(0)) return ImageShape{side, side, 1, false};
  }
  return std::nullopt;
}

namespace {

// libpng reports errors by longjmp: the writer's state is plain data only,
// and the output buffer is reserved up front (the worst case of a PNG of
// stored deflate blocks) so that appending never allocates inside libpng.
struct PngOut {
  std::string* bytes;
  bool overflow = false;
};

void append_png(png_structp png, png_bytep data, png_size_t size) {
  auto* out = static_cast<PngOut*>(png_get_io_ptr(png));
  if (out->bytes->size() + size > out->bytes->capacity()) {
    out->overflow = true;
    png_error(png, "output larger than reserved");
  }
  out->bytes->append(reinterpret_cast<const char*>(data), size);
}

void flush_png(png_structp /*png*/) {}

// Writes the PNG; false when libpng failed.
bool write_png(PngOut& out, const std::uint8_t* pixels, std::uint32_t width, std::uint32_t height, int channels) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (png == nullptr) return false;
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {  // NOLINT(cert-err52-cpp): libpng's error protocol
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, &out, append_png, flush_png);
  png_set_IHDR(png, info, width, height, 8, channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 9);
  // Digit-like grayscale images compress best unfiltered; photographs with filters.
  png_set_filter(png, PNG_FILTER_TYPE_BASE, channels == 1 ? PNG_FILTER_NONE : PNG_ALL_FILTERS);
  png_write_info(png, info);
  const std::size_t stride = std::size_t{width} * static_cast<std::size_t>(channels);
  for (std::uint32_t r = 0; r < height; ++r) png_write_row(png, pixels + r * stride);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

std::string encode_png(std::span<const std::uint8_t> pixels, std::size_t width, std::size_t height,
                       std::size_t channels) {
  if ((channels != 1 && channels != 3) || width == 0 || height == 0 || width > (1U << 20) || height > (1U << 20) ||
      pixels.size() != width * height * channels) {
    throw Error(fmt::format("PNG of {}x{}x{} from {} bytes: not an image", height, width, channels, pixels.size()));
  }
  std::string bytes;
  const std::size_t raw = pixels.size() + height;
  bytes.reserve(raw + raw / 1000 + 16 * (raw / 16384 + 1) + 1024);
  PngOut out{&bytes};
  if (!write_png(out, pixels.data(), static_cast<std::uint32_t>(width), static_cast<std::uint32_t>(height),
                 static_cast<int>(channels))) {
    throw Error(fmt::format("PNG of {}x{}x{}: libpng failed{}", height, width, channels,
                            out.overflow ? " (output larger than reserved)" : ""));
  }
  return bytes;
}

struct DatasetImages::Files {
  std::unique_ptr<IdxImageFile> idx;
  std::unique_ptr<NpyInstances> npy;
};

DatasetImages::DatasetImages(const DatasetSource& source) : file_(source.file), files_(std::make_unique<Files>()) {
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) throw Error(fmt::format("{}: no such file", file_.string()));
  std::vector<std::int64_t> shape;
  if (file_.extension() == ".npy") {
    files_->npy = std::make_unique<NpyInstances>(file_);
    const NpyHeader& h = files_->npy->header();
    shape.assign(h.shape.begin() + 1, h.shape.end());
    // uint8 data are bytes already; float data (NpyInstances reads no other dtype) are scaled.
    scaled_ = !(h.kind == NpyKind::unsigned_int && h.item_size == 1);
  } else {
    files_->idx = std::make_unique<IdxImageFile>(file_);
    shape = {static_cast<std::int64_t>(files_->idx->rows()), static_cast<std::int64_t>(files_->idx->cols())};
  }
  shape_ = image_shape(shape);
  const std::size_t values = files_->npy ? files_->npy->instance_size() : files_->idx->image_size();
  if (!shape_ && !source.input_shape.empty()) shape_ = image_shape(source.input_shape);
  if (shape_ && shape_->values() != values) shape_.reset();
  scan(source.sha256);
}

DatasetImages::~DatasetImages() = default;

std::size_t DatasetImages::count() const noexcept { return files_->npy ? files_->npy->count() : files_->idx->count(); }

// Hashes the file and, for data to scale, finds its value range in the same
// pass, whole instances at a time (so a non-finite value is named exactly).
void DatasetImages::scan(const std::string& expected) {
  ChunkVisitor visit;
  std::vector<std::uint8_t> carry;
  std::vector<float> values;
  std::size_t instance = 0;
  bool first = true;
  if (scaled_) {
    const NpyHeader& h = files_->npy->header();
    values.resize(h.instance_elements());
    visit = [&](std::span<const std::uint8_t> chunk, std::uint64_t offset) {
      if (offset + chunk.size() <= h.data_offset) return;
      if (offset < h.data_offset) chunk = chunk.subspan(static_cast<std::size_t>(h.data_offset - offset));
      carry.insert(carry.end(), chunk.begin(), chunk.end());
      std::size_t used = 0;
      for (; carry.size() - used >= h.instance_bytes(); used += h.instance_bytes(), ++instance) {
        npy_to_float(h, std::span(carry).subspan(used, h.instance_bytes()), values, file_.string(), instance);
        for (const float v : values) {
          min_ = first ? v : std::min(min_, v);
          max_ = first ? v : std::max(max_, v);
          first = false;
        }
      }
      carry.erase(carry.begin(), carry.begin() + static_cast<std::ptrdiff_t>(used));
    };
  }
  sha256_ = sha256_file(file_, visit);
  if (!expected.empty() && sha256_ != expected) {
    throw Error(
        fmt::format("{}: SHA-256 {}... differs from the {}... the APD recorded: not the data it was "
                    "extracted from",
                    file_.string(), sha256_.substr(0, 12), expected.substr(0, 12)));
  }
  if (!scaled_) return;
  unit_ = min_ >= 0.0F && max_ <= 1.0F;
  scaling_ = unit_ ? "255 x" : fmt::format("min-max over the file [{}, {}]", min_, max_);
}

std::uint8_t DatasetImages::to_byte(float x) const noexcept {
  if (!scaled_) return static_cast<std::uint8_t>(x);  // a uint8 value, exact in float
  if (unit_) return static_cast<std::uint8_t>(std::lround(static_cast<double>(x) * 255.0));
  if (max_ == min_) return 0;
  const double share = (static_cast<double>(x) - min_) / (static_cast<double>(max_) - min_);
  return static_cast<std::uint8_t>(std::lround(share * 255.0));
}

std::string DatasetImages::png(std::int64_t index) const {
  if (!shape_) throw Error(fmt::format("{}: its instances are not images", file_.string()));
  const ImageShape& s = *shape_;
  std::vector<std::uint8_t> pixels(s.values());
  const std::int64_t one[] = {index};
  if (files_->idx) {
    files_->idx->read(one, pixels);
    return encode_png(pixels, s.width, s.height, 1);
  }
  std::vector<float> values(s.values());
  files_->npy->read(one, values);
  const std::size_t plane = s.height * s.width;
  for (std::size_t p = 0; p < plane; ++p) {
    for (std::size_t c = 0; c < s.channels; ++c) {
      // Interleave channels-first data (c * plane + p) as PNG wants it (p * channels + c).
      pixels[p * s.channels + c] = to_byte(values[s.channels_last ? p * s.channels + c : c * plane + p]);
    }
  }
  return encode_png(pixels, s.width, s.height, s.channels);
}

}  // namespace apd
