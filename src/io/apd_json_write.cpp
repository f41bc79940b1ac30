// Streaming writer of apd/1 JSON: one record per line, compact within.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/graphml.hpp"

namespace apd {

namespace {

template <typename Int>
void append_int(std::string& out, Int v) {
  const fmt::format_int text(v);
  out.append(text.data(), text.size());
}

void append_histogram(std::string& out, std::span<const LabelCount> hist) {
  out.push_back('{');
  for (std::size_t k = 0; k < hist.size(); ++k) {
    if (k != 0) out.push_back(',');
    out.push_back('"');
    append_int(out, hist[k].label);
    out += "\":";
    append_int(out, hist[k].count);
  }
  out.push_back('}');
}

void append_pattern(std::string& out, std::span<const std::uint64_t> row, std::size_t width) {
  const std::size_t at = out.size();
  out.resize(at + width);
  write_pattern_text(row, width, out.data() + at);
}

// Node ids packed in one word each ("l<layer>n<rank>" or "y<label>"), so the
// instance loop formats them from a compact array instead of chasing strings.
constexpr std::uint64_t kLabelBit = std::uint64_t{1} << 63;

std::vector<std::uint64_t> id_codes(const Diagram& d) {
  std::vector<std::uint64_t> codes(d.nodes.size());
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    const Node& n = d.nodes[k];
    codes[k] = n.kind == NodeKind::label ? (kLabelBit | static_cast<std::uint32_t>(n.label))
                                         : (std::uint64_t{n.layer} << 32) | n.rank;
  }
  return codes;
}

void append_id(std::string& out, std::uint64_t code) {
  if ((code & kLabelBit) != 0) {
    out += "\"y";
    append_int(out, static_cast<std::uint32_t>(code));
  } else {
    out += "\"l";
    append_int(out, static_cast<std::uint32_t>(code >> 32));
    out.push_back('n');
    append_int(out, static_cast<std::uint32_t>(code));
  }
  out.push_back('"');
}

void append_pattern_hex(std::string& out, std::span<const std::uint64_t> row, std::size_t width) {
  const std::size_t at = out.size();
  out.resize(at + pattern_hex_digits(width));
  write_pattern_hex(row, width, out.data() + at);
}

// Which layers (1-based; entry 0 unused) are written as pattern_hex: hex
// for every layer, none, or (automatic) those wider than kHexPatternWidth.
std::vector<bool> hex_layers(const Diagram& d, PatternEncoding encoding) {
  std::vector<bool> hex(d.layers() + 1, false);
  for (std::size_t l = 1; l <= d.layers(); ++l) {
    hex[l] = encoding == PatternEncoding::hex ||
             (encoding == PatternEncoding::automatic && d.widths[l - 1] > kHexPatternWidth);
  }
  return hex;
}

void write_nodes(const Diagram& d, const std::vector<std::uint64_t>& ids, const std::vector<bool>& hex,
                 ChunkBuffer& buffer) {
  std::string& out = buffer.text();
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    const Node& node = d.nodes[k];
    out += k == 0 ? "\n{\"id\":" : ",\n{\"id\":";
    append_id(out, ids[k]);
    if (node.kind == NodeKind::pattern) {
      out += ",\"kind\":\"pattern\",\"layer\":";
      append_int(out, node.layer);
      if (hex[node.layer]) {
        out += ",\"pattern_hex\":\"";
        append_pattern_hex(out, d.pattern_row(k), d.widths[node.layer - 1]);
      } else {
        out += ",\"pattern\":\"";
        append_pattern(out, d.pattern_row(k), d.widths[node.layer - 1]);
      }
      out += '"';
    } else {
      out += ",\"kind\":\"label\",\"layer\":";
      append_int(out, node.layer);
      out += ",\"label\":";
      append_int(out, node.label);
    }
    out += ",\"count\":";
    append_int(out, node.count);
    out += ",\"errors\":";
    append_int(out, node.errors);
    out += ",\"true_labels\":";
    append_histogram(out, d.true_labels(k));
    out += ",\"predicted_labels\":";
    append_histogram(out, d.predicted_labels(k));
    out += '}';
    buffer.maybe_flush();
  }
}

