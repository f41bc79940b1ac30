// Flows, their purity/accuracy, the log-binned distribution and layer
// summaries: hand-computed answers and the naive reference.
#include <cmath>

#include <catch2/catch.hpp>

#include "hand_made.hpp"

#include "apd/core/clusters.hpp"
#include "apd/core/error.hpp"
#include "apd/core/flows.hpp"
#include "apd/report/stats.hpp"
#include "naive_apd.hpp"

TEST_CASE("flows on a hand-made APD have the hand-computed strength, purity, accuracy and majority", "[flows]") {
  const auto d = apd::test::hand_made();
  const auto fs = apd::compute_flows(d, apd::default_flow_layers(d.layers()));
  CHECK(fs.layers == std::vector<std::size_t>{1, 2});
  REQUIRE(fs.flows.size() == 4);
  const auto& a = fs.flows[0];
  CHECK(a.strength == 4);
  CHECK(a.majority_label == 1);
  CHECK(a.purity() == 0.75);
  CHECK(a.accuracy() == 0.75);
  CHECK(a.errors == 1);
  const auto& b = fs.flows[1];
  CHECK(b.strength == 2);
  CHECK(b.majority_label == 3);  // 3 and 4 tie: the smaller label wins
  CHECK(b.purity() == 0.5);
  CHECK(b.accuracy() == 0.5);
  // Strength-1 flows are ordered by their nodes: D (00,11) before C (11,11).
  CHECK(d.pattern(fs.nodes(2)[0]) == "00");
  CHECK(fs.flows[2].purity() == 1.0);
  CHECK(fs.flows[2].accuracy() == 0.0);  // purity and accuracy differ
  CHECK(d.pattern(fs.nodes(3)[0]) == "11");
  CHECK(fs.flows[3].accuracy() == 1.0);
  CHECK(fs.flow_of == std::vector<std::uint32_t>{0, 0, 0, 0, 1, 1, 3, 2});
}

TEST_CASE("flows over one layer group instances by that layer's pattern", "[flows]") {
  const auto d = apd::test::hand_made();
  const std::vector<std::size_t> layer2 = {2};
  const auto fs = apd::compute_flows(d, layer2);
  REQUIRE(fs.flows.size() == 2);
  CHECK(fs.flows[0].strength == 4);
  CHECK(fs.flows[1].strength == 4);
  CHECK(d.pattern(fs.nodes(0)[0]) == "10");
}

TEST_CASE("the strength x purity grid has the hand-computed cells", "[flows]") {
  const auto d = apd::test::hand_made();
  const auto fs = apd::compute_flows(d, apd::default_flow_layers(2));
  const auto cells = apd::bin_flows(fs);
  REQUIRE(cells.size() == 3 * 10);  // strengths 1, 2, 4 -> bins [1,2), [2,4), [4,8)
  auto cell = [&](std::size_t s, std::size_t p) { return cells[s * 10 + p]; };
  CHECK(cell(2, 7).instances == 4);  // A: strength 4, purity 0.75
  CHECK(cell(2, 7).wrong == 1);
  CHECK(cell(2, 7).strength_lo == 4);
  CHECK(cell(2, 7).strength_hi == 8);
  CHECK(cell(1, 5).instances == 2);  // B: purity 0.5
  CHECK(cell(1, 5).wrong == 1);
  CHECK(cell(0, 9).flows == 2);  // C and D: purity 1 falls in the closed last bin
  CHECK(cell(0, 9).instances == 2);
  CHECK(cell(0, 9).wrong == 1);
  CHECK(cell(0, 9).purity_lo == Approx(0.9));
  CHECK(cell(0, 9).purity_hi == 1.0);
  std::uint64_t all = 0, wrong = 0;
  for (const auto& c : cells) {
    all += c.instances;
    wrong += c.wrong;
  }
  CHECK(all == 8);
  CHECK(wrong == 3);
  CHECK_THROWS_AS(apd::bin_flows(fs, {1.0, 10}), apd::UsageError);
  CHECK_THROWS_AS(apd::bin_flows(fs, {2.0, 0}), apd::UsageError);
}

