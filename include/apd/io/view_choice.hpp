// The views a tool applies (--view L=KIND[:ARG], --view-from FILE), planned
// on a model's observed layers, and the views recorded in APD and monitor
// files. Views themselves are core/views.hpp; docs/views.md has the rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/diagram.hpp"
#include "apd/core/pattern_store.hpp"
#include "apd/core/views.hpp"

namespace apd {

struct ViewChoice {
  std::vector<ViewSpec> views;  // --view, at most one per layer
  std::filesystem::path from;   // --view-from: an APD (JSON) or monitor file; empty: none

  [[nodiscard]] bool any() const noexcept { return !views.empty() || !from.empty(); }
};

// One view per layer; throws UsageError "--view: layer L has two views".
void validate(const ViewChoice& choice);

// The views a file records (an APD's graph.views, a monitor's layers[].view)
// and the architecture of its model ("784-40-40-40-10", "torchscript").
struct RecordedViews {
  std::string file;
  std::string architecture;
  std::vector<LayerView> views;
};
// Throws apd::Error naming the file: unreadable, neither an APD nor a
// monitor, or recording no views.
[[nodiscard]] RecordedViews read_recorded_views(const std::filesystem::path& path);
// The views an APD records (graph.views), checked; `file` names it in errors.
[[nodiscard]] RecordedViews recorded_views(const Diagram& d, const std::string& file);

// The model a view plan is for: its architecture and every ReLU layer's shape.
struct ViewedModel {
  std::string architecture;
  std::vector<std::vector<std::int64_t>> shapes;  // per ReLU layer, in call order
};

// The view of each observed layer (`layers`: 1-based, ascending): --view's,
// else the recorded one, else full. Throws UsageError naming --view for a
// view on a layer not observed, a view the layer cannot take, or one that
// contradicts the recorded one; with `shard`, for top:K without recorded
// neurons. Throws apd::Error naming the --view-from file when it is of
// another model (architecture, or a layer's shape) or records a layer not
// observed.
[[nodiscard]] std::vector<LayerView> plan_views(const ViewChoice& choice, const RecordedViews* recorded,
                                                std::span<const std::size_t> layers, const ViewedModel& model,
                                                bool shard);

// plan_views with the --view-from file read, when --view or --view-from
// asks for views; nothing otherwise.
[[nodiscard]] std::optional<std::vector<LayerView>> planned_views(const ViewChoice& choice,
                                                                  std::span<const std::size_t> layers,
                                                                  const ViewedModel& model, bool shard);

// Chooses the neurons of every top:K view that has none yet, from the full
// patterns (store layer k is views[k]'s layer).
void choose_open_views(std::vector<LayerView>& views, const PatternStore& full);

// graph.views of an APD: one record per observed layer (core/views.hpp).
[[nodiscard]] nlohmann::json views_record(std::span<const LayerView> views);

}  // namespace apd
