#include "apd/torch/train.hpp"

#include <unistd.h>

#include <cstdio>
#include <future>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/core/random.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/utf8.hpp"
#include "apd/core/version.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/dynamics_file.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/model_choice.hpp"
#include "apd/torch/runner.hpp"
#include "apd/torch/sgd.hpp"
#include "apd/torch/torch_data.hpp"
#include "stop_signal.hpp"
#include "threading.hpp"
#include "training_data.hpp"

namespace apd {

namespace {

// Evaluation passes (validation, pattern tracking) run batches of this size,
// apd-extract's default for the MLP: both read the same patterns.
constexpr std::int64_t kEvalBatch = Compute::kRunBatchSize;

RunInfo make_run_info(const TrainSettings& o, const TrainingData& data) {
  RunInfo info;
  info.tool = {"apd-train", std::string(version()), std::string(git_sha())};
  info.model = {describe(data.shape), data.shape.inputs, data.shape.hidden, data.shape.classes};
  info.data = {std::filesystem::absolute(data.files.dir).lexically_normal(), data.digests, o.normalize};
  info.split = {o.seed,
                o.val_split,
                data.source_count,
                data.split.train.size(),
                data.split.validation.size(),
                data.split.validation};
  info.hyper = {o.epochs, o.lr, o.momentum, o.batch_size, o.seed};
  info.threads = o.threads;
  info.checkpoint_every = o.checkpoint_every;
  info.track_patterns = o.track_patterns;
  info.dynamics = o.track_patterns;
  info.corruption = data.corruption;
  return info;
}

class Progress {
 public:
  Progress(Verbosity v, int total) : verbosity_(v), total_(total), live_(isatty(STDERR_FILENO) == 1) {}
  void epoch(const EpochMetrics& m, double mean_seconds) {
    if (verbosity_ == Verbosity::quiet) return;
    const double eta = mean_seconds * (total_ - m.epoch);
    std::string patterns =
        m.unique_patterns.empty() ? "" : fmt::format(" patterns {}", fmt::join(m.unique_patterns, "/"));
    const std::string text =
        fmt::format("epoch {}/{} loss {:.4f} val_loss {:.4f} val_acc {:.4f}{} ({:.2f} s, ETA {:.0f} s)", m.epoch,
                    total_, m.train_loss, m.val_loss, m.val_acc, patterns, m.seconds, eta);
    if (live_ && verbosity_ == Verbosity::normal) {
      std::fprintf(stderr, "\r\033[K%s", text.c_str());
      std::fflush(stderr);
      dirty_ = true;
    } else {
      spdlog::info("{}", text);
    }
  }
  void finish() {
    if (dirty_) std::fputc('\n', stderr);
    dirty_ = false;
  }

