// One epoch on real MNIST (ctest label `mnist`).
#include "torch_catch.hpp"

#include "apd/io/run_dir.hpp"
#include "apd/torch/train.hpp"
#include "test_support.hpp"

TEST_CASE("one epoch on real MNIST reaches a validation accuracy above 0.85", "[mnist]") {
  // Bound: with SGD at lr 0.1 (batch 64) a 784-40-40-40-10 MLP reaches about
  // 0.89 validation accuracy after one epoch (seed 0 gives 0.8925 here; a
  // PyTorch run of the same setup lands at 0.88-0.91 across seeds). A model
  // that learned nothing scores at most 0.114, the largest class share. The
  // paper's lr 0.001 is too slow for one epoch to say anything (~0.09).
  if (!std::filesystem::exists(apd::test::mnist_dir() / "train-images-idx3-ubyte")) {
    FAIL("MNIST not found in " << apd::test::mnist_dir().string() << ": run scripts/fetch-mnist.sh");
  }
  apd::test::TempDir dir("mnist-train");
  apd::TrainOptions o;
  o.data = apd::test::mnist_dir();
  o.out = dir / "run";
  o.epochs = 1;
  o.lr = 0.1;
  o.verbosity = apd::Verbosity::quiet;
  REQUIRE(apd::run_training(o) == 0);
  const auto metrics = apd::read_metrics(apd::RunPaths{o.out}.metrics());
  REQUIRE(metrics.size() == 1);
  CHECK(metrics[0].val_acc > 0.85);
  REQUIRE(metrics[0].unique_patterns.size() == 3);
  // Patterns are shared: fewer unique patterns than the 54000 instances, and
  // fewer in deeper layers (the paper's Figure 1).
  CHECK(metrics[0].unique_patterns[0] < 54000);
  CHECK(metrics[0].unique_patterns[2] < metrics[0].unique_patterns[0]);
}
