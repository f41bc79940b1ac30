// Which model a tool runs, as the user names it, and how it is computed;
// no LibTorch in this header. A ModelChoice names one source: an apd-train
// run at one or more epochs (--run, --epoch/--epochs), a PyTorch state_dict
// of the paper's MLP (--checkpoint), or a TorchScript file (--model, with
// {epoch} for one file per epoch of the user's own training).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace apd {

inline constexpr const char* kEpochToken = "{epoch}";

struct ModelChoice {
  enum class Kind { run, checkpoint, script };

  std::filesystem::path run;         // --run RUNDIR
  std::vector<std::string> epochs;   // --epoch/--epochs: numbers, best, last (a run's); numbers (--model)
  std::filesystem::path checkpoint;  // --checkpoint state_dict
  std::string model;                 // --model TorchScript file ({epoch} with --epochs)

  // Valid after validate(): exactly one source is given.
  [[nodiscard]] Kind kind() const {
    if (!run.empty()) return Kind::run;
    return model.empty() ? Kind::checkpoint : Kind::script;
  }
};

// Exactly one source, and epochs only where they mean something; throws
// UsageError naming the option.
void validate(const ModelChoice& m);

// Threads and batch size of the forward passes.
struct Compute {
  // --batch-size's default with --model (conv activations are large: LeNet-5's
  // first layer alone is 14 MB for 1024 instances), with --checkpoint, and
  // with --run: a run's checkpoints are read in the batches of apd-train's own
  // evaluation passes. Float32 GEMM rounding depends on how rows are batched
  // (a pre-activation within rounding of 0 can flip), so batched alike the
  // patterns are bit for bit those the run recorded (unique counts, churn).
  static constexpr std::int64_t kScriptBatchSize = 256;
  static constexpr std::int64_t kMlpBatchSize = 1024;
  static constexpr std::int64_t kRunBatchSize = 2048;

  std::optional<std::int64_t> batch_size;  // default: by the kind of model
  int threads = 1;
  bool threads_given = false;  // --threads on the command line (else a run's own count may apply)

  [[nodiscard]] std::int64_t batch_size_for(ModelChoice::Kind kind) const {
    switch (kind) {
      case ModelChoice::Kind::script: return batch_size.value_or(kScriptBatchSize);
      case ModelChoice::Kind::run: return batch_size.value_or(kRunBatchSize);
      case ModelChoice::Kind::checkpoint: break;
    }
    return batch_size.value_or(kMlpBatchSize);
  }
};

// Both within 1..their maximum (kMaxBatchSize, kMaxThreads).
void validate(const Compute& c);

// `text` with every {epoch} replaced by the epoch number.
[[nodiscard]] std::string replace_epoch(std::string text, int epoch);

}  // namespace apd
