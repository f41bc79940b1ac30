// Runtime monitors (core/monitor.hpp): exact nearest-pattern distances
// against a brute-force oracle, per-class pattern sets, flags.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <random>

#include "apd/core/error.hpp"
#include "apd/core/monitor.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/monitor_file.hpp"
#include "apd/report/monitor_stats.hpp"

namespace {

std::vector<std::uint64_t> random_rows(std::size_t n, std::size_t width, std::mt19937_64& rng, double density) {
  const std::size_t words = (width + 63) / 64;
  std::bernoulli_distribution bit(density);
  std::vector<std::uint64_t> rows(n * words, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t b = 0; b < width; ++b) {
      if (bit(rng)) rows[i * words + b / 64] |= std::uint64_t{1} << (b % 64);
    }
  }
  return rows;
}

// Rows near a few centres: how ReLU patterns of one class look.
std::vector<std::uint64_t> clustered_rows(std::size_t n, std::size_t width, std::mt19937_64& rng) {
  const std::size_t words = (width + 63) / 64;
  const auto centres = random_rows(5, width, rng, 0.4);
  std::bernoulli_distribution flip(0.05);
  std::vector<std::uint64_t> rows(n * words);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = i % 5;
    for (std::size_t b = 0; b < width; ++b) {
      bool v = ((centres[c * words + b / 64] >> (b % 64)) & 1U) != 0;
      if (flip(rng)) v = !v;
      if (v) rows[i * words + b / 64] |= std::uint64_t{1} << (b % 64);
    }
  }
  return rows;
}

std::uint32_t naive_distance(const std::uint64_t* a, const std::uint64_t* b, std::size_t width) {
  std::uint32_t d = 0;
  for (std::size_t k = 0; k < width; ++k) {
    d += ((a[k / 64] >> (k % 64)) & 1U) != ((b[k / 64] >> (k % 64)) & 1U) ? 1U : 0U;
  }
  return d;
}

std::uint32_t naive_nearest(const std::vector<std::uint64_t>& rows, const std::uint64_t* q, std::size_t width) {
  const std::size_t words = (width + 63) / 64;
  std::uint32_t best = apd::kNoDistance;
  for (std::size_t i = 0; i < rows.size() / words; ++i)
    best = std::min(best, naive_distance(&rows[i * words], q, width));
  return best;
}

apd::PatternStore store_of(std::vector<std::string> one_layer) {
  apd::PatternStore s({one_layer.front().size()});
  for (const auto& p : one_layer) s.append_pattern(0, p);
  return s;
}

}  // namespace

TEST_CASE("hamming_distance counts differing bits across words") {
  const std::vector<std::uint64_t> a{0b1011, 0xffffffffffffffffULL}, b{0b0001, 0};
  CHECK(apd::hamming_distance(a, b) == 2 + 64);
  CHECK(apd::hamming_distance(a, a) == 0);
}

TEST_CASE("HammingIndex finds the brute-force nearest distance") {
  std::mt19937_64 rng(7);
  for (const std::size_t width : {40UL, 64UL, 300UL, 3456UL}) {
    for (const std::size_t n : {1UL, 30UL, 1000UL}) {
      const auto rows = width > 1000 ? clustered_rows(n, width, rng) : random_rows(n, width, rng, 0.3);
      const apd::HammingIndex index(width, rows);
      const std::size_t words = (width + 63) / 64;
      const auto queries = width > 1000 ? clustered_rows(40, width, rng) : random_rows(40, width, rng, 0.3);
      for (std::size_t q = 0; q < 40; ++q) {
        INFO("width " << width << ", " << n << " patterns, query " << q);
        CHECK(index.nearest(std::span(&queries[q * words], words)) == naive_nearest(rows, &queries[q * words], width));
      }
      // A member of the set is at distance 0.
      CHECK(index.nearest(index.row(n / 2)) == 0U);
    }
  }
}

TEST_CASE("An empty HammingIndex has no nearest distance") {
  const apd::HammingIndex empty(40, {});
  CHECK(empty.size() == 0);
  const std::vector<std::uint64_t> q{5};
  CHECK_FALSE(empty.nearest(q).has_value());
}