TEST_CASE("strength and purity bins are exact at their edges", "[flows]") {
  CHECK(apd::strength_bin(1, 2.0) == 0);
  CHECK(apd::strength_bin(2, 2.0) == 1);
  CHECK(apd::strength_bin(3, 2.0) == 1);
  CHECK(apd::strength_bin(4, 2.0) == 2);
  CHECK(apd::strength_bin(1023, 2.0) == 9);
  CHECK(apd::strength_bin(1024, 2.0) == 10);
  CHECK(apd::strength_bin(9, 10.0) == 0);
  CHECK(apd::strength_bin(10, 10.0) == 1);
  CHECK(apd::strength_bin(100, 10.0) == 2);
  CHECK(apd::purity_bin(3, 10, 10) == 3);
  CHECK(apd::purity_bin(7, 10, 10) == 7);
  CHECK(apd::purity_bin(1, 3, 3) == 1);
  CHECK(apd::purity_bin(2, 3, 3) == 2);
  CHECK(apd::purity_bin(10, 10, 10) == 9);
  CHECK(apd::purity_bin(1, 10, 10) == 1);
  CHECK(apd::purity_bin(99, 100, 10) == 9);
}

TEST_CASE("layer summaries have the hand-computed counts and entropy", "[flows]") {
  const auto s = apd::summarize_layers(apd::test::hand_made());
  REQUIRE(s.size() == 2);
  CHECK(s[0].unique_patterns == 3);  // 00 x5, 01 x2, 11 x1
  CHECK(s[0].instances == 8);
  CHECK(s[0].singletons == 1);
  CHECK(s[0].singleton_share == 0.125);
  CHECK(s[0].largest == 5);
  CHECK(s[0].entropy_bits ==
        Approx(-(5.0 / 8 * std::log2(5.0 / 8) + 0.25 * std::log2(0.25) + 0.125 * std::log2(0.125))));
  CHECK(s[1].unique_patterns == 2);
  CHECK(s[1].entropy_bits == Approx(1.0));
  CHECK(s[1].singletons == 0);
}

TEST_CASE("random flows equal the naive reference and their strengths sum to N", "[flows]") {
  for (const std::size_t width : {1U, 40U, 64U, 65U, 300U}) {
    CAPTURE(width);
    const std::vector<std::size_t> widths = {width, width, width};
    const int classes = 10;
    const auto r = apd::test::random_instances(1200, widths, classes, static_cast<std::uint32_t>(width + 7));
    const auto d = apd::build_diagram(apd::test::store_of(r.patterns, widths), r.labels32, r.predicted32, r.indices);
    for (const std::vector<std::size_t>& layers : {std::vector<std::size_t>{2, 3}, std::vector<std::size_t>{1, 2, 3}}) {
      const auto fs = apd::compute_flows(d, layers);
      const auto naive = apd::test::naive_flows(r.patterns, r.labels, r.predicted, layers);
      REQUIRE(fs.flows.size() == naive.size());
      std::uint64_t total = 0;
      for (std::size_t k = 0; k < fs.flows.size(); ++k) {
        const auto& f = fs.flows[k];
        std::vector<std::string> key;
        for (const auto node : fs.nodes(k)) key.push_back(d.pattern(node));
        const auto it = naive.find(key);
        REQUIRE(it != naive.end());
        CHECK(f.strength == it->second.strength);
        CHECK(f.errors == it->second.errors);
        std::uint64_t best = 0;
        int best_label = -1;
        for (const auto& [label, c] : it->second.votes) {
          if (c > best) {
            best = c;
            best_label = label;
          }
        }
        CHECK(f.majority_count == best);
        CHECK(f.majority_label == best_label);
        CHECK(f.purity() >= 1.0 / classes);
        CHECK(f.purity() <= 1.0);
        total += f.strength;
      }
      CHECK(total == 1200);
      for (std::size_t k = 1; k < fs.flows.size(); ++k) CHECK(fs.flows[k - 1].strength >= fs.flows[k].strength);
    }
  }
}

TEST_CASE("flows need instances and valid layers", "[flows]") {
  auto d = apd::test::hand_made();
  const std::vector<std::size_t> bad = {3};
  CHECK_THROWS_WITH(apd::compute_flows(d, bad), "flow layer 3 is outside 1..2");
  d.has_instances = false;
  CHECK_THROWS_WITH(apd::compute_flows(d, apd::default_flow_layers(2)),
                    Catch::Contains("rerun apd-extract without --no-instances"));
  CHECK(apd::default_flow_layers(1) == std::vector<std::size_t>{1});
  CHECK(apd::default_flow_layers(3) == std::vector<std::size_t>{2, 3});
}

