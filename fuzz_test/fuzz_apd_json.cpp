// apd/1 JSON: the streaming parser and the structural validation, as
// apd-stats, apd-report and apd-merge read files; then the provenance the
// report shows, the merge of the diagram with itself (apd-merge's sums) and
// apd-merge's checks of it as a shard; and the views it records (graph.views,
// as apd-extract --view-from reads them), each applied to a full pattern;
// and the graph-only read that orders a series (apd-stats FILES --table
// epochs), which must succeed on every file the full read accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "apd/core/error.hpp"
#include "apd/core/merge.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/apd_merge.hpp"
#include "apd/io/view_choice.hpp"

namespace {

// Every recorded view applied to an all-ones full pattern of its width.
void apply_recorded_views(const apd::Diagram& d) {
  try {
    for (const apd::LayerView& v : apd::recorded_views(d, "fuzz").views) {
      std::vector<std::uint64_t> full((v.full_width + 63) / 64, ~std::uint64_t{0});
      if (v.full_width % 64 != 0) full.back() = (std::uint64_t{1} << (v.full_width % 64)) - 1;
      std::vector<std::uint64_t> out((v.width + 63) / 64, 0);
      apd::apply_view(v, full, out);
    }
  } catch (const apd::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  bool graph_read = false;
  try {
    (void)apd::parse_apd_graph(text, "fuzz");
    graph_read = true;
  } catch (const apd::Error&) {
  }
  try {
    const apd::Diagram d = apd::parse_apd_json(text, "fuzz");
    if (!graph_read) std::abort();  // the full read accepted what the graph-only read refused
    (void)apd::provenance(d, "fuzz");
    apply_recorded_views(d);
    (void)apd::to_apd_json(d);
    apd::DiagramMerger merger;
    merger.add(d, 0);
    merger.add(d, d.instances);
    (void)merger.finish(d.graph);
    apd::ShardMerge shards;  // apd-merge's checks of the shard record and metadata
    shards.add(d, "fuzz");
    (void)shards.finish();
  } catch (const apd::Error&) {
  }
  return 0;
}
