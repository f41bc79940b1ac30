// apd/1 JSON: the streaming parser and the structural validation, as
// apd-stats and apd-report read files; then the provenance the report shows.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "apd/core/error.hpp"
#include "apd/io/apd_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const apd::Diagram d = apd::parse_apd_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    (void)apd::provenance(d, "fuzz");
    (void)apd::to_apd_json(d);
  } catch (const apd::Error&) {
  }
  return 0;
}
