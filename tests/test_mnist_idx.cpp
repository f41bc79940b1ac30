// The IDX reader on the real MNIST files (ctest label `mnist`). Missing data
// fails with the command that fetches it: these tests never skip silently.
#include <numeric>

#include <catch2/catch.hpp>

#include "apd/io/dataset.hpp"
#include "apd/io/idx.hpp"
#include "test_support.hpp"

namespace {

apd::DatasetFiles mnist() {
  const auto dir = apd::test::mnist_dir();
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte")) {
    FAIL("MNIST not found in " << dir.string() << ": run scripts/fetch-mnist.sh");
  }
  return apd::find_dataset(dir);
}

std::uint64_t sum(std::span<const std::uint8_t> px) { return std::accumulate(px.begin(), px.end(), std::uint64_t{0}); }

}  // namespace

TEST_CASE("real MNIST training set: 60000 images of 28x28 with the known first labels and pixel sums", "[mnist]") {
  const auto files = mnist();
  const auto train = apd::read_labeled_images(files.train_images, files.train_labels);
  CHECK(train.images.count == 60000);
  CHECK(train.images.rows == 28);
  CHECK(train.images.cols == 28);
  CHECK(std::vector<std::uint8_t>(train.labels.begin(), train.labels.begin() + 5) ==
        std::vector<std::uint8_t>{5, 0, 4, 1, 9});
  CHECK(sum(train.images.image(0)) == 27525);
  CHECK(sum(train.images.pixels) == 1567298545);
  CHECK(std::count(train.labels.begin(), train.labels.end(), 1) == 6742);
}

TEST_CASE("real MNIST test set: 10000 images of 28x28 with the known first labels and pixel sums", "[mnist]") {
  const auto files = mnist();
  const auto test = apd::read_labeled_images(files.test_images, files.test_labels);
  CHECK(test.images.count == 10000);
  CHECK(test.images.rows == 28);
  CHECK(test.images.cols == 28);
  CHECK(std::vector<std::uint8_t>(test.labels.begin(), test.labels.begin() + 5) ==
        std::vector<std::uint8_t>{7, 2, 1, 0, 4});
  CHECK(sum(test.images.image(0)) == 18454);
  CHECK(sum(test.images.pixels) == 264923200);
}

TEST_CASE("real Fashion-MNIST, gzip-compressed: 60000 and 10000 images with the known labels and pixel sums",
          "[mnist]") {
  // Debian's dataset-fashion-mnist (installed by scripts/install-deps.sh):
  // the gzip path of the reader on real files.
  const std::filesystem::path dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz")) {
    FAIL("Fashion-MNIST not found in " << dir.string() << ": run scripts/install-deps.sh");
  }
  const auto files = apd::find_dataset(dir);
  CHECK(files.train_images.filename() == "train-images-idx3-ubyte.gz");
  const auto train = apd::read_labeled_images(files.train_images, files.train_labels);
  CHECK(train.images.count == 60000);
  CHECK(train.images.rows == 28);
  CHECK(std::vector<std::uint8_t>(train.labels.begin(), train.labels.begin() + 5) ==
        std::vector<std::uint8_t>{9, 0, 0, 3, 0});
  CHECK(sum(train.images.image(0)) == 76247);
  CHECK(sum(train.images.pixels) == 3431114169ULL);
  const auto test = apd::read_labeled_images(files.test_images, files.test_labels);
  CHECK(test.images.count == 10000);
  CHECK(std::vector<std::uint8_t>(test.labels.begin(), test.labels.begin() + 5) ==
        std::vector<std::uint8_t>{9, 2, 1, 1, 6});
  CHECK(sum(test.images.pixels) == 573469082ULL);
  // Read on demand (IdxImageFile) from gzip gives the same pixels.
  const apd::IdxImageFile lazy(files.test_images);
  std::vector<std::uint8_t> first(784);
  const std::vector<std::int64_t> zero = {0};
  lazy.read(zero, first);
  CHECK(sum(first) == 33456);
}
