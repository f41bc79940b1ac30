#include "apd/io/graphml.hpp"

#include <iterator>

#include <fmt/format.h>

#include "apd/io/markup.hpp"

namespace apd {

namespace {

std::string histogram_json(std::span<const LabelCount> hist) {
  nlohmann::json obj = nlohmann::json::object();
  for (const LabelCount& lc : hist) obj[std::to_string(lc.label)] = lc.count;
  return obj.dump();
}

}  // namespace

void write_graphml(const Diagram& d, const Sink& sink) {
  ChunkBuffer buffer(sink);
  std::string& out = buffer.text();
  out +=
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" "
      "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
      "xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns "
      "http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n"
      "<key id=\"g_schema\" for=\"graph\" attr.name=\"schema\" attr.type=\"string\"/>\n"
      "<key id=\"g_metadata\" for=\"graph\" attr.name=\"metadata\" attr.type=\"string\"/>\n"
      "<key id=\"n_kind\" for=\"node\" attr.name=\"kind\" attr.type=\"string\"/>\n"
      "<key id=\"n_layer\" for=\"node\" attr.name=\"layer\" attr.type=\"int\"/>\n"
      "<key id=\"n_pattern\" for=\"node\" attr.name=\"pattern\" attr.type=\"string\"/>\n"
      "<key id=\"n_label\" for=\"node\" attr.name=\"label\" attr.type=\"int\"/>\n"
      "<key id=\"n_count\" for=\"node\" attr.name=\"count\" attr.type=\"long\"/>\n"
      "<key id=\"n_errors\" for=\"node\" attr.name=\"errors\" attr.type=\"long\"/>\n"
      "<key id=\"n_true\" for=\"node\" attr.name=\"true_labels\" attr.type=\"string\"/>\n"
      "<key id=\"n_pred\" for=\"node\" attr.name=\"predicted_labels\" attr.type=\"string\"/>\n"
      "<key id=\"e_count\" for=\"edge\" attr.name=\"count\" attr.type=\"long\"/>\n"
      "<key id=\"e_errors\" for=\"edge\" attr.name=\"errors\" attr.type=\"long\"/>\n"
      "<graph id=\"apd\" edgedefault=\"directed\">\n";
  nlohmann::json graph = d.graph;
  graph["schema"] = kSchema;
  fmt::format_to(std::back_inserter(out), "<data key=\"g_schema\">{}</data>\n<data key=\"g_metadata\">{}</data>\n",
                 kSchema, escape_markup(graph.dump()));
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    const Node& n = d.nodes[k];
    fmt::format_to(std::back_inserter(out),
                   "<node id=\"{}\"><data key=\"n_kind\">{}</data><data key=\"n_layer\">{}</data>", d.node_id(k),
                   n.kind == NodeKind::pattern ? "pattern" : "label", n.layer);
    if (n.kind == NodeKind::pattern) {
      fmt::format_to(std::back_inserter(out), "<data key=\"n_pattern\">{}</data>", d.pattern(k));
    } else {
      fmt::format_to(std::back_inserter(out), "<data key=\"n_label\">{}</data>", n.label);
    }
    fmt::format_to(std::back_inserter(out),
                   "<data key=\"n_count\">{}</data><data key=\"n_errors\">{}</data>"
                   "<data key=\"n_true\">{}</data><data key=\"n_pred\">{}</data></node>\n",
                   n.count, n.errors, escape_markup(histogram_json(d.true_labels(k))),
                   escape_markup(histogram_json(d.predicted_labels(k))));
    buffer.maybe_flush();
  }
  for (const Link& link : d.links) {
    fmt::format_to(std::back_inserter(out),
                   "<edge source=\"{}\" target=\"{}\"><data key=\"e_count\">{}</data>"
                   "<data key=\"e_errors\">{}</data></edge>\n",
                   d.node_id(link.source), d.node_id(link.target), link.count, link.errors);
    buffer.maybe_flush();
  }
  out += "</graph>\n</graphml>\n";
  buffer.flush();
}

}  // namespace apd
