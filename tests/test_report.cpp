// apd-report's data: the Sankey view's merging of small patterns, and the
// page's structure (the browser test checks the rendering).
#include <catch2/catch.hpp>

#include "hand_made.hpp"

#include "apd/core/error.hpp"
#include "apd/report/report.hpp"

TEST_CASE("the Sankey view shows every node when a column fits", "[report]") {
  const auto d = apd::test::hand_made({{"epoch", 3}});
  const auto v = apd::sankey_view(d, 500);
  CHECK(v.nodes.size() == d.nodes.size());
  CHECK(v.links.size() == d.links.size());
  CHECK(v.nodes.back().label.rfind("label ", 0) == 0);
  CHECK_THAT(v.nodes[0].hover, Catch::Contains("00"));
}

TEST_CASE("the Sankey view merges the smallest patterns of a column into one other node", "[report]") {
  const auto d = apd::test::hand_made({{"epoch", 3}});
  const auto v = apd::sankey_view(d, 2);
  // Layer 1 keeps "00" (5) and merges "01" (2 instances, 1 wrong) and "11" (1, right);
  // layer 2 fits; the 5 predicted labels become "label 1" + other (4 labels).
  std::vector<std::size_t> per_column(4, 0);
  for (const auto& n : v.nodes) ++per_column[n.column];
  CHECK(per_column == std::vector<std::size_t>{0, 2, 2, 2});
  CHECK(v.nodes[1].label == "other (2 patterns)");
  CHECK(v.nodes[1].count == 3);
  CHECK(v.nodes[1].errors == 1);
  // Links re-aggregate: each column pair still carries all 8 instances and all errors.
  std::uint64_t first = 0, first_err = 0;
  for (const auto& l : v.links) {
    if (v.nodes[l.source].column == 1) {
      first += l.count;
      first_err += l.errors;
    }
  }
  CHECK(first == 8);
  CHECK(first_err == d.errors);
  CHECK_THROWS_AS(apd::sankey_view(d, 1), apd::Error);
}

TEST_CASE("the page embeds the library and the data, and escapes what it shows", "[report]") {
  nlohmann::json data = {{"title", "A <b>title</b>"},
                         {"tool", {{"name", "apd-report"}, {"version", "0"}, {"git_sha", "x"}}},
                         {"apds", nlohmann::json::array()},
                         {"zmax", {{"all", 1}, {"wrong", 1}}},
                         {"max_nodes", 500},
                         {"max_links", 4000},
                         {"warnings", {"file </script> from elsewhere"}}};
  const auto html = apd::render_report(data, {"/* plotly */", apd::embedded_assets().script,
                                              apd::embedded_assets().gallery, apd::embedded_assets().style});
  CHECK_THAT(html, Catch::Contains("<title>A &lt;b&gt;title&lt;/b&gt;</title>"));
  CHECK_THAT(html, Catch::Contains("<script>\n/* plotly */\n</script>"));
  CHECK_THAT(html, Catch::Contains("Warning: file &lt;/script&gt; from elsewhere"));
  // The inline JSON cannot close its script element early.
  const auto data_at = html.find("id=\"apd-data\">");
  REQUIRE(data_at != std::string::npos);
  const auto data_end = html.find("</script>", data_at);
  CHECK(html.substr(data_at, data_end - data_at).find("</") == std::string::npos);
}

TEST_CASE("no string in the data can blank the page: '<' is \\u003c in the inline JSON", "[report]") {
  // "<!--<script>" would put the HTML parser in the script-data escaped
  // states, where the page's own closing tag no longer ends the data.
  const std::string payload = "x<!--<script>y</script><SCRIPT></Script >-->";
  nlohmann::json data = {{"title", payload},
                         {"tool", {{"name", payload}, {"version", "0"}, {"git_sha", "x"}}},
                         {"apds", nlohmann::json::array({{{"file", payload}}})},
                         {"zmax", {{"all", 1}, {"wrong", 1}}},
                         {"max_nodes", 500},
                         {"max_links", 4000},
                         {"warnings", {payload}}};
  const auto html = apd::render_report(data, {"/* plotly */", apd::embedded_assets().script,
                                              apd::embedded_assets().gallery, apd::embedded_assets().style});
  const auto data_at = html.find("id=\"apd-data\">") + 14;
  const auto data_end = html.find("</script>", data_at);
  const std::string inline_json = html.substr(data_at, data_end - data_at);
  CHECK(inline_json.find('<') == std::string::npos);
  CHECK(nlohmann::json::parse(inline_json) == data);  // what JSON.parse reads back
}

