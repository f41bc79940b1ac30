#include "apd/io/monitor_file.hpp"

#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/output.hpp"
#include "json_fields.hpp"

namespace apd {

namespace {

nlohmann::json model_json(const MonitorModel& m) {
  return {{"kind", m.kind},
          {"file", m.file},
          {"sha256", m.sha256},
          {"run", m.run ? nlohmann::json(*m.run) : nlohmann::json(nullptr)},
          {"epoch", m.epoch ? nlohmann::json(*m.epoch) : nlohmann::json(nullptr)},
          {"architecture", m.architecture},
          {"relu_widths", m.relu_widths},
          {"classes", m.classes}};
}

nlohmann::json preprocessing_json(const MonitorPreprocessing& p) {
  return {{"normalize", p.normalize}, {"mean", p.mean}, {"std", p.std}, {"input_shape", p.input_shape}};
}

void write_layer(ChunkBuffer& out, const MonitorLayer& layer) {
  std::string& t = out.text();
  t += fmt::format("    {{\"layer\": {}, \"width\": {}, ", layer.layer, layer.width);
  if (layer.view) t += "\"view\": " + view_record(*layer.view).dump() + ", ";
  t += "\"patterns\": [";
  const std::size_t digits = pattern_hex_digits(layer.width);
  for (std::size_t c = 0; c < layer.classes.size(); ++c) {
    t += c == 0 ? "\n      [" : ",\n      [";
    const HammingIndex& set = layer.classes[c];
    for (std::size_t i = 0; i < set.size(); ++i) {
      t += i == 0 ? "\"" : ", \"";
      const std::size_t at = t.size();
      t.resize(at + digits);
      write_pattern_hex(set.row(i), layer.width, t.data() + at);
      t += '"';
      out.maybe_flush();
    }
    t += ']';
  }
  t += "\n    ]}";
}

}  // namespace

void write_monitor_file(const std::filesystem::path& path, const MonitorFile& m) {
  write_output(path, [&](const Sink& sink) {
    ChunkBuffer out(sink);
    std::string& t = out.text();
    t += fmt::format("{{\n  \"format\": \"{}\",\n", kMonitorFormat);
    t += "  \"tool\": " + m.tool.dump() + ",\n";
    t += "  \"model\": " + model_json(m.model).dump() + ",\n";
    t += "  \"preprocessing\": " + preprocessing_json(m.preprocessing).dump() + ",\n";
    t += "  \"training\": " + m.training.dump() + ",\n";
    t += fmt::format("  \"all_instances\": {},\n", m.monitor.all_instances);
    t += fmt::format("  \"class_instances\": [{}],\n", fmt::join(m.monitor.instances, ", "));
    t += "  \"layers\": [\n";
    for (std::size_t k = 0; k < m.monitor.layers.size(); ++k) {
      if (k > 0) t += ",\n";
      write_layer(out, m.monitor.layers[k]);
    }
    t += "\n  ]\n}\n";
    out.flush();
  });
}

namespace {

class Reader : public JsonFields {
 public:
  using JsonFields::JsonFields;

  MonitorModel model(dom::element e) const {
    const dom::object o = object(e, "model");
    MonitorModel m;
    m.kind = string(field(o, "kind", "model"), "model.kind");
    if (m.kind != "mlp" && m.kind != "torchscript")
      fail("model.kind", fmt::format("'{}' is not mlp or torchscript", m.kind));
    m.file = string(field(o, "file", "model"), "model.file");
    m.sha256 = string(field(o, "sha256", "model"), "model.sha256");
    if (m.sha256.size() != 64 || m.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
      fail("model.sha256", "is not 64 lowercase hex digits");
    }
    m.run = optional_string(field(o, "run", "model"), "model.run");
    if (const dom::element epoch = field(o, "epoch", "model"); !epoch.is_null()) {
      m.epoch = static_cast<int>(count(epoch, "model.epoch", kMaxEpochs));
    }
    m.architecture = string(field(o, "architecture", "model"), "model.architecture");
    for (const dom::element w : array(field(o, "relu_widths", "model"), "model.relu_widths")) {
      if (m.relu_widths.size() == kMaxMonitorLayers) fail("model.relu_widths", "lists too many layers");
      const auto width = count(w, "model.relu_widths", static_cast<std::uint64_t>(kMaxMonitorWidth));
      if (width == 0) fail("model.relu_widths", "holds a width of 0");
      m.relu_widths.push_back(width);
    }
    if (m.relu_widths.empty()) fail("model.relu_widths", "is empty");
    m.classes = count(field(o, "classes", "model"), "model.classes", kMaxClasses);
    if (m.classes == 0) fail("model.classes", "is 0");
    return m;
  }

