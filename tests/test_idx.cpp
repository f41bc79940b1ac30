// The IDX reader on fixtures written here: each malformed file gives its message.
#include <zlib.h>

#include <catch2/catch.hpp>

#include <optional>

#include "apd/core/error.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"
#include "test_support.hpp"

using apd::test::TempDir;
using Catch::Matchers::Contains;

namespace {

std::vector<std::uint8_t> gzip(const std::vector<std::uint8_t>& in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

TEST_CASE("a valid IDX image file and its labels are read exactly", "[idx]") {
  TempDir dir("idx-valid");
  apd::test::write_bytes(dir / "img", apd::test::idx_images(3, 2, 5));
  apd::test::write_bytes(dir / "lab", apd::test::idx_labels({4, 0, 9}));
  const auto data = apd::read_labeled_images(dir / "img", dir / "lab");
  CHECK(data.images.count == 3);
  CHECK(data.images.rows == 2);
  CHECK(data.images.cols == 5);
  REQUIRE(data.images.pixels.size() == 30);
  for (std::size_t i = 0; i < 30; ++i) CHECK(data.images.pixels[i] == static_cast<std::uint8_t>(i * 7));
  CHECK(data.images.image(2)[0] == static_cast<std::uint8_t>(20 * 7));
  CHECK(data.labels == std::vector<std::uint8_t>{4, 0, 9});
}

TEST_CASE("gzip-compressed IDX files are detected by content, not by name", "[idx]") {
  TempDir dir("idx-gzip");
  const auto plain = apd::test::idx_images(4, 3, 3);
  apd::test::write_bytes(dir / "images-without-gz-suffix", gzip(plain));
  apd::test::write_bytes(dir / "labels.gz", gzip(apd::test::idx_labels({1, 2, 3, 4})));
  const auto data = apd::read_labeled_images(dir / "images-without-gz-suffix", dir / "labels.gz");
  CHECK(data.images.count == 4);
  CHECK(std::equal(data.images.pixels.begin(), data.images.pixels.end(), plain.begin() + 16));
  CHECK(data.labels == std::vector<std::uint8_t>{1, 2, 3, 4});
}

TEST_CASE("a truncated gzip stream is reported as such", "[idx]") {
  TempDir dir("idx-gzip-trunc");
  auto packed = gzip(apd::test::idx_images(50, 10, 10));
  packed.resize(packed.size() / 2);
  apd::test::write_bytes(dir / "img.gz", packed);
  CHECK_THROWS_WITH(apd::read_idx_images(dir / "img.gz"), Contains("img.gz: gzip data is truncated or corrupt"));
}

TEST_CASE("a wrong magic number is refused with both magics in the message", "[idx]") {
  const auto labels = apd::test::idx_labels({1, 2});
  CHECK_THROWS_WITH(apd::parse_idx_images(labels, "x-labels"),
                    "x-labels: not an IDX image file (magic 0x00000801, expected 0x00000803): it has 1 dimensions");
  const std::vector<std::uint8_t> junk = {0x89, 'P', 'N', 'G', 0, 0, 0, 0};
  CHECK_THROWS_WITH(apd::parse_idx_labels(junk, "photo.png"),
                    "photo.png: not an IDX label file (magic 0x89504e47, expected 0x00000801)");
}

TEST_CASE("IDX element types other than unsigned bytes are refused by name", "[idx]") {
  auto floats = apd::test::idx_images(1, 1, 1);
  floats[2] = 0x0D;
  CHECK_THROWS_WITH(apd::parse_idx_images(floats, "f"),
                    "f: IDX data type 0x0d is not supported (only unsigned bytes, 0x08)");
}

TEST_CASE("a truncated header is refused", "[idx]") {
  auto bytes = apd::test::idx_images(1, 2, 2);
  bytes.resize(10);
  CHECK_THROWS_WITH(apd::parse_idx_images(bytes, "img"),
                    "img: truncated header: 10 bytes, expected 16 for 3 dimensions");
  bytes.resize(2);
  CHECK_THROWS_WITH(apd::parse_idx_images(bytes, "img"), Contains("img: truncated header: 2 bytes"));
  CHECK_THROWS_WITH(apd::parse_idx_labels({}, "lab"), Contains("lab: truncated header: 0 bytes"));
}

TEST_CASE("a truncated payload is refused with the counts the header promised", "[idx]") {
  auto labels = apd::test::idx_labels(std::vector<std::uint8_t>(60000, 1));
  labels.pop_back();
  CHECK_THROWS_WITH(apd::parse_idx_labels(labels, "train-labels-idx1-ubyte"),
                    "train-labels-idx1-ubyte: header says 60000 labels, file holds 59999");
  auto images = apd::test::idx_images(3, 28, 28);
  images.resize(images.size() - 5);
  CHECK_THROWS_WITH(apd::parse_idx_images(images, "img"),
                    "img: header says 3 images of 28x28 (2352 bytes), file holds 2347 bytes");
  auto longer = apd::test::idx_labels({1, 2});
  longer.push_back(3);
  CHECK_THROWS_WITH(apd::parse_idx_labels(longer, "lab"), "lab: header says 2 labels, file holds 3");
}

TEST_CASE("image and label counts must agree", "[idx]") {
  TempDir dir("idx-mismatch");
  apd::test::write_bytes(dir / "img", apd::test::idx_images(3, 2, 2));
  apd::test::write_bytes(dir / "lab", apd::test::idx_labels({1, 2}));
  CHECK_THROWS_WITH(apd::read_labeled_images(dir / "img", dir / "lab"), Contains("lab: holds 2 labels but"));
  CHECK_THROWS_WITH(apd::read_labeled_images(dir / "img", dir / "lab"), Contains("img holds 3 images"));
}

TEST_CASE("files with zero items are refused", "[idx]") {
  CHECK_THROWS_WITH(apd::parse_idx_labels(apd::test::idx_labels({}), "lab"),
                    "lab: header says 0 labels: the file holds no data");
  CHECK_THROWS_WITH(apd::parse_idx_images(apd::test::idx_images(0, 28, 28), "img"),
                    "img: header says 0 images: the file holds no data");
  CHECK_THROWS_WITH(apd::parse_idx_images(apd::test::idx_images(5, 0, 28), "img"),
                    "img: images of 0x28 pixels hold no data");
}

TEST_CASE("header dimensions whose product overflows are refused without reading", "[idx]") {
  std::vector<std::uint8_t> bytes;
  apd::test::append_be32(bytes, 0x00000803);
  for (int i = 0; i < 3; ++i) apd::test::append_be32(bytes, 0xffffffffU);
  CHECK_THROWS_WITH(apd::parse_idx_images(bytes, "huge"),
                    "huge: header dimensions 4294967295x4294967295x4294967295 overflow the addressable size");
}

TEST_CASE("a missing file is an apd::Error naming it", "[idx]") {
  CHECK_THROWS_AS(apd::read_idx_labels("/nonexistent/labels"), apd::Error);
  CHECK_THROWS_WITH(apd::read_idx_labels("/nonexistent/labels"), Catch::StartsWith("/nonexistent/labels: cannot open"));
}

TEST_CASE("a dataset directory is found with plain or gzipped files and missing ones are listed", "[idx]") {
  TempDir dir("dataset");
  apd::test::write_bytes(dir / "train-images-idx3-ubyte", apd::test::idx_images(1, 1, 1));
  apd::test::write_bytes(dir / "train-labels-idx1-ubyte.gz", gzip(apd::test::idx_labels({1})));
  CHECK_THROWS_WITH(apd::find_dataset(dir.path()), Contains("missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"));
  apd::test::write_bytes(dir / "t10k-images-idx3-ubyte.gz", gzip(apd::test::idx_images(1, 1, 1)));
  apd::test::write_bytes(dir / "t10k-labels-idx1-ubyte", apd::test::idx_labels({1}));
  const auto files = apd::find_dataset(dir.path());
  CHECK(files.train_labels.filename() == "train-labels-idx1-ubyte.gz");
  CHECK(files.test_labels.filename() == "t10k-labels-idx1-ubyte");
  CHECK_THROWS_WITH(apd::find_dataset(dir / "nope"), Contains("not a directory"));
}

TEST_CASE("the three normalisations map bytes as documented", "[idx]") {
  const std::vector<std::uint8_t> px = {0, 255, 51};
  std::vector<float> out(3);
  apd::normalize_pixels(px, apd::Normalization::unit, out);
  CHECK(out[0] == 0.0f);
  CHECK(out[1] == 1.0f);
  CHECK(out[2] == Approx(0.2));
  apd::normalize_pixels(px, apd::Normalization::symmetric, out);
  CHECK(out[0] == -1.0f);
  CHECK(out[1] == 1.0f);
  apd::normalize_pixels(px, apd::Normalization::standard, out);
  CHECK(out[0] == Approx(-0.1307 / 0.3081));
  CHECK(out[1] == Approx((1 - 0.1307) / 0.3081));
  CHECK(apd::parse_normalization("standard") == apd::Normalization::standard);
  CHECK_THROWS_AS(apd::parse_normalization("zscore"), apd::UsageError);
}

TEST_CASE("corrupted IDX bytes raise apd::Error and never read out of bounds", "[idx]") {
  const auto images = apd::test::idx_images(3, 4, 4);
  const auto labels = apd::test::idx_labels({1, 2, 3});
  std::uint32_t state = 99;
  auto next = [&] { return state = state * 1664525U + 1013904223U; };
  int accepted = 0, refused = 0;
  for (int round = 0; round < 4000; ++round) {
    auto a = images;
    auto b = labels;
    for (int edits = 0; edits < 2; ++edits) {
      a[next() % 16] = static_cast<std::uint8_t>(next() >> 24);  // header bytes
      if (round % 4 != 0) b[next() % 8] = static_cast<std::uint8_t>(next() >> 24);
    }
    a.resize(next() % (a.size() + 1));
    if (round % 2 == 1) b.resize(next() % (b.size() + 1));
    try {
      const auto parsed = apd::parse_idx_images(a, "fuzz");
      CHECK(parsed.pixels.size() == parsed.count * parsed.rows * parsed.cols);
    } catch (const apd::Error&) {
    }
    // The label file's whole format, naively: magic 0x00000801, a big-endian
    // count, then exactly that many bytes, which are the labels.
    const bool valid =
        b.size() >= 8 && b[0] == 0 && b[1] == 0 && b[2] == 8 && b[3] == 1 &&
        ((std::size_t{b[4]} << 24) | (std::size_t{b[5]} << 16) | (std::size_t{b[6]} << 8) | b[7]) == b.size() - 8;
    std::optional<std::vector<std::uint8_t>> parsed;
    try {
      parsed = apd::parse_idx_labels(b, "fuzz");
    } catch (const apd::Error& e) {
      CHECK_THAT(e.what(), Catch::StartsWith("fuzz: "));
    }
    REQUIRE(parsed.has_value() == valid);
    if (parsed) CHECK(*parsed == std::vector<std::uint8_t>(b.begin() + 8, b.end()));
    ++(valid ? accepted : refused);
  }
  CHECK(accepted >= 1000);  // both halves of the oracle were exercised
  CHECK(refused >= 1000);
}
