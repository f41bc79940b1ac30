// The run directory's files: run.json (RunInfo, with its split), one line of
// metrics.jsonl, and summary.json as read back through the metrics reader.
// The first byte picks the file.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "apd/core/error.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      const apd::RunInfo info = apd::run_info_from_json(apd::parse_json(text, "run.json"), "run.json");
      (void)info.train_indices();
    } else {
      (void)apd::parse_metrics(text, "metrics.jsonl");
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