  MonitorPreprocessing preprocessing(dom::element e) const {
    const dom::object o = object(e, "preprocessing");
    MonitorPreprocessing p;
    p.normalize = string(field(o, "normalize", "preprocessing"), "preprocessing.normalize");
    if (!from_name(kNormalizationNames, p.normalize)) {
      fail("preprocessing.normalize", fmt::format("'{}' is not {}", p.normalize, choices(kNormalizationNames)));
    }
    for (const auto& [key, into] : {std::pair{"mean", &p.mean}, std::pair{"std", &p.std}}) {
      const std::string where = fmt::format("preprocessing.{}", key);
      for (const dom::element v : array(field(o, key, "preprocessing"), where)) {
        if (into->size() == kMaxInputSize) fail(where, "holds too many values");
        into->push_back(number(v, where));
      }
    }
    if (p.mean.size() != p.std.size()) fail("preprocessing", "mean and std differ in length");
    for (const double s : p.std) {
      if (!(s > 0)) fail("preprocessing.std", fmt::format("{} is not positive", s));
    }
    for (const dom::element d : array(field(o, "input_shape", "preprocessing"), "preprocessing.input_shape")) {
      if (p.input_shape.size() == kMaxInputDims) fail("preprocessing.input_shape", "has too many dimensions");
      const auto size = count(d, "preprocessing.input_shape", static_cast<std::uint64_t>(kMaxInputSize));
      if (size == 0) fail("preprocessing.input_shape", "holds a size of 0");
      p.input_shape.push_back(static_cast<std::int64_t>(size));
    }
    return p;
  }

  // One class's patterns: hex of the layer's width, strictly ascending.
  HammingIndex patterns(dom::element e, std::size_t width, const std::string& where) const {
    const std::size_t words = (width + 63) / 64, digits = pattern_hex_digits(width);
    std::vector<std::uint64_t> rows;
    std::vector<std::uint64_t> row((4 * digits + 63) / 64);
    std::size_t n = 0;
    for (const dom::element p : array(e, where)) {
      const std::string at = fmt::format("{}[{}]", where, n);
      std::string_view hex;
      if (p.get(hex) != simdjson::SUCCESS) fail(at, "is not a string");
      if (hex.size() != digits)
        fail(at, fmt::format("has {} hex digits; width {} needs {}", hex.size(), width, digits));
      std::fill(row.begin(), row.end(), 0);
      if (const auto bad = pack_pattern_hex(hex, row); bad != std::string_view::npos) {
        fail(at, fmt::format("character {} is not a lowercase hex digit", bad));
      }
      for (std::size_t b = width; b < 4 * digits; ++b) {
        if (((row[b / 64] >> (b % 64)) & 1U) != 0)
          fail(at, fmt::format("sets padding bit {} beyond width {}", b, width));
      }
      const std::span<const std::uint64_t> packed(row.data(), words);
      if (n > 0 && compare_patterns(std::span(rows).last(words), packed) >= 0) {
        fail(at, "is not after the previous pattern (patterns are distinct, in ascending order)");
      }
      rows.insert(rows.end(), packed.begin(), packed.end());
      ++n;
    }
    return HammingIndex(width, std::move(rows));
  }

  // A layer's view ("view", absent for the full pattern), as core/views.hpp reads it.
  std::optional<LayerView> view(dom::object o, std::size_t layer, const std::string& where) const {
    dom::element e;
    if (o["view"].get(e) != simdjson::SUCCESS) return std::nullopt;
    LayerView v = view_from_record(raw(e, where + ".view"), fmt::format("{}: {}.view", name(), where));
    if (v.spec.layer != layer)
      fail(where + ".view.layer", fmt::format("{} is not the layer's ({})", v.spec.layer, layer));
    return v;
  }