 private:
  Verbosity verbosity_;
  int total_;
  bool live_;
  bool dirty_ = false;
};

// The validation split's summed cross-entropy and correct predictions
// under the current weights.
struct Validation {
  double loss_sum = 0;
  std::uint64_t correct = 0;
};

Validation validate_model(const Mlp& mlp, const torch::Tensor& x, const torch::Tensor& y) {
  MlpModel model(mlp);
  torch::Tensor loss_sum = torch::zeros({}, torch::kFloat64);
  torch::Tensor correct = torch::zeros({}, torch::kInt64);
  const auto sink = [&](std::size_t begin, const torch::Tensor& logits) {
    const auto b = static_cast<std::int64_t>(begin);
    const torch::Tensor labels = y.slice(0, b, b + logits.size(0));
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .to(torch::kFloat64);
    correct += logits.argmax(1).eq(labels).sum();
  };
  (void)run_model(model, static_cast<std::size_t>(x.size(0)), tensor_batches(x), {{}, kEvalBatch, {}, std::nullopt},
                  sink);
  return {loss_sum.item<double>(), static_cast<std::uint64_t>(correct.item<std::int64_t>())};
}

// What the end-of-epoch weights say about every training instance: its
// patterns, flows and correctness, and (against the previous epoch) the
// churn per layer and the ARI of the flow partitions.
struct EpochTrack {
  PatternStore patterns;
  Grouping flows;
  std::vector<std::uint64_t> unique;
  std::vector<std::uint8_t> correct;  // a CorrectnessHistory row
  std::vector<double> churn;
  std::optional<double> flow_ari;
};
using TrackFuture = std::shared_future<std::shared_ptr<const EpochTrack>>;

// The track of a model's weights over the training split; `previous` (may be
// invalid) is the track of the epoch before.
std::shared_ptr<const EpochTrack> track_epoch(const Mlp& mlp, const TrainingData& data, TrackFuture previous) {
  MlpModel model(mlp);
  std::vector<std::size_t> layers(data.shape.hidden.size());
  std::iota(layers.begin(), layers.end(), std::size_t{1});
  Observed seen = run_model(model, static_cast<std::size_t>(data.train_x.size(0)), tensor_batches(data.train_x),
                            {layers, kEvalBatch, {}, std::nullopt});
  auto track = std::make_shared<EpochTrack>(EpochTrack{std::move(seen.patterns), {}, {}, {}, {}, {}});
  std::vector<Grouping> by_layer;
  for (std::size_t l = 0; l < track->patterns.layers(); ++l) {
    by_layer.push_back(group_patterns(track->patterns, l));
    track->unique.push_back(by_layer.back().groups());
  }
  track->flows = flow_partition(by_layer);
  track->correct = correctness_row(seen.predicted, data.train_labels);
  if (previous.valid()) {
    const auto before = previous.get();
    const auto n = static_cast<double>(data.train_labels.size());
    for (const auto c : pattern_changes(before->patterns, track->patterns)) {
      track->churn.push_back(static_cast<double>(c) / n);
    }
    track->flow_ari = adjusted_rand_index(before->flows, track->flows);
  }
  return track;
}

// An epoch whose files are not all written yet: pattern tracking of epoch e
// runs on a snapshot of its end-of-epoch weights, concurrently with the
// training of epoch e+1.
struct PendingEpoch {
  EpochMetrics metrics;
  bool checkpoint = false;
  std::vector<torch::Tensor> momentum;  // as at the end of the epoch
  TrackFuture track;
};

class TrainingRun {
 public:
  TrainingRun(const TrainSettings& s, Verbosity verbosity, const RunInfo& info, const RunPaths& run, TrainingData data)
      : o_(s),
        verbosity_(verbosity),
        record_dynamics_(info.dynamics),
        run_(run),
        data_(std::move(data)),
        model_(seeded_model(s, data_.shape)),
        step_(model_, s.lr, s.momentum),
        progress_(verbosity, s.epochs),
        order_(data_.split.train.size()) {}

  // Continues from resume.pt: the weights, momentum and metrics of the last complete epoch.
  void restore() {
    if (!std::filesystem::exists(run_.resume_state())) {
      throw Error(fmt::format("{}: no complete checkpoint to resume from", run_.dir.string()));
    }
    const int done = read_resume_state(run_.resume_state(), step_.momentum_buffers());
    load_into(*model_, load_state_dict(run_.checkpoint(done)), run_.checkpoint(done).string());
    if (std::filesystem::exists(run_.metrics())) metrics_ = read_metrics(run_.metrics());
    std::erase_if(metrics_, [&](const EpochMetrics& m) { return m.epoch > done; });
    next_epoch_ = done + 1;
    if (record_dynamics_) {
      if (!std::filesystem::exists(run_.dynamics())) {
        throw Error(fmt::format("{}: missing, but run.json says the run records dynamics", run_.dynamics().string()));
      }
      dynamics_.emplace(
          DynamicsWriter::reopen(run_.dynamics(), data_.train_labels.size(), static_cast<std::size_t>(done)));
      // The churn of the next epoch compares with this one: recomputed from its weights.
      last_track_ = start_tracking(state_dict(*model_));
    }
    spdlog::log(verbosity_ == Verbosity::quiet ? spdlog::level::debug : spdlog::level::info,
                "resuming {} after epoch {} of {}", run_.dir.string(), done, o_.epochs);
  }

  // Starts a new run directory with its run.json.
  void start(const RunInfo& info) {
    std::filesystem::create_directories(run_.checkpoints());
    write_run_info(run_, info);
    if (record_dynamics_) dynamics_.emplace(DynamicsWriter::create(run_.dynamics(), data_.train_labels.size()));
  }

