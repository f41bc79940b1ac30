// The apd/1 file format: networkx node-link data, so that Python users can
// call networkx.node_link_graph(json.load(f)) directly. Documented with an
// example in docs/apd-json.md. Writing streams (fast at 10^6 instances);
// reading validates schema and structure, naming the offending field.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "apd/core/diagram.hpp"
#include "apd/core/names.hpp"
#include "apd/io/output.hpp"

namespace apd {

// How pattern nodes are written: '0'/'1' strings ("pattern"), or hex of the
// packed bits ("pattern_hex", a quarter of the size); auto uses hex for
// layers wider than kHexPatternWidth neurons (a conv layer's thousands).
enum class PatternEncoding { automatic, binary, hex };
inline constexpr NameTable<PatternEncoding, 3> kPatternEncodingNames{
    {{"auto", PatternEncoding::automatic}, {"binary", PatternEncoding::binary}, {"hex", PatternEncoding::hex}}};
inline constexpr std::size_t kHexPatternWidth = 256;

struct WriteOptions {
  bool instances = true;  // write per-instance records (needed for flows)
  PatternEncoding patterns = PatternEncoding::automatic;
};

void write_apd_json(const Diagram& d, const Sink& sink, const WriteOptions& options = {});
[[nodiscard]] std::string to_apd_json(const Diagram& d, const WriteOptions& options = {});

// Parses and validates an apd/1 document; `name` (usually the path) prefixes
// every error message. Throws apd::Error.
[[nodiscard]] Diagram parse_apd_json(std::string_view text, const std::string& name);
[[nodiscard]] Diagram read_apd_file(const std::filesystem::path& path);
// The graph metadata of an APD file alone, read up to it (apd writes it
// before the nodes): to order or check files before reading them whole.
[[nodiscard]] nlohmann::json read_apd_graph(const std::filesystem::path& path);
[[nodiscard]] nlohmann::json parse_apd_graph(std::string_view text, const std::string& name);

// Where an APD came from, as apd-extract records it in the graph metadata,
// typed for the tools that show it. Every field is optional in a file; one of
// the wrong type is an error naming the file and the key.
struct ApdProvenance {
  std::optional<std::string> run;     // graph.run: the run directory (absent or null: a bare checkpoint)
  std::optional<std::int64_t> epoch;  // graph.epoch
  std::string architecture;           // graph.model.architecture, "" if absent
  nlohmann::json selection;           // graph.selection: an object, or null
};
[[nodiscard]] ApdProvenance provenance(const Diagram& d, const std::string& file);

enum class OutputFormat { json, graphml };
inline constexpr NameTable<OutputFormat, 2> kOutputFormatNames{
    {{"json", OutputFormat::json}, {"graphml", OutputFormat::graphml}}};

// Writes `d` to `path` atomically (temp file + rename), or to stdout for "-".
void save_diagram(const Diagram& d, const std::filesystem::path& path, OutputFormat format,
                  const WriteOptions& options = {});

// Where and how a tool writes its APDs (--out, --format, --no-instances,
// --pattern-encoding).
struct OutputChoice {
  std::string out;  // FILE, "-" for stdout; "{epoch}" is replaced by the epoch
  OutputFormat format = OutputFormat::json;
  WriteOptions write;
};

}  // namespace apd
