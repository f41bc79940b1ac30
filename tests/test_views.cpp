// Pattern views (core/views.hpp) against naive per-bit oracles: pool windows
// at the edges, channel shares, top:K with ties, kept neurons; the --view
// text and the file record read back; inconsistent records refused.
#include <catch2/catch.hpp>

#include <random>

#include "apd/core/error.hpp"
#include "apd/core/views.hpp"

using Catch::Matchers::Contains;

namespace {

// A store of one layer of `width` bits holding `rows` random patterns.
apd::PatternStore random_store(std::size_t width, std::size_t rows, unsigned seed, double p = 0.3) {
  apd::PatternStore store({width});
  std::mt19937 rng(seed);
  std::bernoulli_distribution bit(p);
  for (std::size_t i = 0; i < rows; ++i) {
    std::string text(width, '0');
    for (auto& c : text) c = bit(rng) ? '1' : '0';
    store.append_pattern(0, text);
  }
  return store;
}

// The view of instance i computed bit by bit from its definition.
std::string naive_view(const apd::LayerView& v, const apd::PatternStore& s, std::size_t i) {
  std::string out;
  if (v.spec.kind == apd::ViewKind::pool) {
    const auto c = static_cast<std::size_t>(v.shape[0]), h = static_cast<std::size_t>(v.shape[1]),
               w = static_cast<std::size_t>(v.shape[2]), k = v.spec.k;
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t r = 0; r < h; r += k)
        for (std::size_t q = 0; q < w; q += k) {
          bool any = false;
          for (std::size_t y = r; y < std::min(h, r + k); ++y)
            for (std::size_t x = q; x < std::min(w, q + k); ++x) any = any || s.bit(0, i, ch * h * w + y * w + x);
          out += any ? '1' : '0';
        }
  } else if (v.spec.kind == apd::ViewKind::channel) {
    const auto hw = static_cast<std::size_t>(v.shape[1] * v.shape[2]);
    for (std::size_t ch = 0; ch < static_cast<std::size_t>(v.shape[0]); ++ch) {
      std::size_t on = 0;
      for (std::size_t b = 0; b < hw; ++b) on += s.bit(0, i, ch * hw + b) ? 1 : 0;
      out += static_cast<double>(on) / static_cast<double>(hw) > v.spec.share ? '1' : '0';
    }
  } else {
    for (const std::size_t n : v.neurons) out += s.bit(0, i, n) ? '1' : '0';
  }
  return out;
}

void check_against_naive(const char* text, std::vector<std::int64_t> shape, unsigned seed) {
  INFO(text);
  std::size_t width = 1;
  for (const auto d : shape) width *= static_cast<std::size_t>(d);
  const apd::PatternStore store = random_store(width, 50, seed);
  std::vector<apd::LayerView> views{apd::resolve_view(apd::parse_view(text), shape)};
  if (views[0].spec.kind == apd::ViewKind::top) apd::choose_top(views[0], store, 0);
  const apd::PatternStore seen = apd::apply_views(store, views);
  REQUIRE(seen.width(0) == views[0].width);
  for (std::size_t i = 0; i < store.size(); ++i) CHECK(seen.pattern_string(0, i) == naive_view(views[0], store, i));
}

}  // namespace

TEST_CASE("views equal their definition bit by bit, edge windows included", "[views]") {
  check_against_naive("1=pool:5", {3, 12, 7}, 1);  // 12 = 2 x 5 + 2, 7 = 5 + 2
  check_against_naive("1=pool:1", {2, 3, 3}, 2);
  check_against_naive("1=pool:9", {2, 9, 4}, 3);
  check_against_naive("1=pool:3", {2, 5, 64}, 8);  // rows of exactly one word
  check_against_naive("1=pool:4", {2, 6, 70}, 9);  // rows wider than a word: bit by bit
  check_against_naive("1=pool:64", {1, 3, 64}, 10);
  check_against_naive("1=pool:7", {3, 9, 23}, 11);  // rows straddling words
  check_against_naive("1=channel", {4, 5, 5}, 4);
  check_against_naive("1=channel:0.5", {3, 9, 23}, 12);
  check_against_naive("1=channel:0.02", {2, 1, 200}, 13);
  check_against_naive("1=channel:0.3", {5, 10, 10}, 5);
  check_against_naive("1=neurons:0,7,99", {100}, 6);
  check_against_naive("1=top:10", {130}, 7);
}

