// apd-extract's job, without LibTorch in the interface: the APD (apd/1 JSON
// or GraphML) of a selection of instances under a model at one or more epochs
// of an apd-train run, under a state_dict trained elsewhere, or under any
// TorchScript ReLU network (one model, or one per epoch of the user's own
// training), on IDX or .npy data.
#pragma once

#include <cstddef>
#include <vector>

#include "apd/core/selection.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/instances.hpp"
#include "apd/io/view_choice.hpp"
#include "apd/torch/model_choice.hpp"

namespace apd {

struct ExtractOptions {
  ModelChoice model;
  DataChoice data;
  Selection selection;
  OutputChoice output;
  Compute compute;
  ViewChoice views;                  // --view, --view-from
  std::vector<std::size_t> layers;   // --layers: ReLU layers of --model, 1-based (default all)
  bool list_layers = false;          // --list-layers: print the model's ReLU layers, write nothing
  bool geometry = false;             // --geometry: each instance's region radius and boundary distance
  bool geometry_layers = false;      // --geometry-layers: the radius over the --layers only
  bool geometry_float32 = false;     // --geometry-gradients float32
  bool geometry_dense = false;       // --geometry-tangents dense
  std::int64_t geometry_memory = 0;  // --geometry-memory MB (0: GeometryPlan's default)
};

// Checks option combinations; throws UsageError naming the option.
void validate(const ExtractOptions& options);

// Returns the exit code (0). Throws apd::Error / UsageError on failure; every
// output file is complete or absent.
[[nodiscard]] int run_extraction(const ExtractOptions& options);

}  // namespace apd