  // Trains the remaining epochs; 0, or 128 + the signal that stopped it.
  int run() {
    const StopSignals signals;
    std::optional<PendingEpoch> pending;
    for (int epoch = next_epoch_; epoch <= o_.epochs; ++epoch) {
      Stopwatch clock;
      train_epoch(epoch);
      const int sig = StopSignals::received();
      PendingEpoch next = finish_epoch(epoch, sig != 0);
      next.metrics.seconds = clock.lap();
      if (pending) commit(*pending);
      pending = std::move(next);
      if (sig != 0) {
        commit(*pending);
        progress_.finish();
        spdlog::error("{} received after epoch {}: its files are complete; continue with --resume",
                      sig == SIGINT ? "SIGINT" : "SIGTERM", epoch);
        return 128 + sig;
      }
    }
    if (pending) commit(*pending);
    progress_.finish();
    if (verbosity_ != Verbosity::quiet) {
      const auto best = best_epoch(metrics_);
      spdlog::info("done: {} epochs in {}; best validation loss {:.4f} at epoch {}", o_.epochs, run_.dir.string(),
                   best ? best->val_loss : 0.0, best ? best->epoch : 0);
    }
    return 0;
  }

 private:
  static Mlp seeded_model(const TrainSettings& o, const MlpShape& shape) {
    torch::manual_seed(o.seed);
    return Mlp(shape);
  }

  // One pass over the training split in the epoch's own seeded order.
  void train_epoch(int epoch) {
    std::iota(order_.begin(), order_.end(), std::int64_t{0});
    Rng rng = Rng::stream(o_.seed, static_cast<std::uint64_t>(epoch));
    shuffle(std::span(order_), rng);
    const torch::Tensor order = index_tensor(order_);
    for (std::int64_t b = 0; b < order.size(0); b += o_.batch_size) {
      const torch::Tensor idx = order.slice(0, b, std::min(order.size(0), b + o_.batch_size));
      step_(data_.train_x.index_select(0, idx), data_.train_y.index_select(0, idx));
    }
  }

  // The epoch's losses and accuracies, its checkpoint, and its pattern
  // tracking started on a snapshot of the weights.
  PendingEpoch finish_epoch(int epoch, bool stopping) {
    PendingEpoch next;
    EpochMetrics& m = next.metrics;
    const auto n_train = static_cast<double>(data_.split.train.size());
    const auto n_val = static_cast<double>(data_.split.validation.size());
    m.epoch = epoch;
    m.train_loss = step_.take_loss_sum() / n_train;
    m.train_acc = static_cast<double>(step_.take_correct()) / n_train;
    const Validation val = validate_model(model_, data_.val_x, data_.val_y);
    m.val_loss = val.loss_sum / n_val;
    m.val_acc = static_cast<double>(val.correct) / n_val;
    next.checkpoint = epoch % o_.checkpoint_every == 0 || epoch == o_.epochs || stopping;
    const StateDict weights = state_dict(*model_);
    if (next.checkpoint) {
      save_state_dict(weights, run_.checkpoint(epoch));
      for (const auto& b : step_.momentum_buffers()) next.momentum.push_back(b.clone());
    }
    if (o_.track_patterns) {
      next.track = start_tracking(weights);
      if (record_dynamics_) last_track_ = next.track;
    }
    return next;
  }

  // Tracks a snapshot of `weights` on another thread; with dynamics, against
  // the last epoch tracked.
  TrackFuture start_tracking(const StateDict& weights) const {
    Mlp snapshot(data_.shape);
    load_into(*snapshot, weights, "snapshot");
    TrackFuture previous = record_dynamics_ ? last_track_ : TrackFuture();
    return std::async(std::launch::async,
                      [snapshot, &data = data_, previous]() mutable {
                        // Taken out of the closure, which the future keeps: a chain of closures
                        // would otherwise hold every epoch's patterns.
                        TrackFuture before = std::exchange(previous, {});
                        return track_epoch(snapshot, data, std::move(before));
                      })
        .share();
  }

  // Commit order: checkpoint (already written), metrics, summary, then
  // resume.pt, which marks the epoch complete.
  void commit(PendingEpoch& p) {
    Stopwatch wait;
    if (p.track.valid()) {
      const auto track = p.track.get();
      p.metrics.unique_patterns = track->unique;
      if (record_dynamics_) {
        p.metrics.churn = track->churn;
        p.metrics.flow_ari = track->flow_ari;
        dynamics_->append(track->correct);  // before the metrics: see DynamicsWriter
      }
      p.track = {};
    }
    p.metrics.seconds += wait.lap();
    metrics_.push_back(p.metrics);
    write_file_atomically(run_.metrics(), metrics_jsonl(metrics_));
    double total = 0;
    for (const auto& e : metrics_) total += e.seconds;
    write_file_atomically(run_.summary(), run_summary(metrics_, total, p.metrics.epoch == o_.epochs).dump(2) + "\n");
    if (p.checkpoint) save_resume_state(run_.resume_state(), p.metrics.epoch, p.momentum);
    progress_.epoch(p.metrics, total / static_cast<double>(metrics_.size()));
  }

