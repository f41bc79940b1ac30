// apd-monitor's two files, read as `apd-monitor score` and `apd-report
// --monitor` read them: the first byte picks a monitor file (even) or a
// scores file (odd). A monitor that parses is then queried with its own
// patterns; scores that parse are summarised into the report's tables.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apd/core/error.hpp"
#include "apd/core/monitor.hpp"
#include "apd/io/monitor_file.hpp"
#include "apd/report/monitor_stats.hpp"

namespace {

void query_own_patterns(const apd::Monitor& m) {
  for (const apd::MonitorLayer& l : m.layers) {
    for (const apd::HammingIndex& set : l.classes) {
      if (set.size() == 0) continue;
      if (set.nearest(set.row(set.size() - 1)) != 0U) __builtin_trap();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      query_own_patterns(apd::parse_monitor_file(bytes, "monitor.json").monitor);
    } else {
      const apd::MonitorScores s = apd::parse_monitor_scores(bytes, "scores.json");
      (void)apd::monitor_flags_table(s);
      (void)apd::monitor_detection_table(s);
      (void)apd::monitor_instances_table(s);
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