TEST_CASE("decision-tree clusters of the hand-made APD, worked by hand", "[clusters]") {
  // Layer 2 splits {A x4} from {B x2, C, D} (A lacks labels 3..6: gain > 0).
  // A at layer 1: one child (all "00"): no gain, final at layer 1.
  // {B, C, D} at layer 1: "01" {B x2}, "11" {C}, "00" {D}: gain > 0, all final at layer 1.
  const auto d = apd::test::hand_made();
  const apd::Clustering c = apd::decision_tree_clusters(d);
  REQUIRE(c.clusters.size() == 4);
  const auto check = [&](std::size_t k, std::uint64_t size, std::size_t layer, std::uint64_t correct,
                         std::int32_t majority, std::uint32_t first) {
    CAPTURE(k);
    CHECK(c.clusters[k].size == size);
    CHECK(c.clusters[k].layer == layer);
    CHECK(c.clusters[k].correct == correct);
    CHECK(c.clusters[k].majority_predicted == majority);
    CHECK(c.clusters[k].first == first);
  };
  check(0, 4, 1, 3, 1, 0);  // A: predicted 1,1,1,2
  check(1, 2, 1, 1, 3, 4);  // B: predicted 3,4 (a tie: the smaller label)
  check(2, 1, 1, 1, 5, 6);  // C
  check(3, 1, 1, 0, 6, 7);  // D
  CHECK(c.cluster_of == std::vector<std::uint32_t>{0, 0, 0, 0, 1, 1, 2, 3});
  // Wrong: one in A (size 4), one in B (2), D (1); right: three in A, one in B, C (1).
  // Pairs (wrong, right) with the wrong one in the smaller cluster, ties 1/2: 9.5 of 15.
  CHECK(apd::small_cluster_auroc(c).value() == Approx(9.5 / 15.0));
}

TEST_CASE("a pure cluster or a split without gain stops where it was tried", "[clusters]") {
  // Every instance predicted 1: the root is pure, final at the last layer.
  apd::PatternStore store({2, 2});
  for (const auto& [a, b] :
       std::vector<std::pair<std::string, std::string>>{{"00", "10"}, {"01", "11"}, {"11", "11"}}) {
    store.append_pattern(0, a);
    store.append_pattern(1, b);
  }
  const std::vector<std::int32_t> truth{1, 2, 1}, pure{1, 1, 1}, mixed{1, 2, 1};
  const std::vector<std::int64_t> index{0, 1, 2};
  const auto c = apd::decision_tree_clusters(apd::build_diagram(store, truth, pure, index));
  REQUIRE(c.clusters.size() == 1);
  CHECK(c.clusters[0].size == 3);
  CHECK(c.clusters[0].layer == 2);
  CHECK(c.clusters[0].correct == 2);
  // Layer 2 splits {0} ("10": label 1) from {1, 2} ("11": labels 2, 1): gain > 0. {0} has one
  // instance: final at layer 2. {1, 2} at layer 1: "01" {1}, "11" {2}: gain > 0, both final at 1.
  const auto m = apd::decision_tree_clusters(apd::build_diagram(store, truth, mixed, index));
  REQUIRE(m.clusters.size() == 3);
  CHECK(m.clusters[0].layer == 2);
  CHECK(m.clusters[0].first == 0);
  CHECK(m.clusters[1].layer == 1);
  CHECK(m.clusters[2].layer == 1);
}

TEST_CASE("children with the parent's label proportions mean no gain, decided exactly", "[clusters]") {
  // Layer 1 patterns split 6 instances into two halves with predicted labels {1,1,2} each:
  // the same proportions as the parent, so no gain: one cluster, final at layer 1.
  apd::PatternStore store({1});
  for (const char* p : {"0", "0", "0", "1", "1", "1"}) store.append_pattern(0, p);
  const std::vector<std::int32_t> truth{1, 1, 2, 1, 1, 2}, predicted{1, 1, 2, 1, 2, 1};
  const std::vector<std::int64_t> index{0, 1, 2, 3, 4, 5};
  const auto c = apd::decision_tree_clusters(apd::build_diagram(store, truth, predicted, index));
  REQUIRE(c.clusters.size() == 1);
  CHECK(c.clusters[0].size == 6);
  CHECK(c.clusters[0].layer == 1);
}