TEST_CASE("A monitor keeps the distinct patterns of correctly classified instances per predicted class") {
  // Instances: pattern, true label, predicted label.
  const auto store = store_of({"1100", "1100", "0011", "1111", "0000", "0011"});
  const std::vector<std::int32_t> truth{0, 0, 1, 0, 1, 1}, predicted{0, 0, 1, 1, 1, 1};
  const std::vector<std::size_t> layers{3};
  const apd::Monitor m = apd::build_monitor(store, layers, truth, predicted, 3, false);
  REQUIRE(m.layers.size() == 1);
  CHECK(m.layers[0].layer == 3);
  CHECK(m.instances == std::vector<std::uint64_t>{2, 3, 0});
  CHECK(m.layers[0].classes[0].size() == 1);                                  // 1100 twice
  CHECK(m.layers[0].classes[1].size() == 2);                                  // 0011 twice, 0000; not the wrong 1111
  CHECK(apd::pattern_to_string(m.layers[0].classes[1].row(0), 4) == "0000");  // ascending text
  CHECK(apd::pattern_to_string(m.layers[0].classes[1].row(1), 4) == "0011");
  CHECK(m.layers[0].classes[2].size() == 0);

  const apd::Monitor all = apd::build_monitor(store, layers, truth, predicted, 3, true);
  CHECK(all.layers[0].classes[1].size() == 3);  // 1111 too
  CHECK(all.instances == std::vector<std::uint64_t>{2, 4, 0});

  // Scoring: distance to the nearest pattern of the predicted class.
  const auto queries = store_of({"1110", "0111", "1111", "0101"});
  const std::vector<std::int32_t> q_predicted{0, 1, 2, 1};
  const auto d = apd::monitor_distances(m, queries, q_predicted, 1);
  REQUIRE(d.size() == 1);
  CHECK(d[0] == std::vector<std::uint32_t>{1, 1, apd::kNoDistance, 2});  // 0101 is 2 from 0000 and 0011
}

TEST_CASE("Monitor distances do not depend on how instances are split over threads") {
  std::mt19937_64 rng(3);
  const std::size_t width = 700, n = 3000;
  const auto rows = clustered_rows(n, width, rng);
  apd::PatternStore store({width});
  for (std::size_t i = 0; i < n; ++i) store.append_row(0, std::span(&rows[i * 11], 11));
  std::vector<std::int32_t> truth(n), predicted(n);
  for (std::size_t i = 0; i < n; ++i) {
    truth[i] = static_cast<std::int32_t>(i % 5);
    predicted[i] = static_cast<std::int32_t>(i % 7 == 0 ? (i + 1) % 5 : i % 5);
  }
  const std::vector<std::size_t> layers{1};
  const auto m = apd::build_monitor(store, layers, truth, predicted, 5, false);
  const auto d = apd::monitor_distances(m, store, predicted, 2);
  CHECK(apd::monitor_distances(m, store, predicted, 1) == d);
  CHECK(apd::monitor_distances(m, store, predicted, 7) == d);
  for (std::size_t i = 0; i < n; i += 37) {
    const auto& set = m.layers[0].classes[static_cast<std::size_t>(predicted[i])];
    std::vector<std::uint64_t> set_rows;
    for (std::size_t k = 0; k < set.size(); ++k) set_rows.insert(set_rows.end(), set.row(k).begin(), set.row(k).end());
    CHECK(d[0][i] == naive_nearest(set_rows, &rows[i * 11], width));
    if (truth[i] == predicted[i]) CHECK(d[0][i] == 0);
  }
}

TEST_CASE("build_monitor refuses labels outside the classes") {
  const auto store = store_of({"10", "01"});
  const std::vector<std::size_t> layers{1};
  const std::vector<std::int32_t> ok{0, 1}, bad{0, 2};
  CHECK_THROWS_AS(apd::build_monitor(store, layers, ok, bad, 2, false), apd::Error);
  CHECK_THROWS_AS(apd::build_monitor(store, layers, bad, ok, 2, false), apd::Error);
}

