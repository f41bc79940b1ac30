// Instance selection (core/selection.hpp) against naive oracles: labels,
// limits, seeded samples, and shards that together are the one-process run.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <set>

#include "apd/core/error.hpp"
#include "apd/core/selection.hpp"
#include "apd/core/utf8.hpp"

using Catch::Matchers::Contains;

namespace {

std::vector<std::int64_t> iota_vector(std::size_t n) {
  std::vector<std::int64_t> v(n);
  std::iota(v.begin(), v.end(), std::int64_t{0});
  return v;
}

}  // namespace

TEST_CASE("labels keep exactly the instances of those labels, in index order", "[selection]") {
  const std::vector<std::int64_t> labels{3, 1, 4, 1, 5, 9, 2, 6, 5, 3};
  apd::Selection s;
  s.labels = {1, 5};
  nlohmann::json record = apd::selection_record(s, "train");
  const auto kept = apd::select_instances(s, {0, 1, 2, 3, 4, 5, 7, 8}, labels, "train", record);
  CHECK(kept == std::vector<std::int64_t>{1, 3, 4, 8});
  CHECK(record["available"] == 4);
  CHECK(record["labels"] == nlohmann::json({1, 5}));
  s.labels = {7};
  CHECK_THROWS_WITH(apd::select_instances(s, iota_vector(10), labels, "test", record),
                    Contains("--labels: label 7 does not occur in the test split (labels present: 1,2,3,4,5,6,9)"));
}

TEST_CASE("a limit keeps the first instances, or the same seeded sample every time", "[selection]") {
  const std::vector<std::int64_t> labels(1000, 0);
  apd::Selection s;
  s.limit = 10;
  nlohmann::json record;
  CHECK(apd::select_instances(s, iota_vector(1000), labels, "train", record) == iota_vector(10));
  s.pick = apd::Pick::random;
  s.seed = 7;
  const auto a = apd::select_instances(s, iota_vector(1000), labels, "train", record);
  const auto b = apd::select_instances(s, iota_vector(1000), labels, "train", record);
  CHECK(a == b);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::set<std::int64_t>(a.begin(), a.end()).size() == 10);
  CHECK(a != iota_vector(10));
  s.seed = 8;
  CHECK(apd::select_instances(s, iota_vector(1000), labels, "train", record) != a);
  s.limit = 5000;  // more than there are: all of them
  CHECK(apd::select_instances(s, iota_vector(1000), labels, "train", record) == iota_vector(1000));
}

TEST_CASE("shards are contiguous slices that cover the selection once, inside whole batches", "[selection]") {
  for (const std::size_t total : {1UL, 7UL, 100UL, 1001UL}) {
    for (const std::size_t n : {1UL, 3UL, 7UL}) {
      if (n > total) continue;
      for (const std::size_t batch : {1UL, 10UL, 256UL}) {
        std::vector<std::int64_t> all;
        for (std::size_t i = 0; i < n; ++i) {
          apd::Selection s;
          s.shard = apd::Shard{i, n};
          nlohmann::json record;
          const auto selected = iota_vector(total);
          const apd::ShardWindow w = apd::shard_window(s, selected, batch, record);
          const auto own = w.own();
          all.insert(all.end(), own.begin(), own.end());
          CHECK(record["shard"]["begin"] == i * total / n);
          CHECK(record["shard"]["end"] == (i + 1) * total / n);
          // The forwarded rows are whole one-process batches around the slice.
          REQUIRE(!w.forward.empty());
          CHECK(static_cast<std::size_t>(w.forward.front()) % batch == 0);
          const auto end = static_cast<std::size_t>(w.forward.back()) + 1;
          CHECK((end % batch == 0 || end == total));
        }
        CHECK(all == iota_vector(total));
      }
    }
  }
  apd::Selection s;
  s.shard = apd::Shard{0, 5};
  nlohmann::json record;
  CHECK_THROWS_AS(apd::shard_window(s, iota_vector(3), 10, record), apd::UsageError);
}

TEST_CASE("kept rows of a batch are the part of it inside the window", "[selection]") {
  using Rows = std::pair<std::size_t, std::size_t>;
  const apd::KeptRows kept{5, 12};
  CHECK(kept.in_batch(0, 4) == Rows{4, 4});
  CHECK(kept.in_batch(4, 4) == Rows{1, 4});
  CHECK(kept.in_batch(8, 8) == Rows{0, 4});
  CHECK(kept.in_batch(12, 8) == Rows{0, 0});
}

TEST_CASE("UTF-8 validity is RFC 3629's", "[utf8]") {
  CHECK(apd::is_valid_utf8(""));
  CHECK(apd::is_valid_utf8("Activation Pattern Diagrams"));
  CHECK(apd::is_valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // été € 😀
  CHECK_FALSE(apd::is_valid_utf8("\xff"));
  CHECK_FALSE(apd::is_valid_utf8("\xc3"));              // truncated
  CHECK_FALSE(apd::is_valid_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(apd::is_valid_utf8("\xe0\x80\xaf"));      // overlong
  CHECK_FALSE(apd::is_valid_utf8("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(apd::is_valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  CHECK_FALSE(apd::is_valid_utf8("a\x80z"));            // a stray continuation byte
  // Every byte string of length <= 2 against nlohmann::json, which checks as it writes.
  for (int a = 0; a < 256; ++a) {
    for (int b = -1; b < 256; ++b) {
      std::string text(1, static_cast<char>(a));
      if (b >= 0) text.push_back(static_cast<char>(b));
      bool json_ok = true;
      try {
        (void)nlohmann::json(text).dump();
      } catch (const nlohmann::json::exception&) {
        json_ok = false;
      }
      REQUIRE(apd::is_valid_utf8(text) == json_ok);
    }
  }
}
