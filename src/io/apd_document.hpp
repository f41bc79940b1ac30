// An apd/1 file as parsed, before its structure is checked: every record
// type-checked and kept in the compact form the Diagram uses, with node ids
// still as text. parse_apd_document (apd_json_parse.cpp) makes one from
// bytes; validate_apd_document (apd_validate.cpp) turns it into a Diagram.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"

namespace apd::detail {

// The JSON types, for "expected X, got Y" messages.
enum class JsonType { absent, null, boolean, number, string, object, array };
[[nodiscard]] const char* type_name(JsonType t) noexcept;

// Strings stored back to back: ids of nodes, link ends and paths.
class IdArena {
 public:
  void add(std::string_view id);
  // Appends every id of `other`, in order.
  void append(const IdArena& other);
  [[nodiscard]] std::string_view operator[](std::size_t k) const {
    const std::size_t begin = k == 0 ? 0 : end_[k - 1];
    return {chars_.data() + begin, end_[k] - begin};
  }
  [[nodiscard]] std::size_t size() const noexcept { return end_.size(); }
  void reserve(std::size_t ids, std::size_t chars) {
    end_.reserve(ids);
    chars_.reserve(chars);
  }

 private:
  std::string chars_;
  std::vector<std::size_t> end_;
};

struct ApdDocument {
  JsonType top = JsonType::absent;
  std::optional<std::string> schema;  // absent unless a string
  JsonType graph_type = JsonType::absent;
  nlohmann::json graph;  // when graph_type is object
  JsonType nodes_type = JsonType::absent, links_type = JsonType::absent, instances_type = JsonType::absent;

  // nodes[k]: kind, label, count, errors and histogram ranges as in a Diagram;
  // layer as written (checked later against the widths); pattern bits packed
  // into pattern_words at nodes[k].pattern_offset, pattern_bits[k] of them.
  std::vector<Node> nodes;
  std::vector<std::int64_t> node_layer;
  std::vector<std::uint32_t> pattern_bits;
  std::vector<std::uint8_t> pattern_hex;  // 1: written as pattern_hex (4 bits a digit, padded to whole bytes)
  std::vector<std::uint64_t> pattern_words;
  std::vector<LabelCount> histograms;
  IdArena node_ids;

  // links[k]: count and errors; its ends are link_ends[2k] and [2k+1].
  std::vector<Link> links;
  IdArena link_ends;

  // instances[i]: path_count[i] ids in path_ids, back to back.
  std::vector<std::int64_t> index;
  std::vector<std::int32_t> label, predicted;
  IdArena path_ids;
  std::vector<std::uint32_t> path_count;
  // region_radius and boundary_distance of the instances the general parser
  // read (NaN when the record has none, +infinity for null); the fast path's
  // records never have them, so a file holds them for every instance only
  // when these have one entry per instance.
  std::vector<double> region_radius, boundary_distance;
};

// Where bytes come from: a file read in chunks, or memory.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Copies up to `size` bytes into `out`; 0 at the end. Throws apd::Error.
  virtual std::size_t read(char* out, std::size_t size) = 0;
  // How many bytes there are in all, when known (bounds capacity hints).
  [[nodiscard]] virtual std::uint64_t size() const = 0;
};

// Throws apd::Error "NAME: WHERE: WHAT" on the first malformed record.
[[nodiscard]] ApdDocument parse_apd_document(ByteSource& source, const std::string& name);
// Only the top-level "graph" object (the file read up to it, arrays before it
// skipped without being kept); throws apd::Error if there is none.
[[nodiscard]] nlohmann::json parse_apd_graph(ByteSource& source, const std::string& name);
// Throws apd::Error naming the field whose structure is wrong.
[[nodiscard]] Diagram validate_apd_document(ApdDocument&& doc, const std::string& name);

}  // namespace apd::detail
