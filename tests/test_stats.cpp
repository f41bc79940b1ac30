// apd-stats' tables on hand-made APDs with hand-computed answers.
#include <sstream>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "hand_made.hpp"

#include "apd/core/error.hpp"
#include "apd/report/regions.hpp"
#include "apd/report/stats.hpp"

namespace {

// Flows over layers {1,2} (see test_flows.cpp): A strength 4, 1 wrong, purity
// 0.75; B strength 2, 1 wrong, purity 0.5; C strength 1, right, purity 1;
// D strength 1, wrong, purity 1.

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    rows.emplace_back();
    std::string cell;
    std::istringstream cells(line);
    while (std::getline(cells, cell, ',')) rows.back().push_back(cell);
    if (!line.empty() && line.back() == ',') rows.back().push_back("");
  }
  return rows;
}

}  // namespace

TEST_CASE("AUROC matches the hand calculation, ties counting one half", "[stats]") {
  // small strength: scores -4 (4 instances, 1 wrong), -2 (2, 1), -1 (2, 1):
  // average ranks 2.5, 5.5, 7.5 -> U = 15.5 - 3*4/2 = 9.5 -> 9.5 / (3*5).
  CHECK(*apd::auroc({{-4, 4, 1}, {-2, 2, 1}, {-1, 1, 0}, {-1, 1, 1}}) == Approx(9.5 / 15));
  // low purity: -1 (2, 1), -0.75 (4, 1), -0.5 (2, 1) -> ranks 1.5, 4.5, 7.5 -> U = 7.5 -> 0.5.
  CHECK(*apd::auroc({{-0.75, 4, 1}, {-0.5, 2, 1}, {-1, 2, 1}}) == Approx(0.5));
  CHECK(*apd::auroc({{1, 5, 0}, {2, 5, 5}}) == 1.0);            // perfect separation
  CHECK(*apd::auroc({{1, 5, 5}, {2, 5, 0}}) == 0.0);            // perfectly wrong
  CHECK(*apd::auroc({{3, 10, 4}}) == 0.5);                      // one score for all: chance
  CHECK_FALSE(apd::auroc({{1, 5, 0}, {2, 3, 0}}).has_value());  // no wrong instances
  CHECK_FALSE(apd::auroc({{1, 5, 5}}).has_value());             // no right ones
}

