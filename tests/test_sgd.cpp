// The written-out backward pass and SGD update against autograd +
// torch::optim::SGD on the same weights and batches.
#include "torch_catch.hpp"

#include "apd/torch/mlp.hpp"
#include "apd/torch/sgd.hpp"

namespace {

void copy_params(apd::MlpImpl& to, const apd::MlpImpl& from) {
  torch::NoGradGuard g;
  auto a = to.parameters();
  auto b = from.parameters();
  for (std::size_t i = 0; i < a.size(); ++i) a[i].copy_(b[i]);
}

void check_against_autograd(double momentum) {
  torch::manual_seed(3);
  const apd::MlpShape shape{12, {7, 5, 6}, 4};
  apd::Mlp manual(shape), reference(shape);
  copy_params(*reference, *manual);
  apd::SgdStep step(manual, 0.05, momentum);
  torch::optim::SGD opt(reference->parameters(), torch::optim::SGDOptions(0.05).momentum(momentum));
  double ref_loss_sum = 0;
  for (int b = 0; b < 6; ++b) {
    const auto x = torch::randn({9, 12});
    const auto y = torch::randint(0, 4, {9}, torch::kInt64);
    step(x, y);
    opt.zero_grad();
    const auto loss = torch::nn::functional::cross_entropy(reference->forward(x), y);
    loss.backward();
    opt.step();
    ref_loss_sum += loss.item<double>() * 9;
  }
  CHECK(step.take_loss_sum() == Approx(ref_loss_sum).epsilon(1e-5));
  const auto a = manual->named_parameters();
  const auto r = reference->named_parameters();
  for (const auto& item : a) {
    CAPTURE(item.key());
    CHECK(torch::allclose(item.value(), r[item.key()], 1e-5, 1e-6));
    // The parameters moved: the comparison is not between untouched copies.
  }
}

}  // namespace

TEST_CASE("the written-out SGD step equals autograd + torch::optim::SGD", "[sgd]") { check_against_autograd(0.0); }

TEST_CASE("the written-out SGD step with momentum equals torch::optim::SGD with momentum", "[sgd]") {
  check_against_autograd(0.9);
}

TEST_CASE("parameters are registered under nn.Sequential names", "[sgd]") {
  apd::Mlp model(apd::MlpShape{784, {40, 40, 40}, 10});
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters()) names.push_back(item.key());
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "6.weight",
                                          "6.bias"});
  CHECK(apd::describe(model->shape()) == "784-40-40-40-10");
}

TEST_CASE("forward calls the observer once per hidden layer with the ReLU output", "[sgd]") {
  torch::manual_seed(1);
  apd::Mlp model(apd::MlpShape{6, {5, 3}, 2});
  const auto x = torch::randn({4, 6});
  std::vector<torch::Tensor> seen;
  const auto logits = model->forward(x, [&](std::size_t layer, const torch::Tensor& relu) {
    CHECK(layer == seen.size());
    seen.push_back(relu.clone());
  });
  REQUIRE(seen.size() == 2);
  const auto& l = model->linears();
  const auto h1 = torch::relu(x.mm(l[0]->weight.t()) + l[0]->bias);
  CHECK(torch::allclose(seen[0], h1));
  CHECK(torch::allclose(seen[1], torch::relu(h1.mm(l[1]->weight.t()) + l[1]->bias)));
  CHECK(logits.sizes() == torch::IntArrayRef({4, 2}));
}
