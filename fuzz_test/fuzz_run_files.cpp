// The run directory's files: run.json (RunInfo, with its split), one line of
// metrics.jsonl, and summary.json as read back through the metrics reader;
// and the line splitter that streams metrics.jsonl, fed in chunks of the
// sizes the second byte picks and compared with a plain split of the whole
// text (the same lines, and an error exactly at the first line over the
// limit). The first byte picks the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/error.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"

namespace {

void check_line_splitter(std::string_view text, std::size_t chunk) {
  constexpr std::size_t kMaxLine = 16;
  std::vector<std::string> got;
  bool failed = false;
  apd::LineSplitter lines(
      kMaxLine, [&](std::string_view line, std::size_t) { got.emplace_back(line); }, "f");
  try {
    for (std::size_t at = 0; at < text.size(); at += chunk) lines.feed(text.substr(at, chunk));
    lines.finish();
  } catch (const apd::Error&) {
    failed = true;
  }
  std::vector<std::string> want;
  bool too_long = false;
  for (std::size_t at = 0; at < text.size() && !too_long;) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    too_long = end - at > kMaxLine;
    if (!too_long) want.emplace_back(text.substr(at, end - at));
    at = end + 1;
  }
  if (failed != too_long || got != want) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 3 == 2) {
      if (text.empty()) return 0;
      check_line_splitter(std::string_view(text).substr(1), 1 + static_cast<unsigned char>(text[0]) % 32);
    } else if (data[0] % 2 == 0) {
      const apd::RunInfo info = apd::run_info_from_json(apd::parse_json(text, "run.json"), "run.json");
      (void)info.train_indices();
    } else {
      (void)apd::parse_metrics(text, "metrics.jsonl");
    }
  } catch (const apd::Error&) {
  }
  return 0;
}
