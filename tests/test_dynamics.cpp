// How instances move between epochs: forgetting events, churn, the adjusted
// Rand index, label noise and the dynamics.bin file, on hand-worked answers.
#include <fstream>

#include <catch2/catch.hpp>

#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/core/random.hpp"
#include "apd/io/dynamics_file.hpp"
#include "test_support.hpp"

namespace {

// A history from rows of '0'/'1' text, one character per instance.
apd::CorrectnessHistory history_of(const std::vector<std::string>& epochs) {
  apd::CorrectnessHistory h(epochs.front().size());
  for (const auto& text : epochs) {
    std::vector<std::int32_t> predicted, labels(text.size(), 1);
    for (const char c : text) predicted.push_back(c == '1' ? 1 : 0);
    h.append_row(apd::correctness_row(predicted, labels));
  }
  return h;
}

apd::Grouping grouping_of(const std::vector<std::uint64_t>& keys) { return apd::group_keys(keys); }

}  // namespace

TEST_CASE("learning and forgetting events follow each instance's transitions between epochs", "[dynamics]") {
  // Instances (columns): always right; never right; 0 1 0 1 1; 1 0 0 1 0.
  const auto h = history_of({"1001", "1010", "1000", "1011", "1010"});
  const auto d = apd::instance_dynamics(h);
  REQUIRE(d.size() == 4);
  CHECK(d[0].first_learned == 1);
  CHECK(d[0].learning_events == 1);
  CHECK(d[0].forgetting_events == 0);
  CHECK(d[0].unforgettable());
  CHECK(d[1].never_learned());
  CHECK(d[1].learning_events == 0);
  CHECK_FALSE(d[1].unforgettable());
  CHECK(d[2].first_learned == 2);
  CHECK(d[2].learning_events == 2);
  CHECK(d[2].forgetting_events == 1);
  CHECK(d[3].first_learned == 1);
  CHECK(d[3].learning_events == 2);
  CHECK(d[3].forgetting_events == 2);
  CHECK_FALSE(d[3].unforgettable());
}

