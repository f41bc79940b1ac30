// Merging the APDs of slices of a selection gives build_diagram's APD of the
// whole selection, exactly (every field of the Diagram), in any order.
#include <catch2/catch.hpp>

#include "apd/core/error.hpp"
#include "apd/core/merge.hpp"
#include "naive_apd.hpp"

namespace {

// The APD of instances [begin, end) of `r`.
apd::Diagram slice(const apd::test::RandomInstances& r, const std::vector<std::size_t>& widths, std::size_t begin,
                   std::size_t end) {
  const auto cut = [&](const auto& v) {
    return std::vector(v.begin() + static_cast<std::ptrdiff_t>(begin), v.begin() + static_cast<std::ptrdiff_t>(end));
  };
  const auto patterns = cut(r.patterns);
  return apd::build_diagram(apd::test::store_of(patterns, widths), cut(r.labels32), cut(r.predicted32), cut(r.indices),
                            {{"model", "m"}});
}

}  // namespace

TEST_CASE("merged slices equal the APD of the whole selection, for any widths, slicing and order", "[merge]") {
  for (const std::size_t width : {1U, 40U, 65U, 300U}) {
    CAPTURE(width);
    const std::vector<std::size_t> widths = {width, width, 3};
    const auto r = apd::test::random_instances(1200, widths, 10, static_cast<std::uint32_t>(width) + 7);
    const auto whole = slice(r, widths, 0, r.indices.size());
    for (const std::size_t n : {1U, 2U, 7U}) {
      CAPTURE(n);
      apd::DiagramMerger merger;
      // A right, a low or no announcement of the whole count: room for the
      // records changes nothing merged.
      if (n == 2) merger.reserve(r.indices.size());
      if (n == 7) merger.reserve(r.indices.size() / 3);
      // Backwards: the order of the parts does not matter.
      for (std::size_t k = n; k-- > 0;) {
        const std::size_t begin = k * r.indices.size() / n, end = (k + 1) * r.indices.size() / n;
        merger.add(slice(r, widths, begin, end), begin);
      }
      const apd::Diagram merged = merger.finish({{"model", "m"}});
      CHECK(merged == whole);
    }
  }
}

TEST_CASE("merging parts without instance records sums the diagram alone", "[merge]") {
  const std::vector<std::size_t> widths = {5, 4};
  const auto r = apd::test::random_instances(300, widths, 4, 11);
  auto whole = slice(r, widths, 0, 300);
  apd::DiagramMerger merger;
  for (const auto& [begin, end] : {std::pair{0, 100}, std::pair{100, 100}, std::pair{100, 300}}) {
    auto part = slice(r, widths, static_cast<std::size_t>(begin), static_cast<std::size_t>(end));
    part.has_instances = false;
    part.index.clear();
    part.label.clear();
    part.predicted.clear();
    part.path.clear();
    merger.add(part, static_cast<std::uint64_t>(begin));
  }
  const apd::Diagram merged = merger.finish({{"model", "m"}});
  CHECK_FALSE(merged.has_instances);
  CHECK(merged.nodes == whole.nodes);
  CHECK(merged.links == whole.links);
  CHECK(merged.histograms == whole.histograms);
  CHECK(merged.pattern_words == whole.pattern_words);
  CHECK(merged.graph == whole.graph);
}

TEST_CASE("parts of other widths, or with and without records, are refused", "[merge]") {
  const auto a = apd::test::random_instances(20, {5, 4}, 3, 1);
  const auto b = apd::test::random_instances(20, {5, 5}, 3, 2);
  apd::DiagramMerger merger;
  merger.add(slice(a, {5, 4}, 0, 10), 0);
  CHECK_THROWS_WITH(merger.add(slice(b, {5, 5}, 0, 10), 10), Catch::Contains("layer widths 5,5 differ"));
  auto lean = slice(a, {5, 4}, 10, 20);
  lean.has_instances = false;
  CHECK_THROWS_WITH(merger.add(lean, 10), Catch::Contains("some parts have instance records and some do not"));
  apd::DiagramMerger gap;
  gap.add(slice(a, {5, 4}, 10, 20), 10);  // positions 0..9 never filled
  CHECK_THROWS_WITH(gap.finish({}), Catch::Contains("cover 20 positions for 10 instances"));
  apd::DiagramMerger empty;
  CHECK_THROWS_AS(empty.finish({}), apd::Error);
}
