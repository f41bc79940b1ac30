// The run directory's life cycle (io/run_dir.hpp): what a directory holds,
// one writer at a time, and what clearing and cleaning remove.
#include <catch2/catch.hpp>

#include <fstream>

#include "apd/core/error.hpp"
#include "apd/io/run_dir.hpp"
#include "test_support.hpp"

using apd::RunDir;
using Catch::Matchers::Contains;

namespace {

void touch(const std::filesystem::path& p) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

}  // namespace

TEST_CASE("a run directory's state: nothing, leftovers, no epoch yet, epochs, or not ours", "[run_dir]") {
  apd::test::TempDir dir("run-dir-state");
  const RunDir run(dir / "run");
  CHECK(run.state() == RunDir::State::none);  // does not exist
  std::filesystem::create_directories(run.paths().checkpoints());
  touch(run.paths().lock());
  touch(run.paths().dir / ".metrics.jsonl.123.tmp");
  CHECK(run.state() == RunDir::State::none);  // leftovers of a run that never wrote run.json
  touch(run.paths().run_json());
  CHECK(run.state() == RunDir::State::no_epoch);
  touch(run.paths().resume_state());
  CHECK(run.state() == RunDir::State::epochs);

  const RunDir other(dir / "other");
  touch(other.paths().dir / "notes.txt");
  CHECK(other.state() == RunDir::State::epochs);  // something else: never touched
  touch(dir / "file");
  CHECK(RunDir(dir / "file").state() == RunDir::State::epochs);
}

TEST_CASE("one writer: a second lock is refused, and outputs inside a locked run too", "[run_dir]") {
  apd::test::TempDir dir("run-dir-lock");
  RunDir first(dir / "run");
  first.lock();
  CHECK(first.locked());
  touch(first.paths().run_json());
  RunDir second(dir / "run");
  CHECK_THROWS_WITH(second.lock(), Contains("another apd-train is writing this run"));
  CHECK_FALSE(second.locked());
  CHECK_THROWS_WITH(apd::refuse_output_in_running_run(first.paths().checkpoints() / "x.json"),
                    Contains("which an apd-train is writing now"));
  CHECK_NOTHROW(apd::refuse_output_in_running_run(dir / "elsewhere.json"));
}

TEST_CASE("cleaning removes temporary files only, and clearing keeps run.json", "[run_dir]") {
  apd::test::TempDir dir("run-dir-clear");
  const RunDir run(dir / "run");
  touch(run.paths().run_json());
  touch(run.paths().metrics());
  touch(run.paths().checkpoint(1));
  touch(run.paths().checkpoints() / ".epoch-0002.pt.77.tmp");
  touch(run.paths().dir / ".summary.json.77.tmp");
  run.remove_stale_temporaries();
  CHECK_FALSE(std::filesystem::exists(run.paths().checkpoints() / ".epoch-0002.pt.77.tmp"));
  CHECK_FALSE(std::filesystem::exists(run.paths().dir / ".summary.json.77.tmp"));
  CHECK(std::filesystem::exists(run.paths().checkpoint(1)));
  run.clear_epochs();
  CHECK(std::filesystem::exists(run.paths().run_json()));
  CHECK_FALSE(std::filesystem::exists(run.paths().metrics()));
  CHECK_FALSE(std::filesystem::exists(run.paths().checkpoints()));
}

TEST_CASE("metrics.jsonl epochs are read whole: out of 1..kMaxEpochs is an error, not a wrapped number", "[run_dir]") {
  const auto line = [](const std::string& epoch) {
    return "{\"epoch\": " + epoch +
           ", \"train_loss\": 1, \"train_acc\": 0.5, \"val_loss\": 1, \"val_acc\": 0.5, \"seconds\": 1}\n";
  };
  CHECK(apd::parse_metrics(line("7"), "m.jsonl").front().epoch == 7);
  for (const char* bad : {"99999999999", "0", "-3", "18446744073709551615"}) {
    CHECK_THROWS_WITH(apd::parse_metrics(line(bad), "m.jsonl"),
                      Catch::Contains("\"epoch\" " + std::string(bad) + " is not an epoch"));
  }
}