TEST_CASE("the stats tables of a hand-made APD hold the hand-computed values", "[stats]") {
  auto t = apd::make_stats_tables();
  const auto d = apd::test::hand_made({{"epoch", 7}});
  apd::add_layer_rows(t, "h.json", d);
  apd::StatsSpec spec;
  spec.top = 0;
  apd::add_flow_rows(t, "h.json", d, spec, true, true, true);

  const auto layers = apd::render_csv(t.layers);
  CHECK(layers.rfind("file,epoch,layer,width,instances,unique_patterns,singleton_share,largest,entropy_bits\n", 0) ==
        0);
  const auto lrows = parse_csv(layers);
  REQUIRE(lrows.size() == 3);
  CHECK(lrows[1] == std::vector<std::string>{"h.json", "7", "1", "2", "8", "3", "0.125", "5", lrows[1][8]});
  CHECK(std::stod(lrows[1][8]) == Approx(1.2987949406953985));

  const auto frows = parse_csv(apd::render_csv(t.flows));
  REQUIRE(frows.size() == 5);
  CHECK(frows[0] == std::vector<std::string>{"file", "epoch", "flow", "strength", "purity", "accuracy",
                                             "majority_label", "errors", "patterns", "nodes"});
  CHECK(frows[1] == std::vector<std::string>{"h.json", "7", "f0", "4", "0.75", "0.75", "1", "1", "00|10", "l1n0|l2n0"});
  CHECK(frows[2] == std::vector<std::string>{"h.json", "7", "f1", "2", "0.5", "0.5", "3", "1", "01|11", "l1n1|l2n1"});
  CHECK(frows[3][3] == "1");
  CHECK(frows[3][4] == "1");  // purity 1 ...
  CHECK(frows[3][5] == "0");  // ... accuracy 0: purity and accuracy differ

  const auto brows = parse_csv(apd::render_csv(t.bins));
  CHECK(brows[0] == std::vector<std::string>{"file", "epoch", "strength_lo", "strength_hi", "purity_lo", "purity_hi",
                                             "flows", "instances", "wrong"});
  REQUIRE(brows.size() == 1 + 3 * 10);
  CHECK(brows[1 + 2 * 10 + 7] == std::vector<std::string>{"h.json", "7", "4", "8", "0.7", "0.8", "1", "4", "1"});
  CHECK(brows[1 + 0 * 10 + 9] == std::vector<std::string>{"h.json", "7", "1", "2", "0.9", "1", "2", "2", "1"});

  const auto erows = parse_csv(apd::render_csv(t.errors));
  REQUIRE(erows.size() == 4);
  CHECK(erows[0] == std::vector<std::string>{"file", "epoch", "score", "auroc", "instances", "wrong", "flow_layers"});
  CHECK(erows[1][2] == "small_strength");
  CHECK(std::stod(erows[1][3]) == Approx(9.5 / 15));
  CHECK(erows[2][2] == "low_purity");
  CHECK(std::stod(erows[2][3]) == Approx(0.5));
  CHECK(erows[1][4] == "8");
  CHECK(erows[1][5] == "3");
  CHECK(erows[1][6] == "1+2");
  // The decision-tree clusters of this APD (worked in test_flows.cpp) rank the wrong instances alike.
  CHECK(erows[3][2] == "small_cluster");
  CHECK(std::stod(erows[3][3]) == Approx(9.5 / 15));
  CHECK(erows[3][6] == "tree");
}

TEST_CASE("a top-N flow table keeps the strongest flows and text output abbreviates patterns", "[stats]") {
  auto t = apd::make_stats_tables();
  apd::StatsSpec spec;
  spec.top = 2;
  spec.full_patterns = false;
  apd::add_flow_rows(t, "h.json", apd::test::hand_made({{"epoch", 7}}), spec, true, false, false);
  REQUIRE(t.flows.rows.size() == 2);
  const auto text = apd::render_text(t.flows);
  CHECK_THAT(text, Catch::Contains("l1n0[0/2 on] l2n0[1/2 on]"));
  CHECK_THAT(apd::render_markdown(t.flows), Catch::Contains("| file | epoch | flow |"));
  const auto text_json = apd::render_json({t.flows});
  const auto doc = nlohmann::ordered_json::parse(text_json);
  CHECK(doc["flows"][0]["purity"] == 0.75);
  CHECK(doc["flows"][0]["patterns"] == "l1n0[0/2 on] l2n0[1/2 on]");
  CHECK(doc["flows"][0].begin().key() == "file");  // column order kept
}

TEST_CASE("flows of an APD without instances say how to get them", "[stats]") {
  auto t = apd::make_stats_tables();
  auto d = apd::test::hand_made({{"epoch", 7}});
  d.has_instances = false;
  CHECK_THROWS_WITH(
      apd::add_flow_rows(t, "lean.json", d, {}, true, true, true),
      Catch::Contains("lean.json: flows need per-instance records and this APD has none (rerun apd-extract "
                      "without --no-instances"));
}

TEST_CASE("the run table lists every epoch and marks the best validation loss", "[stats]") {
  std::vector<apd::EpochMetrics> m = {{1, 2.3, 0.1, 2.2, 0.12, {500, 200, 30}, 0.2, {}, {}},
                                      {2, 1.1, 0.6, 0.9, 0.70, {600, 250, 40}, 0.2, {}, {}},
                                      {3, 0.8, 0.7, 1.0, 0.69, {650, 260, 45}, 0.2, {}, {}}};
  const auto t = apd::run_table(m);
  CHECK(t.columns == std::vector<std::string>{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "unique_l1",
                                              "unique_l2", "unique_l3", "best"});
  const auto rows = parse_csv(apd::render_csv(t));
  REQUIRE(rows.size() == 4);
  CHECK(rows[2] == std::vector<std::string>{"2", "1.1", "0.6", "0.9", "0.7", "600", "250", "40", "true"});
  CHECK(rows[1].back() == "false");
  CHECK(rows[3].back() == "false");
}

