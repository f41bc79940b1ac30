// run.json, typed: a round trip, and every broken file named by file and key.
#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/run_info.hpp"
#include "test_support.hpp"

using Catch::Matchers::Contains;

namespace {

apd::RunInfo sample_run() {
  apd::RunInfo info;
  info.tool = {"apd-train", "0.1.0", "abc"};
  info.model = {"6-4-3-2", 6, {4, 3}, 2};
  info.data = {"/data/toy", {{"train-images-idx3-ubyte", "00ff"}}, apd::Normalization::standard};
  info.split = {7, 0.25, 8, 6, 2, {1, 5}};
  info.hyper = {3, 0.01, 0.5, 4, 7};
  info.threads = 2;
  info.checkpoint_every = 1;
  info.track_patterns = false;
  return info;
}

std::string run_error_after(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json j = apd::to_json(sample_run());
  edit(j);
  try {
    (void)apd::run_info_from_json(j, "run.json");
  } catch (const apd::Error& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("run.json written and read back gives the same run", "[run_info]") {
  const apd::test::TempDir dir("run-info");
  apd::write_run_info(apd::RunPaths{dir.path()}, sample_run());
  const apd::RunInfo back = apd::read_run_info(apd::RunPaths{dir.path()});
  CHECK(apd::to_json(back) == apd::to_json(sample_run()));
  CHECK(back.model.hidden == std::vector<std::int64_t>{4, 3});
  CHECK(back.data.normalize == apd::Normalization::standard);
  CHECK(back.train_indices() == std::vector<std::int64_t>{0, 2, 3, 4, 6, 7});
}

TEST_CASE("a broken run.json is refused naming the file and the key", "[run_info]") {
  CHECK(run_error_after([](nlohmann::json&) {}) == "accepted");
  CHECK(run_error_after([](nlohmann::json& j) { j["hyperparameters"].erase("lr"); }) ==
        "run.json: key \"hyperparameters.lr\": missing");
  CHECK(run_error_after([](nlohmann::json& j) { j["split"] = 3; }) == "run.json: key \"split.seed\": missing");
  CHECK(run_error_after([](nlohmann::json& j) { j["threads"] = "two"; }) ==
        "run.json: key \"threads\": expected an integer, got string");
  CHECK(run_error_after([](nlohmann::json& j) { j["threads"] = 1e300; }) ==
        "run.json: key \"threads\": expected an integer, got number");
  CHECK(run_error_after([](nlohmann::json& j) { j["hyperparameters"]["epochs"] = 9999999999; }) ==
        "run.json: key \"hyperparameters.epochs\": expected a smaller integer, got number");
  CHECK(run_error_after([](nlohmann::json& j) {
          j["model"]["hidden"] = {4, "x"};
        }) == "run.json: key \"model.hidden[1]\": expected an integer, got string");
  CHECK(
      run_error_after([](nlohmann::json& j) { j["data"]["normalize"] = "zscore"; }) ==
      "run.json: key \"data.normalize\": unknown normalization 'zscore' (expected unit, standard, symmetric or none)");
  CHECK(run_error_after([](nlohmann::json& j) { j["schema"] = "apd/1"; }) ==
        "run.json: not an apd run file (expected \"schema\": \"apd-run/1\")");
}

TEST_CASE("split indices from run.json must lie in the source", "[run_info]") {
  CHECK(run_error_after([](nlohmann::json& j) {
          j["split"]["val_indices"] = {1, 8};
        }) == "run.json: key \"split.val_indices[1]\": 8 is outside 0..7");
  CHECK(run_error_after([](nlohmann::json& j) {
          j["split"]["val_indices"] = {-1, 5};
        }) == "run.json: key \"split.val_indices[0]\": -1 is outside 0..7");
  CHECK(run_error_after([](nlohmann::json& j) {
          j["split"]["val_indices"] = {5, 1};
        }) == "run.json: key \"split.val_indices[1]\": indices must ascend");
  CHECK(run_error_after([](nlohmann::json& j) { j["split"]["val_indices"] = {1}; }) ==
        "run.json: key \"split.val_indices\": 1 indices, split.val_count says 2");
  CHECK(run_error_after([](nlohmann::json& j) { j["split"]["train_count"] = 5; }) ==
        "run.json: key \"split\": train_count 5 + val_count 2 != source_count 8");
}

TEST_CASE("a directory where run.json should be is named as such", "[run_info]") {
  const apd::test::TempDir dir("run-json-dir");
  std::filesystem::create_directories(dir / "run.json");
  CHECK_THROWS_WITH(apd::read_run_info(apd::RunPaths{dir.path()}), Contains("run.json: is a directory, not a file"));
}