TEST_CASE("the library embeds Plotly.js, the drawing script and the style sheet", "[report]") {
  const apd::ReportAssets assets = apd::embedded_assets();
  CHECK(assets.plotly_js.size() > 1'000'000);
  CHECK_THAT(std::string(assets.plotly_js.substr(0, 200)), Catch::Contains("plotly.js"));
  CHECK_THAT(std::string(assets.script), Catch::Contains("Plotly.newPlot"));
  CHECK_THAT(std::string(assets.style), Catch::Contains("font-family"));
  const auto html =
      apd::render_report({{"title", "t"}, {"tool", nlohmann::json::object()}, {"apds", nlohmann::json::array()}});
  CHECK_THAT(html, Catch::Contains(std::string(assets.script.substr(0, 400))));
}

TEST_CASE("gallery_json puts each instance in the Sankey nodes that count it", "[report][gallery]") {
  const auto made = apd::test::hand_made({{"epoch", 3}});
  // A file whose layer-1 ranks do not follow descending count (ids are ranks): drawn by count all the same.
  auto reordered = made;
  for (auto& n : reordered.nodes) {
    if (n.layer == 1) n.rank = 2 - n.rank;
  }
  for (const auto& [dd, max_nodes] : {std::pair{&made, 2}, {&made, 500}, {&reordered, 2}, {&reordered, 500}}) {
    const auto& d = *dd;
    const auto v = apd::sankey_view(d, max_nodes);
    const auto g = apd::gallery_json(d, max_nodes);
    const std::size_t L = d.layers();
    REQUIRE(g["index"].size() == d.instances);
    // Recount every drawn node from the instances' ranks, as the page maps them.
    std::vector<std::uint64_t> count(v.nodes.size(), 0), errors(v.nodes.size(), 0);
    for (std::size_t i = 0; i < d.instances; ++i) {
      for (std::size_t c = 1; c <= L + 1; ++c) {
        std::size_t rank = 0;
        if (c <= L) {
          rank = g["ranks"][c - 1][i].get<std::size_t>();
        } else {
          const auto& labels = g["label_nodes"];
          rank = static_cast<std::size_t>(std::find(labels.begin(), labels.end(), g["predicted"][i]) - labels.begin());
        }
        std::size_t position = rank;
        if (!g["order"][c].is_null()) {
          const auto& order = g["order"][c];
          position = static_cast<std::size_t>(std::find(order.begin(), order.end(), rank) - order.begin());
        }
        const std::size_t node = g["first"][c].get<std::size_t>() + std::min(position, g["kept"][c].get<std::size_t>());
        REQUIRE(node < v.nodes.size());
        CHECK(v.nodes[node].column == c);
        ++count[node];
        errors[node] += g["label"][i] != g["predicted"][i] ? 1 : 0;
      }
    }
    for (std::size_t k = 0; k < v.nodes.size(); ++k) {
      CHECK(count[k] == v.nodes[k].count);
      CHECK(errors[k] == v.nodes[k].errors);
    }
  }
  CHECK(apd::gallery_json(reordered, 500)["order"][1] == nlohmann::json({2, 1, 0}));
  CHECK(apd::gallery_json(made, 500)["order"][1].is_null());
  // The hand-made flows over layers 1 and 2 (hand_made.hpp) by strength, ties by node rank: A, B, D, C.
  const auto f = apd::gallery_json(made, 500)["flows"];
  CHECK(f["layers"] == nlohmann::json({1, 2}));
  CHECK(f["strength"] == nlohmann::json({4, 2, 1, 1}));
  CHECK(f["errors"] == nlohmann::json({1, 1, 1, 0}));
  CHECK(f["majority_count"] == nlohmann::json({3, 1, 1, 1}));
}

TEST_CASE("a link budget caps the nodes per column at the most that fit", "[report]") {
  const auto d = apd::test::hand_made();
  // hand_made draws 10 links at full size; fewer label nodes merge them (see the comments below).
  CHECK(apd::sankey_view(d, 500).links.size() == 10);
  CHECK(apd::sankey_node_cap(d, 500, 0) == 500);   // no limit
  CHECK(apd::sankey_node_cap(d, 500, 10) == 500);  // fits
  CHECK(apd::sankey_node_cap(d, 500, 9) == 5);     // labels 1, 2, 3, 4 + other: 4 + 5 links
  CHECK(apd::sankey_node_cap(d, 500, 7) == 3);     // labels 1, 2 + other: 4 + 3 links
  CHECK(apd::sankey_node_cap(d, 500, 1) == 2);     // never under 2 nodes, even over the budget
  for (std::size_t budget = 1; budget <= 10; ++budget) {
    const std::size_t cap = apd::sankey_node_cap(d, 500, budget);
    const std::size_t drawn = apd::sankey_view(d, cap).links.size();
    CHECK((drawn <= budget || cap == 2));
    if (cap < 500) CHECK(apd::sankey_view(d, cap + 1).links.size() > budget);  // the most that fit
  }
}