TEST_CASE("the run table shows churn and flow ARI when the run recorded them, blank at epoch 1", "[stats]") {
  std::vector<apd::EpochMetrics> m = {{1, 2.3, 0.1, 2.2, 0.12, {500, 200}, 0.2, {}, {}},
                                      {2, 1.1, 0.6, 0.9, 0.70, {600, 250}, 0.2, {0.5, 0.125}, 0.75}};
  const auto t = apd::run_table(m);
  CHECK(t.columns == std::vector<std::string>{"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "unique_l1",
                                              "unique_l2", "churn_l1", "churn_l2", "flow_ari", "best"});
  const auto rows = parse_csv(apd::render_csv(t));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1] == std::vector<std::string>{"1", "2.3", "0.1", "2.2", "0.12", "500", "200", "", "", "", "false"});
  CHECK(rows[2] ==
        std::vector<std::string>{"2", "1.1", "0.6", "0.9", "0.7", "600", "250", "0.5", "0.125", "0.75", "true"});
}

TEST_CASE("error flags give the hand-computed AUROCs the table and the report both show", "[stats]") {
  const auto d = apd::test::hand_made();
  const auto flags = apd::error_flags(apd::compute_flows(d, apd::default_flow_layers(d.layers())));
  CHECK(flags.wrong == 3);
  REQUIRE(flags.small_strength.has_value());
  CHECK(*flags.small_strength == Approx(9.5 / 15));
  REQUIRE(flags.low_purity.has_value());
  CHECK(*flags.low_purity == Approx(0.5));
}

TEST_CASE("AUROC and FPR rank a NaN score above every other, and end", "[stats]") {
  // A NaN once made equal scores never group: the loop did not end (found by fuzz_monitor).
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<apd::ScoredGroup> groups{{0.1, 1, 0}, {nan, 1, 1}, {0.5, 1, 0}, {nan, 1, 0}, {0.2, 1, 1}};
  const auto with_inf = [&] {
    auto g = groups;
    for (auto& x : g) x.score = std::isnan(x.score) ? std::numeric_limits<double>::infinity() : x.score;
    return g;
  }();
  CHECK(apd::auroc(groups) == apd::auroc(with_inf));
  CHECK(apd::fpr_at_95_tpr(groups) == apd::fpr_at_95_tpr(with_inf));
  CHECK(apd::auroc(groups).value() == Approx(3.5 / 6));  // pos {inf, 0.2} vs neg {0.1, 0.5, inf}: 2.5 + 1 of 6
}

namespace {

// hand_made() with distances: r = 0.1 .. 0.7 and +inf (instance 7), d = 1 .. 8.
apd::Diagram with_distances() {
  auto d = apd::test::hand_made({{"epoch", 7}});
  d.region_radius = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, std::numeric_limits<double>::infinity()};
  d.boundary_distance = {1, 2, 3, 4, 5, 6, 7, 8};
  return d;
}

}  // namespace

TEST_CASE("Spearman and spreads match the hand calculation, +infinity ranking last", "[stats][geometry]") {
  const std::vector<double> r = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, std::numeric_limits<double>::infinity()};
  const std::vector<double> strength = {4, 4, 4, 4, 2, 2, 1, 1};
  // Ranks 1..8 against average ranks 6.5 x4, 3.5 x2, 1.5 x2: -36 / sqrt(42 * 36).
  CHECK(*apd::spearman(r, strength) == Approx(-36.0 / std::sqrt(42.0 * 36.0)));
  CHECK(*apd::spearman(r, std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8}) == Approx(1.0));
  CHECK_FALSE(apd::spearman(r, std::vector<double>(8, 3.0)));  // constant: undefined
  CHECK_FALSE(apd::spearman(std::vector<double>{1.0}, std::vector<double>{2.0}));
  const auto s = apd::spread_of({0.4, 0.1, 0.3, 0.2});
  CHECK(s.min == 0.1);
  CHECK(s.median == Approx(0.25));
  CHECK(s.max == 0.4);
  CHECK(std::isinf(apd::spread_of({1.0, std::numeric_limits<double>::infinity()}).max));
}

