// Training and checkpoints on a synthetic separable dataset written by the test.
#include "torch_catch.hpp"

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/train.hpp"
#include "test_support.hpp"

TEST_CASE("training on a separable dataset drives the loss down and the accuracy up", "[train]") {
  apd::test::TempDir dir("train-synthetic");
  apd::test::write_separable_dataset(dir / "data", 600);
  apd::TrainOptions o;
  o.data = dir / "data";
  o.out = dir / "run";
  o.hidden = std::vector<std::int64_t>{16, 8};
  o.epochs = 30;
  o.lr = 0.2;
  o.verbosity = apd::Verbosity::quiet;
  REQUIRE(apd::run_training(o) == 0);
  const apd::RunPaths run{o.out};
  const auto metrics = apd::read_metrics(run.metrics());
  REQUIRE(metrics.size() == 30);
  CHECK(metrics.back().train_loss < 0.5 * metrics.front().train_loss);
  CHECK(metrics.back().val_loss < metrics.front().val_loss);
  CHECK(metrics.back().val_acc > 0.95);
  CHECK(metrics.front().unique_patterns.size() == 2);
  CHECK(apd::list_checkpoints(run).size() == 30);
  const auto info = apd::read_run_info(run);
  CHECK(info.model.architecture == "64-16-8-3");
  CHECK(info.split.val_count == 60);
  CHECK(info.split.train_count == 540);
  CHECK(info.train_indices().size() == 540);
}

TEST_CASE("a checkpoint round-trips through pickle_save and pickle_load", "[train]") {
  apd::test::TempDir dir("checkpoint");
  torch::manual_seed(5);
  apd::Mlp a(apd::MlpShape{10, {4, 3}, 2});
  apd::save_state_dict(apd::state_dict(*a), dir / "c.pt");
  const auto loaded = apd::load_state_dict(dir / "c.pt");
  REQUIRE(loaded.size() == 6);
  CHECK(loaded[0].first == "0.weight");
  apd::Mlp b(apd::MlpShape{10, {4, 3}, 2});
  apd::load_into(*b, loaded, "c.pt");
  for (const auto& item : a->named_parameters()) CHECK(torch::equal(item.value(), b->named_parameters()[item.key()]));
  apd::Mlp wrong(apd::MlpShape{10, {5, 3}, 2});
  CHECK_THROWS_WITH(apd::load_into(*wrong, loaded, "c.pt"),
                    "c.pt: \"0.weight\" has shape 4x10, the model expects 5x10");
  apd::test::write_bytes(dir / "junk.pt", {1, 2, 3, 4});
  CHECK_THROWS_WITH(apd::load_state_dict(dir / "junk.pt"), Catch::Contains("junk.pt: not a PyTorch zip checkpoint"));
}

TEST_CASE("training the same options twice gives byte-identical checkpoints and metrics", "[train]") {
  apd::test::TempDir dir("train-determinism");
  apd::test::write_separable_dataset(dir / "data", 300);
  std::vector<std::string> metrics_without_seconds;
  for (const char* name : {"a", "b"}) {
    apd::TrainOptions o;
    o.data = dir / "data";
    o.out = dir / name;
    o.hidden = std::vector<std::int64_t>{8, 8};
    o.epochs = 4;
    o.lr = 0.05;
    o.momentum = 0.5;
    o.verbosity = apd::Verbosity::quiet;
    REQUIRE(apd::run_training(o) == 0);
    auto metrics = apd::read_metrics(apd::RunPaths{o.out}.metrics());
    for (auto& m : metrics) m.seconds = 0;
    metrics_without_seconds.push_back(apd::metrics_jsonl(metrics));
  }
  CHECK(metrics_without_seconds[0] == metrics_without_seconds[1]);
  CHECK(apd::read_text_file(dir / "a" / "checkpoints" / "epoch-0004.pt") ==
        apd::read_text_file(dir / "b" / "checkpoints" / "epoch-0004.pt"));
}

TEST_CASE("a new run takes the defaults and the settings given, a resumed run those of its run.json", "[train]") {
  apd::TrainOptions o;
  o.lr = 0.05;
  o.hidden = std::vector<std::int64_t>{16, 8};
  const apd::TrainSettings fresh = apd::new_run_settings(o);
  CHECK(fresh.lr == 0.05);
  CHECK(fresh.hidden == std::vector<std::int64_t>{16, 8});
  CHECK(fresh.epochs == apd::TrainSettings{}.epochs);  // the paper's 500
  CHECK(fresh.batch_size == 64);

  apd::RunInfo info;
  info.model.hidden = {16, 8};
  info.model.classes = 3;
  info.hyper = {30, 0.05, 0.0, 32, 4};
  info.split.val_split = 0.2;
  info.data.dir = "/data/synthetic";
  info.threads = 2;
  info.checkpoint_every = 5;
  o.resume = true;
  o.epochs = 60;  // may be given again: a longer run
  const apd::TrainSettings resumed = apd::resumed_settings(o, info);
  CHECK(resumed.epochs == 60);
  CHECK(resumed.batch_size == 32);  // not given: run.json's, not the default
  CHECK(resumed.seed == 4);
  CHECK(resumed.threads == 2);
  CHECK(resumed.checkpoint_every == 5);
  CHECK(resumed.data == "/data/synthetic");
  o.batch_size = 64;  // the default's value, but given: it must agree
  CHECK_THROWS_WITH(apd::resumed_settings(o, info), "--resume: --batch-size 64 contradicts run.json (32)");
  o.batch_size = 32;
  o.normalize = apd::Normalization::standard;
  CHECK_THROWS_WITH(apd::resumed_settings(o, info),
                    "--resume: --normalize \"standard\" contradicts run.json (\"unit\")");
  o.normalize.reset();
  o.track_patterns = false;
  info.dynamics = true;
  CHECK_THROWS_AS(apd::resumed_settings(o, info), apd::UsageError);
}
