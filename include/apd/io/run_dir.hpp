// The run directory written by apd-train and read by the other tools:
//   run.json            what is needed to rebuild the model and feed it (run_info.hpp)
//   metrics.jsonl       one JSON object per epoch (EpochMetrics)
//   summary.json        best-validation epoch, final metrics, total time
//   dynamics.bin        per epoch, which training instances were correct (dynamics_file.hpp)
//   checkpoints/epoch-NNNN.pt   state_dicts (torch.load-able)
//   checkpoints/resume.pt       what --resume needs (epoch, optimizer state)
//   .lock               held by the apd-train writing the run
// RunDir owns the directory's life cycle (lock, state, clearing, stale
// temporary files); RunPaths names its files. No LibTorch here: apd-stats
// reads runs too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace apd {

inline constexpr const char* kRunSchema = "apd-run/1";

struct RunPaths {
  std::filesystem::path dir;
  [[nodiscard]] std::filesystem::path run_json() const { return dir / "run.json"; }
  [[nodiscard]] std::filesystem::path metrics() const { return dir / "metrics.jsonl"; }
  [[nodiscard]] std::filesystem::path summary() const { return dir / "summary.json"; }
  [[nodiscard]] std::filesystem::path dynamics() const { return dir / "dynamics.bin"; }
  [[nodiscard]] std::filesystem::path checkpoints() const { return dir / "checkpoints"; }
  [[nodiscard]] std::filesystem::path checkpoint(int epoch) const;
  [[nodiscard]] std::filesystem::path resume_state() const { return checkpoints() / "resume.pt"; }
  [[nodiscard]] std::filesystem::path lock() const { return dir / ".lock"; }
  // The files tools read from a finished run (no checkpoints): what no output may overwrite.
  [[nodiscard]] std::vector<std::filesystem::path> files() const {
    return {run_json(), metrics(), summary(), dynamics()};
  }
};

// A run directory as apd-train writes it.
class RunDir {
 public:
  // What the directory holds: nothing of a run (it may still hold the
  // leftovers of one that never wrote run.json: an empty checkpoints/,
  // temporary files, the lock), a run that completed no epoch (no resume.pt
  // yet), or a run with complete epochs (or anything else: not ours).
  enum class State { none, no_epoch, epochs };

  explicit RunDir(std::filesystem::path dir) : paths_{std::move(dir)} {}
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  ~RunDir();

  [[nodiscard]] const RunPaths& paths() const noexcept { return paths_; }
  [[nodiscard]] State state() const;
  // Creates the directory and holds its lock until destroyed: a second
  // apd-train on the same run is refused instead of interleaving its files.
  void lock();
  [[nodiscard]] bool locked() const noexcept { return lock_fd_ >= 0; }
  // Removes what a killed writer left: temporary files never renamed into place.
  void remove_stale_temporaries() const;
  // Removes every epoch's files (checkpoints, metrics, summary, dynamics),
  // keeping run.json: the run restarts from epoch 1.
  void clear_epochs() const;

 private:
  RunPaths paths_;
  int lock_fd_ = -1;
};

// Throws apd::Error when `output` would land in a run directory (or its
// checkpoints/) that an apd-train is writing now, as its lock (RUN/.lock)
// shows: its files would interleave with the training's.
void refuse_output_in_running_run(const std::filesystem::path& output);
// Throws UsageError "--out OUTPUT: it is the input INPUT; write the output
// elsewhere" when `output` is the same file (device and inode) as one of
// `inputs`, however either is spelled (./, .., symlinks, hard links).
void refuse_output_over_inputs(const std::filesystem::path& output, std::span<const std::filesystem::path> inputs);

// Epochs that have a checkpoint file, ascending.
[[nodiscard]] std::vector<int> list_checkpoints(const RunPaths& run);

struct EpochMetrics {
  int epoch = 0;
  double train_loss = 0, train_acc = 0;        // means over the epoch's mini-batches
  double val_loss = 0, val_acc = 0;            // on the validation split, end-of-epoch weights
  std::vector<std::uint64_t> unique_patterns;  // |A*_l(train)| per hidden layer; empty if not tracked
  double seconds = 0;
  // Per hidden layer, the share of training instances whose A_l(x) changed
  // since the previous epoch; empty at epoch 1 or when not tracked.
  std::vector<double> churn;
  // Adjusted Rand index of the flow partitions (last two layers) of this
  // epoch and the previous one; empty at epoch 1 or when not tracked.
  std::optional<double> flow_ari;
};

[[nodiscard]] nlohmann::json to_json(const EpochMetrics& m);
// `where` names the source in errors ("metrics.jsonl:12").
[[nodiscard]] EpochMetrics metrics_from_json(const nlohmann::json& j, const std::string& where);
[[nodiscard]] std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file);
// The same for text in memory; `name` names it in errors ("NAME:LINE: ...").
[[nodiscard]] std::vector<EpochMetrics> parse_metrics(const std::string& text, const std::string& name);

// Parses JSON text; a syntax error is an apd::Error naming `name`.
[[nodiscard]] nlohmann::json parse_json(std::string_view text, const std::string& name);
[[nodiscard]] std::string metrics_jsonl(const std::vector<EpochMetrics>& metrics);

// The epoch with the lowest validation loss (the earliest on ties).
[[nodiscard]] std::optional<EpochMetrics> best_epoch(const std::vector<EpochMetrics>& metrics);
[[nodiscard]] nlohmann::json run_summary(const std::vector<EpochMetrics>& metrics, double total_seconds, bool complete);

}  // namespace apd