  MonitorLayer layer(dom::element e, const MonitorModel& model, std::size_t k) const {
    const std::string where = fmt::format("layers[{}]", k);
    const dom::object o = object(e, where);
    MonitorLayer l;
    l.layer = count(field(o, "layer", where), where + ".layer", model.relu_widths.size());
    if (l.layer == 0) fail(where + ".layer", "ReLU layers are numbered from 1");
    l.width = count(field(o, "width", where), where + ".width", static_cast<std::uint64_t>(kMaxMonitorWidth));
    l.view = view(o, l.layer, where);
    const std::size_t full = model.relu_widths[l.layer - 1];
    if (l.view && l.view->full_width != full) {
      fail(where + ".view.full_width",
           fmt::format("{} differs from the model's layer {} ({})", l.view->full_width, l.layer, full));
    }
    if (!l.view && l.width != full) {
      fail(where + ".width", fmt::format("{} differs from the model's layer {} ({})", l.width, l.layer, full));
    }
    if (l.view && l.width != l.view->width) {
      fail(where + ".width",
           fmt::format("{} differs from the width of its view {} ({})", l.width, l.view->spec.text(), l.view->width));
    }
    std::size_t c = 0;
    for (const dom::element p : array(field(o, "patterns", where), where + ".patterns")) {
      if (c == model.classes) fail(where + ".patterns", fmt::format("holds more than the {} classes", model.classes));
      l.classes.push_back(patterns(p, l.width, fmt::format("{}.patterns[{}]", where, c)));
      ++c;
    }
    if (c != model.classes) fail(where + ".patterns", fmt::format("holds {} classes, the model {}", c, model.classes));
    return l;
  }

  MonitorFile file(dom::element root) const {
    const dom::object o = object(root, "the top level");
    dom::element format_field;
    if (o["format"].get(format_field) != simdjson::SUCCESS) {
      fail("the top level", fmt::format("no \"format\": not an apd-monitor file ({})", kMonitorFormat));
    }
    if (const auto format = string(format_field, "format"); format != kMonitorFormat) {
      fail("format", fmt::format("'{}' is not {} (not an apd-monitor file, or a newer one)", format, kMonitorFormat));
    }
    MonitorFile m;
    m.tool = raw(field(o, "tool", "the top level"), "tool");
    m.training = raw(field(o, "training", "the top level"), "training");
    m.model = model(field(o, "model", "the top level"));
    m.preprocessing = preprocessing(field(o, "preprocessing", "the top level"));
    if (field(o, "all_instances", "the top level").get(m.monitor.all_instances) != simdjson::SUCCESS) {
      fail("all_instances", "is not a boolean");
    }
    m.monitor.classes = m.model.classes;
    for (const dom::element v : array(field(o, "class_instances", "the top level"), "class_instances")) {
      if (m.monitor.instances.size() == m.model.classes) fail("class_instances", "holds more values than classes");
      m.monitor.instances.push_back(count(v, "class_instances", std::numeric_limits<std::uint64_t>::max()));
    }
    if (m.monitor.instances.size() != m.model.classes) fail("class_instances", "holds fewer values than classes");
    std::size_t k = 0;
    for (const dom::element l : array(field(o, "layers", "the top level"), "layers")) {
      m.monitor.layers.push_back(layer(l, m.model, k++));
      if (k > 1 && m.monitor.layers[k - 1].layer <= m.monitor.layers[k - 2].layer) {
        fail(fmt::format("layers[{}].layer", k - 1), "layers are not in ascending order");
      }
    }
    if (k == 0) fail("layers", "is empty");
    return m;
  }
};

}  // namespace

MonitorFile parse_monitor_file(std::string_view bytes, const std::string& name) {
  dom::parser parser;
  simdjson::padded_string padded;
  return Reader(name).file(parse_json_document(parser, padded, bytes, name));
}

MonitorFile read_monitor_file(const std::filesystem::path& path) {
  return parse_monitor_file(read_text_file(path, kMaxMonitorFileBytes, "monitor file"), path.string());
}

}  // namespace apd
