// apd-extract on real MNIST (ctest label `mnist`): the patterns written for
// every instance equal those of a direct reimplementation here.
#include "torch_catch.hpp"

#include "apd/io/apd_json.hpp"
#include "apd/io/idx.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/extract.hpp"
#include "test_support.hpp"

TEST_CASE("the patterns of all 60000 training images equal a direct matmul + relu on the same weights", "[mnist]") {
  const auto dir = apd::test::mnist_dir();
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte")) {
    FAIL("MNIST not found in " << dir.string() << ": run scripts/fetch-mnist.sh");
  }
  apd::test::TempDir scratch("mnist-extract");
  torch::manual_seed(11);
  apd::Mlp model(apd::MlpShape{784, {40, 40, 40}, 10});
  apd::save_state_dict(apd::state_dict(*model), scratch / "model.pt");

  apd::ExtractOptions o;
  o.model.checkpoint = scratch / "model.pt";
  o.data.data = dir;
  o.data.split = apd::DataSplit::train;
  o.output.out = (scratch / "apd.json").string();
  REQUIRE(apd::run_extraction(o) == 0);
  const auto d = apd::read_apd_file(scratch / "apd.json");
  REQUIRE(d.instances == 60000);

  // The reference: all 60000 images in one matrix, x/255, then mm + add + relu.
  const auto images = apd::read_idx_images(dir / "train-images-idx3-ubyte");
  auto x = torch::from_blob(const_cast<std::uint8_t*>(images.pixels.data()), {60000, 784}, torch::kUInt8)
               .to(torch::kFloat32)
               .div_(255.0);
  torch::NoGradGuard no_grad;
  std::size_t compared = 0, mismatches = 0;
  for (std::size_t l = 0; l < 3; ++l) {
    const auto& linear = model->linears()[l];
    x = torch::relu(x.mm(linear->weight.t()) + linear->bias);
    const auto active = (x > 0).to(torch::kUInt8).contiguous();
    const auto* bits = active.data_ptr<std::uint8_t>();
    for (std::size_t i = 0; i < 60000; ++i) {
      REQUIRE(d.index[i] == static_cast<std::int64_t>(i));
      std::string expected(40, '0');
      for (std::size_t k = 0; k < 40; ++k) expected[k] = bits[i * 40 + k] != 0 ? '1' : '0';
      ++compared;
      if (d.pattern(d.path_node(i, l + 1)) != expected) ++mismatches;
    }
  }
  CHECK(compared == 180000);
  CHECK(mismatches == 0);
}
