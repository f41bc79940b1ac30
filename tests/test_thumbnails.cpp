// The galleries' pictures: image geometry, PNG encoding (decoded back with
// libpng's reader), base64, where an APD's dataset is found, the SHA-256
// check, and how values become bytes (IDX and uint8 .npy as is, [0, 1] data
// as round(255 x), other float data min-max over the file).
#include <png.h>

#include <cstring>

#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/thumbnails.hpp"
#include "test_support.hpp"

using apd::test::TempDir;

namespace {

struct Decoded {
  std::size_t width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
};

// libpng's simplified reader: pixels as stored (gray or RGB, 8 bit).
Decoded decode(const std::string& png) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_memory(&image, png.data(), png.size()) != 0);
  Decoded d{image.width, image.height, (image.format & PNG_FORMAT_FLAG_COLOR) != 0 ? 3U : 1U, {}};
  image.format = d.channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  d.pixels.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, d.pixels.data(), 0, nullptr) != 0);
  return d;
}

// A version 1.0 .npy file: magic, header dict padded to 64 bytes, data.
void write_npy(const std::filesystem::path& path, const std::string& descr, const std::string& shape,
               const std::vector<std::uint8_t>& data) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::vector<std::uint8_t> out = {0x93,
                                   'N',
                                   'U',
                                   'M',
                                   'P',
                                   'Y',
                                   1,
                                   0,
                                   static_cast<std::uint8_t>(dict.size() & 255),
                                   static_cast<std::uint8_t>(dict.size() >> 8)};
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), data.begin(), data.end());
  apd::test::write_bytes(path, out);
}

std::vector<std::uint8_t> float_bytes(const std::vector<float>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(float));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

apd::DatasetSource source_of(const std::filesystem::path& file, std::string sha = {}) {
  return {file, std::move(sha), {}};
}

}  // namespace

TEST_CASE("image_shape reads HxW, channels first or last, and flat squares", "[thumbnails]") {
  using S = std::vector<std::int64_t>;
  const auto check = [](const S& s, std::size_t h, std::size_t w, std::size_t c, bool last) {
    const auto shape = apd::image_shape(s);
    REQUIRE(shape);
    CHECK(shape->height == h);
    CHECK(shape->width == w);
    CHECK(shape->channels == c);
    CHECK(shape->channels_last == last);
  };
  check({28, 28}, 28, 28, 1, false);
  check({1, 28, 28}, 28, 28, 1, false);
  check({3, 32, 16}, 32, 16, 3, false);
  check({32, 16, 3}, 32, 16, 3, true);
  check({784}, 28, 28, 1, false);
  CHECK_FALSE(apd::image_shape(S{10}));            // features, not a square
  CHECK_FALSE(apd::image_shape(S{2, 28, 28}));     // two channels
  CHECK_FALSE(apd::image_shape(S{4, 3, 28, 28}));  // a batch of images per instance
  CHECK_FALSE(apd::image_shape(S{0, 28}));
  CHECK_FALSE(apd::image_shape(S{}));
}

