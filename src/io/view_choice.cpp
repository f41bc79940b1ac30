#include "apd/io/view_choice.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/monitor_file.hpp"

namespace apd {

void validate(const ViewChoice& choice) {
  std::vector<std::size_t> layers;
  for (const auto& v : choice.views) layers.push_back(v.layer);
  std::sort(layers.begin(), layers.end());
  if (const auto dup = std::adjacent_find(layers.begin(), layers.end()); dup != layers.end()) {
    throw UsageError(fmt::format("--view: layer {} has two views", *dup));
  }
}

namespace {}  // namespace

RecordedViews recorded_views(const Diagram& d, const std::string& file) {
  RecordedViews r{file, provenance(d, file).architecture, {}};
  const auto views = d.graph.find("views");
  if (views == d.graph.end() || !views->is_array()) {
    throw Error(fmt::format("{}: records no views (graph.views): extracted without --view", file));
  }
  for (std::size_t k = 0; k < views->size(); ++k) {
    r.views.push_back(view_from_record((*views)[k], fmt::format("{}: graph.views[{}]", file, k)));
  }
  return r;
}

namespace {

RecordedViews monitor_views(const MonitorFile& m, const std::string& file) {
  RecordedViews r{file, m.model.architecture, {}};
  for (const auto& l : m.monitor.layers) {
    if (l.view) r.views.push_back(*l.view);
  }
  if (r.views.empty()) throw Error(fmt::format("{}: records no views: built without --view", file));
  return r;
}

// The recorded view of `layer`, if any.
const LayerView* recorded_view(const RecordedViews* recorded, std::size_t layer) {
  if (!recorded) return nullptr;
  for (const auto& v : recorded->views) {
    if (v.spec.layer == layer) return &v;
  }
  return nullptr;
}

void check_same_model(const RecordedViews& r, const ViewedModel& model) {
  if (!r.architecture.empty() && r.architecture != model.architecture) {
    throw Error(fmt::format("--view-from {}: its views are of a {} model, this one is {}", r.file, r.architecture,
                            model.architecture));
  }
  for (const auto& v : r.views) {
    if (v.spec.layer > model.shapes.size() ||
        !std::equal(v.shape.begin(), v.shape.end(), model.shapes[v.spec.layer - 1].begin(),
                    model.shapes[v.spec.layer - 1].end())) {
      const std::string mine = v.spec.layer > model.shapes.size()
                                   ? "none"
                                   : fmt::format("{}", fmt::join(model.shapes[v.spec.layer - 1], "x"));
      throw Error(fmt::format("--view-from {}: its layer {} has shape {}, this model's has {}: another model", r.file,
                              v.spec.layer, fmt::join(v.shape, "x"), mine));
    }
  }
}

// --view's view of a layer checked against the recorded one: the same view
// (top:K then takes the recorded neurons).
LayerView agree(const LayerView& mine, const LayerView& theirs, const std::string& file) {
  if (mine.spec != theirs.spec &&
      !(mine.spec.kind == ViewKind::top && theirs.spec.kind == ViewKind::top && mine.spec.k == theirs.spec.k)) {
    throw UsageError(
        fmt::format("--view {}: {} records {} for that layer", mine.spec.text(), file, theirs.spec.text()));
  }
  return theirs;
}

}  // namespace

RecordedViews read_recorded_views(const std::filesystem::path& path) {
  const std::string file = path.string();
  // An APD is read streaming (it may be gigabytes); a monitor, which names
  // its format at the top level, whole. A file that is neither: the APD error.
  try {
    return recorded_views(read_apd_file(path), file);
  } catch (const Error&) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec || size > kMaxMonitorFileBytes) throw;
    const std::string text = read_text_file(path, kMaxMonitorFileBytes, "monitor file");
    if (text.find("\"apd-monitor/") == std::string::npos) throw;
    return monitor_views(parse_monitor_file(text, file), file);
  }
}

std::vector<LayerView> plan_views(const ViewChoice& choice, const RecordedViews* recorded,
                                  std::span<const std::size_t> layers, const ViewedModel& model, bool shard) {
  const auto observed = [&](std::size_t l) { return std::binary_search(layers.begin(), layers.end(), l); };
  for (const auto& v : choice.views) {
    if (!observed(v.layer)) {
      throw UsageError(
          fmt::format("--view {}: layer {} is not observed (layers {})", v.text(), v.layer, fmt::join(layers, ",")));
    }
  }
  if (recorded) {
    check_same_model(*recorded, model);
    for (const auto& v : recorded->views) {
      if (!observed(v.spec.layer)) {
        throw Error(fmt::format("--view-from {}: records a view of layer {}, which is not observed (layers {})",
                                recorded->file, v.spec.layer, fmt::join(layers, ",")));
      }
    }
  }
  std::vector<LayerView> plan;
  for (const std::size_t l : layers) {
    const auto asked =
        std::find_if(choice.views.begin(), choice.views.end(), [&](const auto& v) { return v.layer == l; });
    const LayerView* theirs = recorded_view(recorded, l);
    ViewSpec full;
    full.layer = l;
    LayerView v = resolve_view(asked != choice.views.end() ? *asked : full, model.shapes[l - 1]);
    if (theirs) {
      v = asked != choice.views.end() ? agree(v, *theirs, recorded->file) : *theirs;
      if (!v.from) v.from = recorded->file;
    }
    if (shard && v.spec.kind == ViewKind::top && v.neurons.empty()) {
      throw UsageError(
          fmt::format("--view {}: with --shard, top:K needs --view-from FILE (a shard sees only its "
                      "slice, so each would choose its own neurons)",
                      v.spec.text()));
    }
    plan.push_back(std::move(v));
  }
  return plan;
}

std::optional<std::vector<LayerView>> planned_views(const ViewChoice& choice, std::span<const std::size_t> layers,
                                                    const ViewedModel& model, bool shard) {
  if (!choice.any()) return std::nullopt;
  std::optional<RecordedViews> recorded;
  if (!choice.from.empty()) recorded = read_recorded_views(choice.from);
  return plan_views(choice, recorded ? &*recorded : nullptr, layers, model, shard);
}

void choose_open_views(std::vector<LayerView>& views, const PatternStore& full) {
  for (std::size_t k = 0; k < views.size(); ++k) {
    if (views[k].spec.kind == ViewKind::top && views[k].neurons.empty()) choose_top(views[k], full, k);
  }
}

nlohmann::json views_record(std::span<const LayerView> views) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& v : views) a.push_back(view_record(v));
  return a;
}

}  // namespace apd
