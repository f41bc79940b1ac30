// The packed pattern store: A_l(x)[i] = 1 iff the ReLU output is > 0, any width.
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/core/pattern_store.hpp"

TEST_CASE("activations pack to bits that are 1 exactly when the value is > 0", "[pattern_store]") {
  apd::PatternStore store({5});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> values = {0.5f, 0.0f, -0.0f, -3.0f, 1e-30f,  //
                                     nan,  2.0f, 0.0f,  0.0f,  7.0f};
  store.append_activations(0, values, 2);
  REQUIRE(store.size() == 2);
  CHECK(store.pattern_string(0, 0) == "10001");
  CHECK(store.pattern_string(0, 1) == "01001");
}

TEST_CASE("patterns of widths 1, 40, 64, 65 and 300 round-trip through the store", "[pattern_store]") {
  for (const std::size_t width : {1U, 40U, 64U, 65U, 300U}) {
    CAPTURE(width);
    apd::PatternStore store({width});
    std::vector<float> values(3 * width);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = ((i * 2654435761U) % 7 < 3) ? 1.0f : 0.0f;
    store.append_activations(0, values, 3);
    REQUIRE(store.words(0) == (width + 63) / 64);
    for (std::size_t r = 0; r < 3; ++r) {
      std::string expected(width, '0');
      for (std::size_t i = 0; i < width; ++i) expected[i] = values[r * width + i] > 0 ? '1' : '0';
      CHECK(store.pattern_string(0, r) == expected);
      for (std::size_t i = 0; i < width; ++i) CHECK(store.bit(0, r, i) == (expected[i] == '1'));
    }
    apd::PatternStore copy({width});
    for (std::size_t r = 0; r < 3; ++r) copy.append_pattern(0, store.pattern_string(0, r));
    for (std::size_t r = 0; r < 3; ++r) CHECK(std::ranges::equal(copy.row(0, r), store.row(0, r)));
  }
}

TEST_CASE("memory is one bit per neuron rounded up to 64-bit words", "[pattern_store]") {
  apd::PatternStore store({40, 40, 40});
  store.reserve(1000);
  CHECK(store.memory_bytes() == 3 * 1000 * 8);
  apd::PatternStore wide({300});
  wide.reserve(1000);
  CHECK(wide.memory_bytes() == 5 * 1000 * 8);
}

TEST_CASE("unique pattern counts equal those of a std::set of the pattern strings", "[pattern_store]") {
  for (const std::size_t width : {1U, 40U, 64U, 65U, 300U}) {
    CAPTURE(width);
    apd::PatternStore store({width, 3});
    std::set<std::string> seen0, seen1;
    std::uint64_t state = 12345;
    for (int i = 0; i < 2000; ++i) {
      std::string p(width, '0');
      for (std::size_t b = 0; b < width; ++b) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        // Only the first 6 neurons vary, so patterns repeat at every width.
        p[b] = (b < 6 && ((state >> 40) & 1U)) ? '1' : '0';
      }
      std::string q = std::to_string(i % 5 == 0) + "0" + std::to_string(i % 3 == 0);
      store.append_pattern(0, p);
      store.append_pattern(1, q);
      seen0.insert(p);
      seen1.insert(q);
    }
    const auto counts = apd::unique_pattern_counts(store);
    CHECK(counts == std::vector<std::size_t>{seen0.size(), seen1.size()});
    const auto g = apd::group_patterns(store, 0);
    std::uint64_t total = 0;
    for (const auto c : g.count) total += c;
    CHECK(total == 2000);
    for (std::size_t i = 0; i < 2000; ++i) {
      CHECK(store.pattern_string(0, i) == store.pattern_string(0, g.first[g.id[i]]));
    }
  }
}

TEST_CASE("pattern order compares like the '0'/'1' strings", "[pattern_store]") {
  apd::PatternStore store({70});
  const std::vector<std::string> texts = {std::string(70, '0'), "1" + std::string(69, '0'), std::string(69, '0') + "1",
                                          "01" + std::string(68, '1'), std::string(64, '0') + "100000"};
  for (const auto& t : texts) store.append_pattern(0, t);
  for (std::size_t a = 0; a < texts.size(); ++a) {
    for (std::size_t b = 0; b < texts.size(); ++b) {
      const int want = texts[a] < texts[b] ? -1 : (texts[a] > texts[b] ? 1 : 0);
      CHECK(apd::compare_patterns(store.row(0, a), store.row(0, b)) == want);
    }
  }
}

TEST_CASE("malformed patterns and incomplete stores are refused", "[pattern_store]") {
  apd::PatternStore store({4, 2});
  CHECK_THROWS_WITH(store.append_pattern(0, "101"), "layer 1: pattern of 3 bits, the layer has 4 neurons");
  CHECK_THROWS_WITH(store.append_pattern(0, "10x1"), "layer 1: pattern has 'x' at position 3 (only '0' and '1')");
  store.append_pattern(0, "1011");
  CHECK_THROWS_WITH(store.size(), "pattern store is incomplete: layer 1 holds 1 instances, layer 2 holds 0");
  CHECK_THROWS_AS(apd::PatternStore({3, 0}), apd::UsageError);
}

TEST_CASE("0/1 flags pack exactly as the activations they were taken from", "[pattern_store]") {
  std::mt19937 rng(5);
  for (const std::size_t width : {1U, 7U, 8U, 9U, 63U, 64U, 65U, 3456U}) {
    CAPTURE(width);
    const std::size_t rows = 17;
    std::vector<float> values(rows * width);
    std::vector<std::uint8_t> flags(values.size());
    for (std::size_t k = 0; k < values.size(); ++k) {
      values[k] = static_cast<float>(static_cast<int>(rng() % 5)) - 2.0f;
      flags[k] = values[k] > 0 ? 1 : 0;
    }
    apd::PatternStore from_values({width}), from_flags({width});
    from_values.append_activations(0, values, rows);
    from_flags.append_flags(0, flags, rows);
    for (std::size_t r = 0; r < rows; ++r) {
      REQUIRE(from_flags.pattern_string(0, r) == from_values.pattern_string(0, r));
      std::string hex(apd::pattern_hex_digits(width), '?');
      apd::write_pattern_hex(from_flags.row(0, r), width, hex.data());
      std::string expected;  // the '0'/'1' text, padded to whole bytes, 4 bits a digit
      std::string bits = from_values.pattern_string(0, r);
      bits.resize(8 * ((width + 7) / 8), '0');
      for (std::size_t d = 0; d < bits.size(); d += 4)
        expected += "0123456789abcdef"[std::stoi(bits.substr(d, 4), nullptr, 2)];
      REQUIRE(hex == expected);
    }
  }
}
