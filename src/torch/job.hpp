// What every tool that runs a model over a dataset does before and around
// the runner (runner.hpp), in this order: plan the models a ModelChoice
// names (one per epoch), load them all before any data is read, open the
// data (a run's own, checked against what it trained on), bind the models
// to it, and choose the instances (selection.hpp). apd-extract and
// apd-monitor are this skeleton plus what they do with the patterns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apd/core/selection.hpp"
#include "apd/io/instances.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/model.hpp"
#include "apd/torch/model_choice.hpp"

namespace apd {

struct ModelJob {
  int epoch = 0;  // 0: not one of a series (a bare --checkpoint or --model)
  std::filesystem::path file;
  std::string out;  // the output, {epoch} replaced
  std::unique_ptr<Model> model;
};

struct OpenRun {
  RunPaths paths;
  RunInfo info;
};

struct ModelSeries {
  ModelChoice::Kind kind = ModelChoice::Kind::run;
  std::optional<OpenRun> run;
  std::vector<ModelJob> jobs;
};

// The jobs of `m` (a run's checkpoints at its epochs, default the last; a
// state_dict; a TorchScript file per epoch), each writing `out` with
// {epoch} replaced; reads run.json. No model is loaded yet.
[[nodiscard]] ModelSeries plan_models(const ModelChoice& m, const std::string& out);

// Loads every job's model: all are read before any data, and before
// anything is written.
void load_models(ModelSeries& series);

// Binds every model to `data`; all must have the first one's ReLU widths
// and classes.
void bind_models(ModelSeries& series, const InstanceReader& data);

// The data a job reads, and its candidate instances: a run's own split, or
// every instance of the file.
struct JobData {
  InstanceReader reader;
  std::vector<std::int64_t> pool;
  std::optional<std::string> split;  // the pool's name in records; none for an .npy file
  std::string sha256;                // of the instances' file (IDX images or X.npy), recorded in APDs
};

// Opens `d`; with `run` (the data is the run's: its directory by default,
// its normalisation), the files must be those the run was trained on (the
// SHA-256 and image count in run.json) and its split applies. The
// instances' file is hashed once here (apd-report checks thumbnails by it).
[[nodiscard]] JobData open_job_data(DataChoice d, const OpenRun* run);

// The instances kept of `data` by `s`, and their true labels (checked to be
// below `classes`; none for data read without labels).
struct Chosen {
  ShardWindow window;
  std::vector<std::int32_t> truth;
  nlohmann::json record;  // the selection's record, as files keep it
};
[[nodiscard]] Chosen choose_instances(const Selection& s, const JobData& data, std::int64_t batch_size,
                                      std::int64_t classes, bool labelled);

// --epoch's text (a number, best or last) as one of the run's checkpointed
// epochs (`available`, ascending); throws naming what is available.
[[nodiscard]] int resolve_epoch(const std::string& text, const RunPaths& run, const std::vector<int>& available);

}  // namespace apd