void write_links(const Diagram& d, const std::vector<std::uint64_t>& ids, ChunkBuffer& buffer) {
  std::string& out = buffer.text();
  for (std::size_t k = 0; k < d.links.size(); ++k) {
    const Link& link = d.links[k];
    out += k == 0 ? "\n{\"source\":" : ",\n{\"source\":";
    append_id(out, ids[link.source]);
    out += ",\"target\":";
    append_id(out, ids[link.target]);
    out += ",\"count\":";
    append_int(out, link.count);
    out += ",\"errors\":";
    append_int(out, link.errors);
    out += '}';
    buffer.maybe_flush();
  }
}

// The shortest text that reads back as the same double; null for +infinity.
void append_distance(std::string& out, double x) {
  if (std::isfinite(x)) {
    fmt::format_to(std::back_inserter(out), "{}", x);
  } else {
    out += "null";
  }
}

void write_instances(const Diagram& d, const std::vector<std::uint64_t>& ids, ChunkBuffer& buffer) {
  std::string& out = buffer.text();
  const std::size_t layers = d.layers();
  for (std::size_t i = 0; i < d.instances; ++i) {
    out += i == 0 ? "\n{\"index\":" : ",\n{\"index\":";
    append_int(out, d.index[i]);
    out += ",\"label\":";
    append_int(out, d.label[i]);
    out += ",\"predicted\":";
    append_int(out, d.predicted[i]);
    out += ",\"path\":[";
    for (std::size_t l = 0; l < layers; ++l) {
      if (l != 0) out += ',';
      append_id(out, ids[d.path[i * layers + l]]);
    }
    out += ']';
    if (!d.region_radius.empty()) {
      out += ",\"region_radius\":";
      append_distance(out, d.region_radius[i]);
      out += ",\"boundary_distance\":";
      append_distance(out, d.boundary_distance[i]);
    }
    out += '}';
    buffer.maybe_flush();
  }
}

}  // namespace

void write_apd_json(const Diagram& d, const Sink& sink, const WriteOptions& options) {
  ChunkBuffer buffer(sink);
  const std::vector<std::uint64_t> ids = id_codes(d);
  const std::vector<bool> hex = hex_layers(d, options.patterns);
  const char* schema = std::find(hex.begin(), hex.end(), true) != hex.end() ? kSchemaHex : kSchema;
  nlohmann::json graph = d.graph;
  graph["schema"] = schema;
  fmt::format_to(std::back_inserter(buffer.text()),
                 "{{\"schema\":\"{}\",\"directed\":true,\"multigraph\":false,\n\"graph\":{},\n\"nodes\":[", schema,
                 graph.dump());
  write_nodes(d, ids, hex, buffer);
  buffer.text() += "],\n\"links\":[";
  write_links(d, ids, buffer);
  buffer.text() += ']';
  if (options.instances && d.has_instances) {
    buffer.text() += ",\n\"instances\":[";
    write_instances(d, ids, buffer);
    buffer.text() += ']';
  }
  buffer.text() += "}\n";
  buffer.flush();
}

std::string to_apd_json(const Diagram& d, const WriteOptions& options) {
  std::string out;
  write_apd_json(
      d, [&](std::string_view chunk) { out.append(chunk); }, options);
  return out;
}

void save_diagram(const Diagram& d, const std::filesystem::path& path, OutputFormat format,
                  const WriteOptions& options) {
  write_output(path, [&](const Sink& sink) {
    if (format == OutputFormat::json) {
      write_apd_json(d, sink, options);
    } else {
      write_graphml(d, sink);
    }
  });
}

}  // namespace apd