TEST_CASE("encode_png writes gray and RGB images that decode to the same pixels", "[thumbnails]") {
  std::vector<std::uint8_t> gray(7 * 5), rgb(4 * 6 * 3);
  for (std::size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<std::uint8_t>(i * 37 % 256);
  for (std::size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<std::uint8_t>(i * 91 % 256);
  const auto g = decode(apd::encode_png(gray, 5, 7, 1));
  CHECK((g.width == 5 && g.height == 7 && g.channels == 1));
  CHECK(g.pixels == gray);
  const auto c = decode(apd::encode_png(rgb, 6, 4, 3));
  CHECK((c.width == 6 && c.height == 4 && c.channels == 3));
  CHECK(c.pixels == rgb);
  // Deterministic: the page's bytes depend on the pixels only.
  CHECK(apd::encode_png(rgb, 6, 4, 3) == apd::encode_png(rgb, 6, 4, 3));
  CHECK_THROWS_AS(apd::encode_png(gray, 5, 6, 1), apd::Error);
  CHECK_THROWS_AS(apd::encode_png(gray, 35, 1, 2), apd::Error);
}

TEST_CASE("base64 gives the RFC 4648 test vectors", "[thumbnails]") {
  CHECK(apd::base64("").empty());
  CHECK(apd::base64("f") == "Zg==");
  CHECK(apd::base64("fo") == "Zm8=");
  CHECK(apd::base64("foo") == "Zm9v");
  CHECK(apd::base64("foob") == "Zm9vYg==");
  CHECK(apd::base64("fooba") == "Zm9vYmE=");
  CHECK(apd::base64("foobar") == "Zm9vYmFy");
  CHECK(apd::base64(std::string("\0\xff", 2)) == "AP8=");
}

TEST_CASE("dataset_source finds the recorded file, or it under --images", "[thumbnails]") {
  const TempDir dir("thumbs-source");
  const nlohmann::json script = {{"dataset", {{"data", "/data/X.npy"}, {"sha256", "ab"}, {"input_shape", {1, 8, 8}}}}};
  const auto s = apd::dataset_source(script, "a.json", std::nullopt);
  CHECK(s.file == "/data/X.npy");
  CHECK(s.sha256 == "ab");
  CHECK(s.input_shape == std::vector<std::int64_t>{1, 8, 8});
  // --images DIR: the recorded file name under DIR; --images FILE: that file.
  CHECK(apd::dataset_source(script, "a.json", dir.path()).file == dir / "X.npy");
  CHECK(apd::dataset_source(script, "a.json", dir / "Y.npy").file == dir / "Y.npy");
  const nlohmann::json mlp = {{"dataset", {{"dir", "data/mnist"}, {"images", "t10k-images-idx3-ubyte"}}}};
  CHECK(apd::dataset_source(mlp, "b.json", std::nullopt).file == "data/mnist/t10k-images-idx3-ubyte");
  CHECK(apd::dataset_source(mlp, "b.json", std::nullopt).sha256.empty());  // files of apd before 2026-12-07
  CHECK_THROWS_WITH(apd::dataset_source({{"dataset", {{"normalize", "unit"}}}}, "c.json", std::nullopt),
                    Catch::Contains("c.json: graph.dataset names no data file"));
  CHECK_THROWS_WITH(apd::dataset_source(nlohmann::json::object(), "d.json", std::nullopt),
                    Catch::Contains("d.json: graph.dataset is missing"));
}

TEST_CASE("IDX images come out as stored, after the SHA-256 check", "[thumbnails]") {
  const TempDir dir("thumbs-idx");
  const auto bytes = apd::test::idx_images(3, 4, 5);
  apd::test::write_bytes(dir / "images", bytes);
  const std::string sha = apd::sha256_file(dir / "images");
  const apd::DatasetImages images(source_of(dir / "images", sha));
  CHECK(images.count() == 3);
  CHECK(images.scaling() == "bytes");
  REQUIRE(images.shape());
  const auto d = decode(images.png(2));
  CHECK((d.width == 5 && d.height == 4 && d.channels == 1));
  CHECK(d.pixels == std::vector<std::uint8_t>(bytes.end() - 20, bytes.end()));

  auto changed = bytes;
  changed[changed.size() - 1] = static_cast<std::uint8_t>(changed[changed.size() - 1] ^ 1U);
  apd::test::write_bytes(dir / "images", changed);
  CHECK_THROWS_WITH(apd::DatasetImages(source_of(dir / "images", sha)),
                    Catch::Contains("images: SHA-256 ") && Catch::Contains("differs from the " + sha.substr(0, 12)) &&
                        Catch::Contains("not the data it was extracted from"));
  CHECK_THROWS_WITH(apd::DatasetImages(source_of(dir / "missing")), Catch::Contains("missing: no such file"));
}

TEST_CASE("float .npy data in [0, 1] become round(255 x), channels first interleaved", "[thumbnails]") {
  const TempDir dir("thumbs-unit");
  // One instance of 3x1x2 (channels first): R = {0, 1}, G = {0.5/255, 1.5/255}, B = {0.25, 0.75}.
  const std::vector<float> v = {0.0F, 1.0F, 0.5F / 255, 1.5F / 255, 0.25F, 0.75F};
  write_npy(dir / "X.npy", "<f4", "(1, 3, 1, 2)", float_bytes(v));
  const apd::DatasetImages images(source_of(dir / "X.npy"));
  CHECK(images.scaling() == "255 x");
  const auto d = decode(images.png(0));
  CHECK((d.width == 2 && d.height == 1 && d.channels == 3));
  // Pixel p channel c from c * plane + p; halves round away from zero.
  const auto r = [](float x) { return static_cast<std::uint8_t>(std::lround(static_cast<double>(x) * 255)); };
  CHECK(d.pixels == std::vector<std::uint8_t>{0, r(v[2]), r(v[4]), 255, r(v[3]), r(v[5])});
}

TEST_CASE("other float data are min-max scaled over the whole file; uint8 .npy as is", "[thumbnails]") {
  const TempDir dir("thumbs-range");
  // Two 2x2x1 instances (channels last), values from -1 to 3 across the file.
  write_npy(dir / "X.npy", "<f4", "(2, 2, 2, 1)", float_bytes({-1, 0, 1, 2, 3, 3, 3, 3}));
  const apd::DatasetImages images(source_of(dir / "X.npy"));
  CHECK(images.scaling() == "min-max over the file [-1, 3]");
  CHECK(decode(images.png(0)).pixels == std::vector<std::uint8_t>{0, 64, 128, 191});
  CHECK(decode(images.png(1)).pixels == std::vector<std::uint8_t>{255, 255, 255, 255});

  write_npy(dir / "U.npy", "|u1", "(1, 2, 2)", {0, 7, 200, 255});
  const apd::DatasetImages bytes(source_of(dir / "U.npy"));
  CHECK(bytes.scaling() == "bytes");
  CHECK(decode(bytes.png(0)).pixels == std::vector<std::uint8_t>{0, 7, 200, 255});

  // Features, not images: no shape, no pictures.
  write_npy(dir / "F.npy", "<f4", "(2, 5)", float_bytes({0, 0, 0, 0, 0, 1, 1, 1, 1, 1}));
  const apd::DatasetImages features(source_of(dir / "F.npy"));
  CHECK_FALSE(features.shape());
  CHECK_THROWS_WITH(features.png(0), Catch::Contains("not images"));
}
