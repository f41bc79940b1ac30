// The APD builder against the paper's Example 1 and a naive string/map oracle.
#include <catch2/catch.hpp>

#include "apd/core/diagram.hpp"
#include "naive_apd.hpp"

using apd::test::naive_apd;

TEST_CASE("the paper's Example 1: one instance, L = 2, widths 2", "[diagram]") {
  // A_1 = [0,0], A_2 = [1,0], predicted y0 (here y0 = 3, true label 3).
  apd::PatternStore store({2, 2});
  store.append_pattern(0, "00");
  store.append_pattern(1, "10");
  const std::vector<std::int32_t> label = {3}, predicted = {3};
  const std::vector<std::int64_t> index = {0};
  const auto d = apd::build_diagram(store, label, predicted, index);

  REQUIRE(d.nodes.size() == 3);  // V = {(1,[0,0]), (2,[1,0]), y0}
  CHECK(d.nodes[0].kind == apd::NodeKind::pattern);
  CHECK(d.nodes[0].layer == 1);
  CHECK(d.pattern(0) == "00");
  CHECK(d.nodes[1].layer == 2);
  CHECK(d.pattern(1) == "10");
  CHECK(d.nodes[2].kind == apd::NodeKind::label);
  CHECK(d.nodes[2].label == 3);
  REQUIRE(d.links.size() == 2);  // E = {((1,[0,0]),(2,[1,0])), ((2,[1,0]), y0)}
  CHECK(d.links[0].source == 0);
  CHECK(d.links[0].target == 1);
  CHECK(d.links[1].source == 1);
  CHECK(d.links[1].target == 2);
  for (const auto& n : d.nodes) {
    CHECK(n.count == 1);
    CHECK(n.errors == 0);
  }
  CHECK(d.node_id(0) == "l1n0");
  CHECK(d.node_id(2) == "y3");
  CHECK(d.unique_patterns() == std::vector<std::size_t>{1, 1});
}

TEST_CASE("a misclassified instance counts as an error on every node and edge it passes", "[diagram]") {
  apd::PatternStore store({2, 2});
  for (const auto& [a, b] :
       std::vector<std::pair<std::string, std::string>>{{"00", "10"}, {"00", "11"}, {"01", "10"}}) {
    store.append_pattern(0, a);
    store.append_pattern(1, b);
  }
  const std::vector<std::int32_t> label = {1, 1, 2}, predicted = {1, 7, 1};
  const std::vector<std::int64_t> index = {10, 11, 12};
  const auto d = apd::build_diagram(store, label, predicted, index);
  CHECK(d.errors == 2);
  // Layer 1: "00" (2 instances, 1 error) before "01" (1, 1).
  CHECK(d.pattern(0) == "00");
  CHECK(d.nodes[0].count == 2);
  CHECK(d.nodes[0].errors == 1);
  CHECK(d.pattern(1) == "01");
  CHECK(d.nodes[1].errors == 1);
  // Label nodes: y1 (2 instances, 1 error: the true-2 one), y7 (1, 1).
  const auto& y1 = d.nodes[4];
  CHECK(y1.label == 1);
  CHECK(y1.count == 2);
  CHECK(y1.errors == 1);
  CHECK(std::vector<apd::LabelCount>(d.true_labels(4).begin(), d.true_labels(4).end()) ==
        std::vector<apd::LabelCount>{{1, 1}, {2, 1}});
  CHECK(d.path_node(2, 1) == 1);
  CHECK(d.index == std::vector<std::int64_t>{10, 11, 12});
}

TEST_CASE("random APDs of widths 1, 40, 64, 65 and 300 equal the naive reference", "[diagram]") {
  for (const std::size_t width : {1U, 40U, 64U, 65U, 300U}) {
    CAPTURE(width);
    const std::vector<std::size_t> widths = {width, width, 3};
    const auto r = apd::test::random_instances(1500, widths, 10, static_cast<std::uint32_t>(width));
    const auto store = apd::test::store_of(r.patterns, widths);
    const auto d = apd::build_diagram(store, r.labels32, r.predicted32, r.indices);

    CHECK(apd::test::as_naive(d) == naive_apd(r.patterns, r.labels, r.predicted));

    // Per-column node counts and per-column-pair link counts sum to N.
    std::vector<std::uint64_t> nodes_sum(5, 0), links_sum(5, 0);
    for (const auto& n : d.nodes) {
      nodes_sum[n.layer] += n.count;
      CHECK(n.errors <= n.count);
    }
    for (const auto& link : d.links) {
      links_sum[d.nodes[link.source].layer] += link.count;
      CHECK(link.errors <= link.count);
    }
    for (std::size_t c = 1; c <= 4; ++c) CHECK(nodes_sum[c] == 1500);
    for (std::size_t c = 1; c <= 3; ++c) CHECK(links_sum[c] == 1500);

    // Order: by layer, then descending count, then pattern.
    for (std::size_t k = 1; k < d.nodes.size(); ++k) {
      const auto& a = d.nodes[k - 1];
      const auto& b = d.nodes[k];
      if (a.layer != b.layer) {
        CHECK(a.layer < b.layer);
      } else if (a.count != b.count) {
        CHECK(a.count > b.count);
      } else if (a.kind == apd::NodeKind::pattern) {
        CHECK(d.pattern(k - 1) < d.pattern(k));
      } else {
        CHECK(a.label < b.label);
      }
    }
    // Each instance's path holds its own patterns.
    for (std::size_t i = 0; i < 1500; i += 37) {
      for (std::size_t l = 1; l <= 3; ++l) CHECK(d.pattern(d.path_node(i, l)) == r.patterns[i][l - 1]);
    }
    // Determinism: rebuilding gives an identical diagram.
    CHECK(apd::build_diagram(store, r.labels32, r.predicted32, r.indices) == d);
  }
}

TEST_CASE("inputs of different lengths or negative labels are refused", "[diagram]") {
  apd::PatternStore store({2});
  store.append_pattern(0, "01");
  const std::vector<std::int32_t> one = {1}, none = {}, negative = {-1};
  const std::vector<std::int64_t> index = {0};
  CHECK_THROWS_WITH(apd::build_diagram(store, one, none, index),
                    "APD input mismatch: 1 patterns, 1 labels, 0 predictions, 1 indices");
  CHECK_THROWS_WITH(apd::build_diagram(store, negative, one, index), Catch::Contains("labels must be >= 0"));
}