TEST_CASE("top:K takes the neurons active closest to half the time, lower index on ties", "[views]") {
  // 4 instances, 6 neurons active 0, 2, 1, 3, 2, 4 times: distances |2a - 4| = 4, 0, 2, 2, 0, 4.
  apd::PatternStore store({6});
  for (const char* row : {"011101", "010111", "000111", "000001"}) store.append_pattern(0, row);
  for (const auto& [k, expected] : std::vector<std::pair<std::size_t, std::vector<std::size_t>>>{
           {1, {1}}, {2, {1, 4}}, {3, {1, 2, 4}}, {4, {1, 2, 3, 4}}, {5, {0, 1, 2, 3, 4}}}) {
    apd::ViewSpec spec;
    spec.layer = 1;
    spec.kind = apd::ViewKind::top;
    spec.k = k;
    apd::LayerView v = apd::resolve_view(spec, std::vector<std::int64_t>{6});
    apd::choose_top(v, store, 0);
    CHECK(v.neurons == expected);
  }
}

TEST_CASE("View texts (--view) read back and name what is wrong", "[views]") {
  for (const char* text : {"3=full", "1=pool:4", "2=channel", "2=channel:0.25", "4=top:8", "4=neurons:1,5,9"}) {
    CHECK(apd::parse_view(text).text() == text);
  }
  CHECK(apd::parse_view("4=neurons:9,1,5").text() == "4=neurons:1,5,9");
  const auto refused = [](const char* text) {
    try {
      (void)apd::parse_view(text);
    } catch (const apd::UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(refused("3"), Contains("expected L=KIND[:ARG]"));
  CHECK_THAT(refused("x=full"), Contains("'x' is not a ReLU layer"));
  CHECK_THAT(refused("3=full:2"), Contains("full takes no argument"));
  CHECK_THAT(refused("3=top"), Contains("top needs :K"));
  CHECK_THAT(refused("3=top:-1"), Contains("a whole number >= 1"));
  CHECK_THAT(refused("3=pool:1.5"), Contains("a whole number >= 1"));
  CHECK_THAT(refused("3=channel:nan"), Contains("a share in [0, 1)"));
  CHECK_THAT(refused("3=channel:-0.1"), Contains("a share in [0, 1)"));
  CHECK_THAT(refused("3=neurons:"), Contains("needs :I,J"));
  CHECK_THAT(refused("3=neurons:1,,2"), Contains("'' is not a neuron index"));
  CHECK_THAT(refused("3=neurons:2,2"), Contains("neuron 2 is given twice"));
  CHECK_THAT(refused("3=sum"), Contains("'sum' is not a view"));
}

TEST_CASE("view records read back; inconsistent ones are refused", "[views]") {
  const apd::PatternStore store = random_store(40, 30, 9);
  apd::LayerView top = apd::resolve_view(apd::parse_view("2=top:5"), std::vector<std::int64_t>{40});
  apd::choose_top(top, store, 0);
  top.from = "a.json";
  const apd::LayerView back = apd::view_from_record(apd::view_record(top), "f");
  CHECK(back.spec == top.spec);
  CHECK(back.neurons == top.neurons);
  CHECK(back.width == 5);
  CHECK(back.from == top.from);
  const apd::LayerView pool = apd::resolve_view(apd::parse_view("1=pool:3"), std::vector<std::int64_t>{2, 7, 7});
  CHECK(apd::view_from_record(apd::view_record(pool), "f").width == 2 * 3 * 3);

  const auto refused = [](nlohmann::json r) {
    try {
      (void)apd::view_from_record(r, "f.json: graph.views[0]");
    } catch (const apd::Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const nlohmann::json good = apd::view_record(top);
  CHECK(refused(good) == "accepted");
  // pool:0 in a record (fuzz_monitor found it dividing by zero when the view was resolved).
  auto zero = apd::view_record(pool);
  zero["arg"] = 0;
  CHECK(refused(zero) == "f.json: graph.views[0].arg: expected K >= 1");
  auto r = good;
  r["width"] = 6;
  CHECK_THAT(refused(r), Contains("f.json: graph.views[0].width: differs"));
  r = good;
  r["neurons"] = {3, 1, 2, 4, 5};
  CHECK_THAT(refused(r), Contains("ascending"));
  r = good;
  r["neurons"] = {1, 2, 3, 4, 40};
  CHECK_THAT(refused(r), Contains("graph.views[0].neurons"));
  r = good;
  r["shape"] = {0, 40};
  CHECK_THAT(refused(r), Contains("not a layer's shape"));
  r = good;
  r["kind"] = "pool";
  CHECK_THAT(refused(r), Contains("is not C x H x W"));
  r = good;
  r["arg"] = -1;
  CHECK_THAT(refused(r), Contains("graph.views[0].arg"));
  r = good;
  r.erase("shape");
  CHECK_THAT(refused(r), Contains("missing field \"shape\""));
  CHECK_THAT(refused(nlohmann::json::array()), Contains("expected an object"));
}
