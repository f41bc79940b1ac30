// The options of every tool that runs a model, registered once, each kind in
// its own group of --help: which model (--run/--epoch/--checkpoint/--model),
// which data (--data/--targets/--split and the preprocessing), which
// instances (--labels/--limit/--select/--seed/--shard), which views of the
// patterns (--view/--view-from) and how to compute (--batch-size/--threads). apd-extract and apd-monitor use them; so
// does any later tool that reads a dataset through a model.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "apd/core/selection.hpp"
#include "apd/io/instances.hpp"
#include "apd/io/view_choice.hpp"
#include "apd/torch/model_choice.hpp"

namespace apd::app {

struct ModelOptionStyle {
  bool series = false;   // --epochs (several epochs; {epoch} in --model)
  std::string fallback;  // what is used when no model is given (help text)
};
// Returns the group, for a tool's own model options (apd-extract's --layers).
CLI::Option_group* add_model_options(CLI::App& app, ModelChoice& m, const ModelOptionStyle& style);

// `preprocessing`: --input-shape, --normalize, --mean, --std too.
void add_data_options(CLI::App& app, DataChoice& d, bool preprocessing);

// `shard`: --shard I/N too.
void add_selection_options(CLI::App& app, Selection& s, bool shard);

void add_compute_options(CLI::App& app, Compute& c);

// --view L=KIND[:ARG] (repeatable) and --view-from FILE.
void add_view_options(CLI::App& app, ViewChoice& v);

}  // namespace apd::app