TEST_CASE("small region radius and boundary distance flag the wrong instances as computed by hand",
          "[stats][geometry]") {
  auto t = apd::make_stats_tables();
  apd::add_region_error_rows(t, "h.json", with_distances());
  // Wrong: instances 3, 5, 7 (r 0.4, 0.6, inf): scores -r rank them 5, 3, 1 of 8 -> U = 9 - 6 = 3 -> 3 / 15.
  const auto rows = parse_csv(apd::render_csv(t.errors));
  REQUIRE(rows.size() == 3);
  CHECK(rows[1] == std::vector<std::string>{"h.json", "7", "small_region_radius", "0.2", "8", "3", "instance"});
  CHECK(rows[2] == std::vector<std::string>{"h.json", "7", "small_boundary_distance", "0.2", "8", "3", "instance"});
  auto none = apd::make_stats_tables();
  apd::add_region_error_rows(none, "h.json", apd::test::hand_made());
  CHECK(none.errors.rows.empty());
}

TEST_CASE("the regions table gives each flow's and node's spread and the file's correlations", "[stats][geometry]") {
  auto t = apd::make_stats_tables();
  apd::StatsSpec spec;
  spec.top = 0;
  apd::add_region_rows(t, "h.json", with_distances(), spec);
  const auto rows = parse_csv(apd::render_csv(t.regions));
  CHECK(rows[0] == std::vector<std::string>{"file", "epoch", "kind", "id", "instances", "purity", "wrong", "radius_min",
                                            "radius_median", "radius_max", "boundary_min", "boundary_median",
                                            "boundary_max"});
  CHECK(rows[1] ==
        std::vector<std::string>{"h.json", "7", "flow", "f0", "4", "0.75", "1", "0.1", "0.25", "0.4", "1", "2.5", "4"});
  CHECK(rows[2] ==
        std::vector<std::string>{"h.json", "7", "flow", "f1", "2", "0.5", "1", "0.5", "0.55", "0.6", "5", "5.5", "6"});
  // Flow D (instance 7, before C: equal strength, smaller node) is unbounded: empty in CSV, "inf" in text.
  CHECK(rows[3] == std::vector<std::string>{"h.json", "7", "flow", "f2", "1", "1", "1", "", "", "", "8", "8", "8"});
  CHECK(rows[4] ==
        std::vector<std::string>{"h.json", "7", "flow", "f3", "1", "1", "0", "0.7", "0.7", "0.7", "7", "7", "7"});
  CHECK(apd::render_text(t.regions).find("inf") != std::string::npos);
  // Layer 1's node "00" holds instances 0-3 and 7: median radius 0.3.
  CHECK(rows[5] ==
        std::vector<std::string>{"h.json", "7", "node", "l1n0", "5", "0.6", "2", "0.1", "0.3", "", "1", "3", "8"});
  const auto c = parse_csv(apd::render_csv(t.region_correlations));
  REQUIRE(c.size() == 3);
  CHECK(c[1] == std::vector<std::string>{"h.json", "7", "region_radius", "boundary_distance", "1", "8"});
  CHECK(c[2][3] == "flow_strength (1+2)");
  CHECK(std::stod(c[2][4]) == Approx(-36.0 / std::sqrt(42.0 * 36.0)));
  CHECK_THROWS_WITH(apd::add_region_rows(t, "plain.json", apd::test::hand_made(), spec),
                    Catch::Matchers::Contains("plain.json: no region_radius or boundary_distance") &&
                        Catch::Matchers::Contains("--geometry"));
}
