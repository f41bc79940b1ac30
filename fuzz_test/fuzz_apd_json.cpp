// apd/1 JSON: the streaming parser and the structural validation, as
// apd-stats, apd-report and apd-merge read files; then the provenance the
// report shows, the merge of the diagram with itself (apd-merge's sums) and
// apd-merge's checks of it as a shard.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apd/core/error.hpp"
#include "apd/core/merge.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/apd_merge.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const apd::Diagram d = apd::parse_apd_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)apd::provenance(d, "fuzz");
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