  const TrainSettings& o_;
  Verbosity verbosity_;
  bool record_dynamics_;
  RunPaths run_;
  TrainingData data_;
  Mlp model_;
  SgdStep step_;
  Progress progress_;
  std::vector<std::int64_t> order_;
  std::vector<EpochMetrics> metrics_;
  int next_epoch_ = 1;
  std::optional<DynamicsWriter> dynamics_;
  TrackFuture last_track_;  // of the last epoch whose tracking started (dynamics only)
};

// With --resume, run.json's settings (those given must agree), the run's
// info, and the directory cleared of a run that completed no epoch (it then
// restarts in place); without, a check that the directory holds no run.
std::optional<RunInfo> open_run_directory(const RunDir& dir, const TrainOptions& o, TrainSettings& settings) {
  const RunDir::State state = dir.state();
  if (!o.resume) {
    if (state == RunDir::State::epochs) {
      throw UsageError(
          fmt::format("--out {}: exists and is not empty; a run is never overwritten "
                      "(choose a new directory, or continue it with --resume)",
                      o.out.string()));
    }
    if (state == RunDir::State::no_epoch) {
      throw UsageError(
          fmt::format("--out {}: holds a run that stopped before completing an epoch; "
                      "restart it with --resume (or choose a new directory)",
                      o.out.string()));
    }
    dir.remove_stale_temporaries();
    return std::nullopt;
  }
  if (state == RunDir::State::none && std::filesystem::exists(dir.paths().dir)) {
    throw Error(
        fmt::format("{}: holds no run.json, only the leftovers of a run that never started; "
                    "start it again without --resume",
                    dir.paths().dir.string()));
  }
  RunInfo info = read_run_info(dir.paths());
  settings = resumed_settings(o, info);
  validate(settings);
  dir.remove_stale_temporaries();
  if (state == RunDir::State::no_epoch) {
    spdlog::warn(
        "{}: no epoch was completed before the run stopped; restarting it from epoch 1 with run.json's options",
        dir.paths().dir.string());
    dir.clear_epochs();
  }
  return info;
}

// run.json records paths as text (UTF-8): a path that is not cannot be
// recorded, and would leave a run directory without its run.json.
void require_utf8_path(const std::filesystem::path& path, const char* option) {
  if (!is_valid_utf8(std::filesystem::absolute(path).string())) {
    throw UsageError(fmt::format("{}: the path is not valid UTF-8, and run.json records paths as text", option));
  }
}

}  // namespace

int run_training(const TrainOptions& o) {
  TrainSettings settings = new_run_settings(o);
  validate(settings);
  if (o.out.empty()) throw UsageError("--out: a run directory is required");
  require_utf8_path(o.out, "--out");
  RunDir dir(o.out);
  if (o.resume && std::filesystem::is_directory(dir.paths().dir)) dir.lock();
  const std::optional<RunInfo> resumed = open_run_directory(dir, o, settings);
  require_utf8_path(settings.data, "--data");
  set_thread_count(settings.threads);
  spdlog::debug("{} thread(s)", settings.threads);
  TrainingData data = load_training_data(settings, resumed ? &*resumed : nullptr);
  if (resumed && resumed->data.sha256 != data.digests) {
    throw Error(fmt::format("{}: the dataset files differ from those the run was trained on (SHA-256 in run.json)",
                            data.files.dir.string()));
  }
  const RunInfo info = resumed ? *resumed : make_run_info(settings, data);
  if (!dir.locked()) {
    // A new run locks only now, having created nothing before; under the
    // lock the directory must still hold no run (another may have finished).
    dir.lock();
    if (dir.state() != RunDir::State::none) {
      throw UsageError(fmt::format("--out {}: another apd-train has started a run there", dir.paths().dir.string()));
    }
  }
  TrainingRun training(settings, o.verbosity, info, dir.paths(), std::move(data));
  if (resumed && std::filesystem::exists(dir.paths().resume_state())) {
    training.restore();
  } else {
    training.start(info);
  }
  return training.run();
}

}  // namespace apd