namespace {

apd::MonitorFile small_monitor_file() {
  const auto store = store_of({"1100000001", "0011000000", "1111111111", "0000000000", "0011000000"});
  const std::vector<std::int32_t> truth{0, 1, 0, 1, 1}, predicted{0, 1, 1, 1, 1};
  const std::vector<std::size_t> layers{2};
  apd::MonitorFile f;
  f.model = {"mlp", "ckpt.pt", std::string(64, 'a'), "runs/x", 7, "4-5-10-2", {5, 10}, 3};
  f.preprocessing = {"unit", {}, {}, {2, 2}};
  f.training = {{"split", "train"}};
  f.tool = {{"name", "apd-monitor"}};
  f.monitor = apd::build_monitor(store, layers, truth, predicted, 3, false);
  return f;
}

std::string written(const apd::MonitorFile& f) {
  const auto path = std::filesystem::temp_directory_path() / "apd-test-monitor.json";
  apd::write_monitor_file(path, f);
  std::string text = apd::read_text_file(path);
  std::filesystem::remove(path);
  return text;
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  INFO("replacing " << from);
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("A monitor file reads back as it was written") {
  const apd::MonitorFile f = small_monitor_file();
  const std::string text = written(f);
  const apd::MonitorFile g = apd::parse_monitor_file(text, "m.json");
  CHECK(g.model.sha256 == f.model.sha256);
  CHECK(g.model.epoch == 7);
  CHECK(g.model.relu_widths == std::vector<std::size_t>{5, 10});
  CHECK(g.preprocessing.input_shape == std::vector<std::int64_t>{2, 2});
  CHECK(g.monitor.instances == f.monitor.instances);
  REQUIRE(g.monitor.layers.size() == 1);
  for (std::size_t c = 0; c < 3; ++c) {
    REQUIRE(g.monitor.layers[0].classes[c].size() == f.monitor.layers[0].classes[c].size());
    for (std::size_t i = 0; i < f.monitor.layers[0].classes[c].size(); ++i) {
      CHECK(apd::compare_patterns(g.monitor.layers[0].classes[c].row(i), f.monitor.layers[0].classes[c].row(i)) == 0);
    }
  }
  CHECK(written(g) == text);
  // numpy.packbits of 1100000001 is c0 40.
  CHECK(text.find("[\"c040\"]") != std::string::npos);
}

TEST_CASE("A malformed monitor file is one error naming the field") {
  const std::string text = written(small_monitor_file());
  const auto fails_with = [](const std::string& bad, const std::string& what) {
    INFO(bad);
    CHECK_THROWS_WITH(apd::parse_monitor_file(bad, "m.json"), Catch::Contains("m.json: ") && Catch::Contains(what));
  };
  fails_with(replaced(text, "apd-monitor/1", "apd-monitor/9"), "not apd-monitor/1");
  fails_with(replaced(text, "\"width\": 10", "\"width\": 9"), "differs from the model's layer 2");
  fails_with(replaced(text, "\"c040\"", "\"c04\""), "has 3 hex digits");
  fails_with(replaced(text, "\"c040\"", "\"c041\""), "padding bit");
  fails_with(replaced(text, "\"c040\"", "\"C040\""), "lowercase hex");
  fails_with(replaced(text, "[\"0000\", \"3000\"]", "[\"3000\", \"0000\"]"), "ascending order");
  fails_with(replaced(text, "[\"0000\", \"3000\"]", "[\"3000\", \"3000\"]"), "ascending order");
  fails_with(replaced(text, "\"classes\":3", "\"classes\":4"), "fewer values than classes");
  fails_with(replaced(text, "\"layer\": 2", "\"layer\": 3"), "exceeds 2");
  fails_with(replaced(text, "\"class_instances\": [1, 3, 0]", "\"class_instances\": [1, 3]"), "fewer values");
  fails_with(text.substr(0, text.size() / 2), "not valid JSON");
  fails_with(std::string(100000, '['), "not valid JSON");
}

namespace {

// Four test instances (distances 0, 0, 2, 5; the second and fourth wrong)
// and two out-of-distribution ones (3, undefined), one layer of width 10.
apd::MonitorScores hand_made_scores() {
  apd::MonitorScores m;
  m.layers = {2};
  m.widths = {10};
  m.in = {"in", {0, 1, 2, 3}, {1, 1, 2, 2}, {1, 0, 2, 0}, {{0, 0, 2, 5}}, {}};
  m.ood = apd::ScoredSet{"ood", {0, 1}, {}, {1, 2}, {{3, apd::kNoDistance}}, {}};
  return m;
}

const apd::Cell& cell(const apd::Table& t, std::size_t row, const std::string& column) {
  const auto at = std::find(t.columns.begin(), t.columns.end(), column);
  REQUIRE(at != t.columns.end());
  return t.rows.at(row).at(static_cast<std::size_t>(at - t.columns.begin()));
}
double decimal(const apd::Cell& c) { return std::get<apd::Decimal>(c).value; }
std::uint64_t count(const apd::Cell& c) { return std::get<std::uint64_t>(c); }

}  // namespace

TEST_CASE("Monitor flags follow Cheng et al.: share flagged, misclassified flagged, precision, per gamma") {
  const apd::Table t = apd::monitor_flags_table(hand_made_scores());
  REQUIRE(t.rows.size() == 6);               // in and ood, gamma 0, 1, 2
  CHECK(count(cell(t, 0, "flagged")) == 2);  // in, gamma 0: distances 2 and 5
  CHECK(count(cell(t, 0, "misclassified")) == 2);
  CHECK(count(cell(t, 0, "misclassified_flagged")) == 1);
  CHECK(decimal(cell(t, 0, "precision")) == 0.5);
  CHECK(count(cell(t, 2, "flagged")) == 1);  // gamma 2: only distance 5
  CHECK(decimal(cell(t, 2, "precision")) == 1.0);
  CHECK(count(cell(t, 5, "flagged")) == 2);  // ood, gamma 2: 3 and undefined
  CHECK(std::holds_alternative<std::monostate>(cell(t, 5, "precision")));
}

TEST_CASE("Monitor detection: AUROC with ties and FPR at 95% TPR, undefined distances ranked highest") {
  const apd::Table t = apd::monitor_detection_table(hand_made_scores());
  REQUIRE(t.rows.size() == 4);  // misclassification and ood, layer 2 and combined
  // Misclassified {0, 5} vs correct {0, 2}: pairs 0.5 + 0 + 1 + 1 of 4.
  CHECK(decimal(cell(t, 0, "auroc")) == 0.625);
  // Catching both misclassified needs threshold 0: every correct one flagged.
  CHECK(decimal(cell(t, 0, "fpr_at_95_tpr")) == 1.0);
  CHECK(decimal(cell(t, 1, "auroc")) == 0.625);  // combined = distance / 10 ranks the same
  // OOD {3, undefined} vs test {0, 0, 2, 5}: 3 + 4 of 8 pairs; threshold 3 flags one test instance of 4.
  CHECK(std::get<std::string>(cell(t, 2, "task")) == "ood");
  CHECK(decimal(cell(t, 2, "auroc")) == 0.875);
  CHECK(decimal(cell(t, 2, "fpr_at_95_tpr")) == 0.25);
}

TEST_CASE("The instances table writes undefined distances as null and flags them") {
  const apd::Table t = apd::monitor_instances_table(hand_made_scores());
  REQUIRE(t.rows.size() == 6);
  CHECK(t.columns == std::vector<std::string>{"set", "index", "label", "predicted", "correct", "distance_l2",
                                              "combined", "flagged"});
  CHECK(decimal(cell(t, 3, "combined")) == 0.5);
  CHECK(std::holds_alternative<std::monostate>(cell(t, 5, "distance_l2")));
  CHECK(std::holds_alternative<std::monostate>(cell(t, 5, "combined")));
  CHECK(std::get<bool>(cell(t, 5, "flagged")));
  CHECK(std::holds_alternative<std::monostate>(cell(t, 4, "label")));
}

TEST_CASE("A scores file reads back into the scores it was written from") {
  const apd::MonitorScores m = hand_made_scores();
  const std::string json =
      apd::render_json({{"monitor",
                         {"format", "gamma"},
                         {{apd::Cell{std::string("apd-monitor-scores/1")}, apd::Cell{std::uint64_t{0}}}}},
                        apd::monitor_layers_table(m),
                        apd::monitor_instances_table(m)});
  const apd::MonitorScores back = apd::parse_monitor_scores(json, "s.json");
  CHECK(back.layers == m.layers);
  CHECK(back.widths == m.widths);
  CHECK(back.in.distance == m.in.distance);
  CHECK(back.in.truth == m.in.truth);
  REQUIRE(back.ood.has_value());
  CHECK(back.ood->distance == m.ood->distance);
  CHECK(back.ood->truth.empty());
  CHECK_THROWS_WITH(apd::parse_monitor_scores(replaced(json, "\"distance_l2\": 5", "\"distance_l2\": 11"), "s.json"),
                    Catch::Contains("s.json: instances[3].distance_l2: 11 exceeds 10"));
}

TEST_CASE("The logit baselines: msp, max logit and energy, as detectors beside the patterns") {
  const std::vector<float> z{1.0F, 2.0F, 3.0F};
  const double sum = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const apd::LogitScores s = apd::logit_scores(z);
  CHECK(s.msp == Approx(std::exp(3.0) / sum).epsilon(1e-15));
  CHECK(s.max_logit == 3.0);
  CHECK(s.energy == Approx(-std::log(sum)).epsilon(1e-15));
  // Large logits do not overflow: the maximum is subtracted first.
  const apd::LogitScores big = apd::logit_scores(std::vector<float>{1000.0F, 1000.0F});
  CHECK(big.msp == 0.5);
  CHECK(big.energy == Approx(-1000.0 - std::log(2.0)));

  // In: msp 0.9, 0.5, 0.8, 0.4 (the second and fourth wrong); ood: 0.6, 0.3.
  apd::MonitorScores m = hand_made_scores();
  const auto with_msp = [](double p) { return apd::LogitScores{p, 10 * p, -p}; };
  for (const double p : {0.9, 0.5, 0.8, 0.4}) m.in.logits.push_back(with_msp(p));
  for (const double p : {0.6, 0.3}) m.ood->logits.push_back(with_msp(p));
  const apd::Table t = apd::monitor_detection_table(m);
  REQUIRE(t.rows.size() == 10);  // per task: layer 2, combined, msp, max_logit, energy
  std::vector<std::string> scores;
  for (std::size_t r = 0; r < t.rows.size(); ++r) scores.push_back(std::get<std::string>(cell(t, r, "score")));
  CHECK(scores == std::vector<std::string>{"layer 2", "combined", "msp", "max_logit", "energy", "layer 2", "combined",
                                           "msp", "max_logit", "energy"});
  // Misclassified {0.5, 0.4} have the lowest msp: AUROC 1, no false positive needed.
  CHECK(decimal(cell(t, 2, "auroc")) == 1.0);
  CHECK(decimal(cell(t, 3, "auroc")) == 1.0);
  CHECK(decimal(cell(t, 4, "auroc")) == 1.0);
  CHECK(decimal(cell(t, 2, "fpr_at_95_tpr")) == 0.0);
  // OOD {0.6, 0.3} vs in {0.9, 0.5, 0.8, 0.4}: pairs below: 0.6 beats 2, 0.3 beats 4 -> 6 of 8.
  CHECK(decimal(cell(t, 7, "auroc")) == 0.75);
  CHECK(decimal(cell(t, 9, "auroc")) == 0.75);

  // The scores file carries them and reads back exactly.
  const apd::Table instances = apd::monitor_instances_table(m);
  CHECK(instances.columns.back() == "energy");
  const std::string json =
      apd::render_json({{"monitor",
                         {"format", "gamma"},
                         {{apd::Cell{std::string("apd-monitor-scores/1")}, apd::Cell{std::uint64_t{0}}}}},
                        apd::monitor_layers_table(m),
                        instances});
  const apd::MonitorScores back = apd::parse_monitor_scores(json, "s.json");
  REQUIRE(back.in.logits.size() == 4);
  CHECK(back.in.logits[1].msp == 0.5);
  CHECK(back.ood->logits[1].max_logit == 3.0);
  CHECK(apd::render_json({apd::monitor_detection_table(back)}) == apd::render_json({t}));
  CHECK_THROWS_WITH(apd::parse_monitor_scores(replaced(json, "\"msp\": 0.9", "\"msq\": 0.9"), "s.json"),
                    Catch::Contains("s.json: instances"));
}