TEST_CASE("a correctness row packs instance i at bit i % 8 of byte i / 8 with clear padding", "[dynamics]") {
  const std::vector<std::int32_t> predicted = {3, 1, 2, 2, 0, 0, 0, 0, 5, 4};
  const std::vector<std::int32_t> labels = {3, 0, 2, 1, 0, 1, 1, 1, 5, 5};
  CHECK(apd::correctness_row(predicted, labels) == std::vector<std::uint8_t>{0b0001'0101, 0b01});
  CHECK_THROWS_AS(apd::correctness_row(predicted, std::span(labels).first(3)), apd::Error);
}

TEST_CASE("the adjusted Rand index matches hand-worked pair counts", "[dynamics]") {
  // Contingency of {0,0,1,1} vs {0,0,1,2}: together 1, sa 2, sb 1, total 6:
  // (1 - 2/6) / (3/2 - 2/6) = 4/7.
  CHECK(*apd::adjusted_rand_index(grouping_of({0, 0, 1, 1}), grouping_of({0, 0, 1, 2})) ==
        Approx(4.0 / 7).epsilon(1e-15));
  // Crossed: together 0, sa = sb = 2: (0 - 4/6) / (2 - 4/6) = -1/2.
  CHECK(*apd::adjusted_rand_index(grouping_of({0, 0, 1, 1}), grouping_of({0, 1, 0, 1})) == -0.5);
  // The same partition under other names; two all-singleton partitions.
  CHECK(*apd::adjusted_rand_index(grouping_of({7, 7, 9, 8}), grouping_of({1, 1, 2, 3})) == 1.0);
  CHECK(*apd::adjusted_rand_index(grouping_of({1, 2, 3}), grouping_of({4, 5, 6})) == 1.0);
  CHECK(*apd::adjusted_rand_index(grouping_of({5, 5, 5}), grouping_of({5, 5, 5})) == 1.0);
  // One group against singletons agrees on no pair beyond chance: 0.
  CHECK(*apd::adjusted_rand_index(grouping_of({0, 0, 0, 0}), grouping_of({0, 1, 2, 3})) == 0.0);
  CHECK_FALSE(apd::adjusted_rand_index(grouping_of({0}), grouping_of({1})).has_value());
  CHECK_THROWS_AS(apd::adjusted_rand_index(grouping_of({0, 1}), grouping_of({0})), apd::Error);
}

TEST_CASE("churn counts instances whose pattern changed, per layer, and flows pair the last two layers", "[dynamics]") {
  apd::PatternStore before({3, 2}), after({3, 2});
  for (const char* p : {"101", "101", "000", "111"}) before.append_pattern(0, p);
  for (const char* p : {"10", "01", "01", "11"}) before.append_pattern(1, p);
  for (const char* p : {"101", "100", "000", "011"}) after.append_pattern(0, p);
  for (const char* p : {"10", "01", "01", "11"}) after.append_pattern(1, p);
  CHECK(apd::pattern_changes(before, after) == std::vector<std::uint64_t>{2, 0});
  const std::vector<apd::Grouping> layers = {apd::group_patterns(before, 0), apd::group_patterns(before, 1)};
  const auto flows = apd::flow_partition(layers);
  CHECK(flows.groups() == 4);  // (101,10) (101,01) (000,01) (111,11)
  CHECK(apd::flow_partition(std::span(layers).first(1)).groups() == 3);
  apd::PatternStore other({3, 3});
  CHECK_THROWS_AS(apd::pattern_changes(before, other), apd::Error);
}

TEST_CASE("label noise is reproducible from its seed and only ever changes a label", "[dynamics]") {
  std::vector<std::int64_t> labels(10000);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>(i % 10);
  const auto a = apd::draw_label_noise(labels, 10, 0.3, 5);
  const auto b = apd::draw_label_noise(labels, 10, 0.3, 5);
  const auto c = apd::draw_label_noise(labels, 10, 0.3, 6);
  CHECK(a.positions == b.positions);
  CHECK(a.labels == b.labels);
  CHECK(a.positions != c.positions);
  // About 0.3 * 9/10 of 10000 = 2700 change (sd ~44).
  CHECK(a.positions.size() > 2500);
  CHECK(a.positions.size() < 2900);
  for (std::size_t k = 0; k < a.positions.size(); ++k) {
    CHECK(a.labels[k] != labels[a.positions[k]]);
    CHECK((a.labels[k] >= 0 && a.labels[k] < 10));
    if (k > 0) CHECK(a.positions[k] > a.positions[k - 1]);
  }
  CHECK(apd::draw_label_noise(labels, 10, 0.0, 5).positions.empty());
  CHECK(apd::draw_label_noise(labels, 10, 1.0, 5).positions.size() > 8800);
  CHECK_THROWS_AS(apd::draw_label_noise(labels, 10, 1.5, 5), apd::UsageError);
}

TEST_CASE("dynamics.bin appends rows, is cut back to the complete epochs on reopening, and reads back", "[dynamics]") {
  const apd::test::TempDir dir("dynamics");
  const auto path = dir / "dynamics.bin";
  const auto h = history_of({"1100110011", "0110011001", "1111111111", "0000000001"});
  {
    auto w = apd::DynamicsWriter::create(path, 10);
    for (std::size_t e = 0; e < 4; ++e) w.append(h.row(e));
    CHECK_THROWS_AS(w.append(std::vector<std::uint8_t>{1}), apd::Error);
  }
  CHECK(std::filesystem::file_size(path) == 16 + 4 * 2);
  const auto all = apd::read_dynamics(path, 10, 4);
  REQUIRE(all.epochs() == 4);
  for (std::size_t e = 0; e < 4; ++e) CHECK(std::ranges::equal(all.row(e), h.row(e)));
  CHECK(apd::read_dynamics(path, 10, 2).epochs() == 2);  // the first rows only
  {
    auto w = apd::DynamicsWriter::reopen(path, 10, 2);  // a resume after epoch 2
    w.append(h.row(3));
  }
  const auto resumed = apd::read_dynamics(path, 10, 3);
  CHECK(std::ranges::equal(resumed.row(2), h.row(3)));
  CHECK(std::filesystem::file_size(path) == 16 + 3 * 2);
  CHECK_THROWS_WITH(apd::read_dynamics(path, 10, 4), Catch::Contains("holds 3 complete epochs, the run completed 4"));
  CHECK_THROWS_WITH(apd::read_dynamics(path, 11, 1), Catch::Contains("records 10 training instances, the run has 11"));
  CHECK_THROWS_WITH(apd::DynamicsWriter::reopen(path, 10, 5), Catch::Contains("holds 3 complete epochs"));
}

TEST_CASE("a damaged dynamics file is an error naming it", "[dynamics]") {
  auto bytes = [](std::string s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
  const std::string header = std::string("APDDYN1\n") + std::string("\x0a\0\0\0\0\0\0\0", 8);
  CHECK_THROWS_WITH(apd::parse_dynamics(bytes("APDDYN2\n"), "d.bin"), Catch::Contains("d.bin: not an apd dynamics"));
  CHECK_THROWS_WITH(apd::parse_dynamics(bytes(std::string("APDDYN1\n") + std::string(8, '\0')), "d.bin"),
                    Catch::Contains("0 instances"));
  CHECK_THROWS_WITH(apd::parse_dynamics(bytes(header + "\xff\x04"), "d.bin"),
                    Catch::Contains("epoch 1: bits set past the last instance"));
  const auto partial = apd::parse_dynamics(bytes(header + "\xff\x03\x01"), "d.bin");  // a row and a byte
  CHECK(partial.epochs() == 1);
}
