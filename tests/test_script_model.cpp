// TorchScript models (tests/python/make_script_models.py, a fixture in
// APD_SCRIPT_DIR) against the patterns PyTorch itself computed, bit for bit,
// on the first 1000 MNIST test images.
#include <catch2/catch.hpp>

#include <numeric>

#include "apd/core/error.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/npy.hpp"
#include "apd/torch/script_model.hpp"

using Catch::Contains;

namespace {

std::filesystem::path model_file(const std::string& name) { return std::filesystem::path(APD_SCRIPT_DIR) / name; }

constexpr std::int64_t kImages = 1000;

// The first kImages MNIST test images, x/255, shaped [N, ...shape].
torch::Tensor mnist_images(const std::vector<std::int64_t>& shape) {
  const apd::IdxImageFile file(std::filesystem::path(APD_SOURCE_DIR) / "data/mnist/t10k-images-idx3-ubyte");
  std::vector<std::int64_t> indices(kImages);
  std::iota(indices.begin(), indices.end(), 0);
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(kImages) * file.image_size());
  file.read(indices, raw);
  std::vector<std::int64_t> sizes{kImages};
  sizes.insert(sizes.end(), shape.begin(), shape.end());
  return torch::from_blob(raw.data(), {kImages, 784}, torch::kUInt8).to(torch::kFloat32).div(255.0).reshape(sizes);
}

// Reads NAME.patterns.npy (uint8 [N, total width]) into one flag vector.
std::vector<std::uint8_t> reference_patterns(const std::string& name, std::size_t& width) {
  const apd::NpyInstances ref(model_file(name + ".patterns.npy"));
  width = ref.instance_size();
  std::vector<std::int64_t> indices(ref.count());
  std::iota(indices.begin(), indices.end(), 0);
  std::vector<float> values(ref.count() * width);
  ref.read(indices, values);
  return {values.begin(), values.end()};
}

void check_against_pytorch(const std::string& name, const std::vector<std::int64_t>& input_shape,
                           const std::vector<std::int64_t>& widths) {
  INFO(name);
  apd::ScriptModel model(model_file(name + ".pt"));
  const torch::Tensor x = mnist_images(input_shape);
  CHECK(model.probe(x.slice(0, 0, 2)) == 10);
  std::vector<std::int64_t> got;
  for (const auto& l : model.layers()) got.push_back(l.width);
  REQUIRE(got == widths);
  std::vector<std::size_t> all(model.relu_count());
  std::iota(all.begin(), all.end(), 1);
  torch::InferenceMode guard;
  const apd::ModelOutput out = model.forward(x, all);
  std::size_t total = 0;
  const auto expected = reference_patterns(name, total);
  const torch::Tensor flat = torch::cat(out.patterns, 1).to(torch::kUInt8);
  REQUIRE(flat.size(1) == static_cast<std::int64_t>(total));
  const std::vector<std::uint8_t> mine(flat.data_ptr<std::uint8_t>(), flat.data_ptr<std::uint8_t>() + flat.numel());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < mine.size(); ++i) differing += mine[i] != expected[i] ? 1 : 0;
  CHECK(differing == 0);
  const auto predicted = apd::read_npy_targets(model_file(name + ".predicted.npy"));
  const torch::Tensor argmax = out.logits.argmax(1);
  CHECK(std::vector<std::int64_t>(argmax.data_ptr<std::int64_t>(), argmax.data_ptr<std::int64_t>() + kImages) ==
        predicted);
}

}  // namespace

TEST_CASE("scripted and traced LeNet-5 give PyTorch's own patterns, bit for bit", "[script]") {
  check_against_pytorch("lenet_scripted", {1, 28, 28}, {3456, 1024, 120, 84});
  check_against_pytorch("lenet_traced", {1, 28, 28}, {3456, 1024, 120, 84});
}

TEST_CASE("a residual MLP gives PyTorch's own patterns, bit for bit", "[script]") {
  check_against_pytorch("residual", {784}, {784, 784});
}

TEST_CASE("a pass over some ReLU layers gives their patterns of a pass over all, in any order of passes", "[script]") {
  apd::ScriptModel model(model_file("lenet_scripted.pt"));
  const torch::Tensor x = mnist_images({1, 28, 28}).slice(0, 0, 100);
  REQUIRE(model.probe(x.slice(0, 0, 2)) == 10);
  torch::InferenceMode guard;
  const apd::ModelOutput all = model.forward(x, {1, 2, 3, 4});
  for (const std::vector<std::size_t>& some : {std::vector<std::size_t>{2, 4}, {3}, {1, 2, 3, 4}, {4}}) {
    INFO("layers " << some.size() << ", the first " << some.front());
    const apd::ModelOutput out = model.forward(x, some);
    REQUIRE(out.patterns.size() == some.size());
    for (std::size_t k = 0; k < some.size(); ++k) CHECK(torch::equal(out.patterns[k], all.patterns[some[k] - 1]));
    CHECK(torch::equal(out.logits, all.logits));
  }
}

TEST_CASE("models apd cannot observe are clear errors", "[script]") {
  CHECK_THROWS_WITH(apd::ScriptModel(model_file("loop.pt")),
                    Contains("loop.pt: a ReLU call stays inside the loop at make_script_models.py:") &&
                        Contains("so it has no fixed layer in the APD"));
  CHECK_THROWS_WITH(apd::ScriptModel(model_file("no_relu.pt")), Contains("no_relu.pt: forward calls no ReLU"));
  CHECK_THROWS_WITH(apd::ScriptModel(model_file("nope.pt")), Contains("nope.pt: no such file"));
  CHECK_THROWS_WITH(apd::ScriptModel(model_file("residual.patterns.npy")),
                    Contains("residual.patterns.npy: not a loadable TorchScript model"));
  apd::ScriptModel tuple(model_file("tuple_out.pt"));
  CHECK_THROWS_WITH(tuple.probe(torch::zeros({2, 784})), Contains("tuple_out.pt: forward must return logits"));
}
