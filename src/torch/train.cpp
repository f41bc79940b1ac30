#include "apd/torch/train.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <future>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/random.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/core/version.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/dynamics_file.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/extraction.hpp"
#include "apd/torch/sgd.hpp"
#include "apd/torch/torch_data.hpp"
#include "threading.hpp"

namespace apd {

namespace {

std::atomic<int> g_signal{0};

extern "C" void on_signal(int sig) { g_signal.store(sig); }

// Installs SIGINT/SIGTERM handlers for the lifetime of the object.
class SignalGuard {
 public:
  SignalGuard() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

constexpr std::int64_t kEvalBatch = 2048;

std::map<std::string, std::string> dataset_digests(const DatasetFiles& files) {
  std::map<std::string, std::string> sums;
  for (const auto& p : {files.train_images, files.train_labels, files.test_images, files.test_labels}) {
    sums[p.filename().string()] = sha256_file(p);
  }
  return sums;
}

RunInfo make_run_info(const TrainOptions& o, const MlpShape& shape, const DatasetFiles& files,
                      std::map<std::string, std::string> digests, const Split& split, std::size_t source_count) {
  RunInfo info;
  info.tool = {"apd-train", std::string(version()), std::string(git_sha())};
  info.model = {describe(shape), shape.inputs, shape.hidden, shape.classes};
  info.data = {std::filesystem::absolute(files.dir).lexically_normal(), std::move(digests), o.normalize};
  info.split = {o.seed, o.val_split, source_count, split.train.size(), split.validation.size(), split.validation};
  info.hyper = {o.epochs, o.lr, o.momentum, o.batch_size, o.seed};
  info.threads = o.threads;
  info.checkpoint_every = o.checkpoint_every;
  info.track_patterns = o.track_patterns;
  info.dynamics = o.track_patterns;
  return info;
}

// With --resume: options the user gave must agree with run.json; the rest come from it.
void reconcile(TrainOptions& o, const RunInfo& info) {
  auto check = [&](const char* name, const nlohmann::json& recorded, const nlohmann::json& given) {
    if (o.given.count(name) != 0 && recorded != given) {
      throw UsageError(fmt::format("--resume: --{} {} contradicts run.json ({})", name, given.dump(), recorded.dump()));
    }
  };
  check("hidden", info.model.hidden, o.hidden);
  check("lr", info.hyper.lr, o.lr);
  check("momentum", info.hyper.momentum, o.momentum);
  check("batch-size", info.hyper.batch_size, o.batch_size);
  check("seed", info.hyper.seed, o.seed);
  check("val-split", info.split.val_split, o.val_split);
  check("normalize", to_string(info.data.normalize), to_string(o.normalize));
  check("threads", info.threads, o.threads);
  check("classes", info.model.classes, o.classes);
  check("corrupt-labels", info.corruption ? info.corruption->probability : 0.0, o.corrupt_labels);
  check("corrupt-seed", info.corruption ? info.corruption->seed : std::uint64_t{0}, o.corrupt_seed);
  if (info.dynamics && o.given.count("no-track-patterns") != 0) {
    throw UsageError("--resume: --no-track-patterns contradicts run.json (the run records dynamics every epoch)");
  }
  o.hidden = info.model.hidden;
  o.lr = info.hyper.lr;
  o.momentum = info.hyper.momentum;
  o.batch_size = info.hyper.batch_size;
  o.seed = info.hyper.seed;
  o.val_split = info.split.val_split;
  o.normalize = info.data.normalize;
  o.threads = info.threads;
  o.classes = info.model.classes;
  o.corrupt_labels = info.corruption ? info.corruption->probability : 0.0;
  o.corrupt_seed = info.corruption ? info.corruption->seed : 0;
  if (o.given.count("epochs") == 0) o.epochs = info.hyper.epochs;
  if (o.given.count("data") == 0) o.data = info.data.dir;
  if (o.given.count("checkpoint-every") == 0) o.checkpoint_every = info.checkpoint_every;
  if (o.given.count("no-track-patterns") == 0) o.track_patterns = info.track_patterns;
}

void save_resume_state(const RunPaths& run, int epoch, const std::vector<torch::Tensor>& buffers) {
  StateDict state;
  state.emplace_back("epoch", torch::tensor(static_cast<std::int64_t>(epoch)));
  for (std::size_t k = 0; k < buffers.size(); ++k) state.emplace_back(fmt::format("momentum.{}", k), buffers[k]);
  save_state_dict(state, run.resume_state());
}

// resume.pt as save_resume_state wrote it: the epoch, then one momentum
// buffer per parameter, each of its shape. Anything else names the file.
int read_resume_state(const std::filesystem::path& path, std::vector<torch::Tensor>& buffers) {
  const StateDict state = load_state_dict(path);
  const auto bad = [&](const std::string& why) { return Error(fmt::format("{}: {}", path.string(), why)); };
  if (state.size() != buffers.size() + 1) {
    throw bad(fmt::format("{} tensors, a resume state of this model has {}", state.size(), buffers.size() + 1));
  }
  const auto& [key, epoch] = state[0];
  if (key != "epoch" || epoch.numel() != 1 || epoch.scalar_type() != torch::kInt64) {
    throw bad("its first tensor is not the epoch");
  }
  const std::int64_t done = epoch.item<std::int64_t>();
  if (done < 1 || done > kMaxEpochs) throw bad(fmt::format("epoch {} is outside 1..{}", done, kMaxEpochs));
  for (std::size_t k = 0; k < buffers.size(); ++k) {
    const auto& [name, buffer] = state[k + 1];
    if (name != fmt::format("momentum.{}", k) || buffer.sizes() != buffers[k].sizes()) {
      throw bad(fmt::format("tensor \"{}\" is not momentum buffer {} of shape {}", name, k,
                            fmt::join(buffers[k].sizes(), "x")));
    }
    buffers[k].copy_(buffer);
  }
  return static_cast<int>(done);
}

// A run killed mid-write leaves a temporary file (".<name>.<pid>.tmp") that
// was never renamed into place; it is garbage, not data.
void remove_stale_temporaries(const RunPaths& run) {
  for (const auto& dir : {run.dir, run.checkpoints()}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.starts_with('.') && name.ends_with(".tmp"))
        std::filesystem::remove(entry.path());
    }
  }
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

}  // namespace

void validate(const TrainOptions& o) {
  if (o.hidden.empty()) throw UsageError("--hidden: at least one hidden layer is needed (e.g. 40,40,40)");
  for (const auto w : o.hidden) {
    if (w <= 0) throw UsageError(fmt::format("--hidden: layer width {} must be positive", w));
    if (w > kMaxLayerWidth)
      throw UsageError(fmt::format("--hidden: layer width {} exceeds the maximum of {}", w, kMaxLayerWidth));
  }
  if (!(o.lr > 0)) throw UsageError(fmt::format("--lr: {} must be > 0", o.lr));
  if (!(o.momentum >= 0 && o.momentum < 1))
    throw UsageError(fmt::format("--momentum: {} is outside [0, 1)", o.momentum));
  if (o.epochs <= 0) throw UsageError(fmt::format("--epochs: {} must be at least 1", o.epochs));
  if (o.epochs > kMaxEpochs)
    throw UsageError(fmt::format("--epochs: {} exceeds the maximum of {}", o.epochs, kMaxEpochs));
  if (!(o.val_split > 0 && o.val_split < 1))
    throw UsageError(fmt::format("--val-split: {} is outside (0, 1)", o.val_split));
  if (o.batch_size <= 0) throw UsageError(fmt::format("--batch-size: {} must be at least 1", o.batch_size));
  if (o.batch_size > kMaxBatchSize) {
    throw UsageError(fmt::format("--batch-size: {} exceeds the maximum of {}", o.batch_size, kMaxBatchSize));
  }
  if (o.threads <= 0) throw UsageError(fmt::format("--threads: {} must be at least 1", o.threads));
  if (o.threads > kMaxThreads)
    throw UsageError(fmt::format("--threads: {} exceeds the maximum of {}", o.threads, kMaxThreads));
  if (o.checkpoint_every <= 0)
    throw UsageError(fmt::format("--checkpoint-every: {} must be at least 1", o.checkpoint_every));
  if (!(o.corrupt_labels >= 0 && o.corrupt_labels <= 1))
    throw UsageError(fmt::format("--corrupt-labels: {} is outside [0, 1]", o.corrupt_labels));
  if (o.given.count("corrupt-seed") != 0 && !(o.corrupt_labels > 0) && !o.resume)
    throw UsageError("--corrupt-seed: needs --corrupt-labels P (P > 0)");
  if (o.out.empty()) throw UsageError("--out: a run directory is required");
}

namespace {

// The data of a run: the source images, their split, and the tensors the
// training and evaluation batches come from.
struct TrainingData {
  DatasetFiles files;
  std::size_t source_count = 0;
  std::map<std::string, std::string> digests;
  Split split;
  MlpShape shape;
  torch::Tensor train_x, train_y, val_x, val_y;  // train_y: the labels trained on (after corruption)
  std::vector<std::int32_t> train_labels;        // train_y as a vector, for correctness rows
  std::optional<RunInfo::LabelCorruption> corruption;
};

// The number of classes: --classes, which every label must be below, or
// else 1 + the largest label, provided the labels use most of 0..largest (a
// stray byte of 200 in a file of digits is corruption, not a 201st class).
std::int64_t class_count(std::span<const std::uint8_t> labels, std::int64_t given, const std::filesystem::path& file) {
  std::array<std::uint64_t, 256> seen{};
  for (const auto l : labels) ++seen[l];
  std::int64_t largest = 0, distinct = 0;
  for (std::size_t l = 0; l < seen.size(); ++l) {
    if (seen[l] == 0) continue;
    largest = static_cast<std::int64_t>(l);
    ++distinct;
  }
  if (given > 0) {
    if (largest >= given) {
      throw Error(
          fmt::format("{}: label {} is outside 0..{} (--classes {})", file.string(), largest, given - 1, given));
    }
    return given;
  }
  if (2 * distinct < largest + 1) {
    throw Error(
        fmt::format("{}: labels reach {} but take only {} distinct values: a corrupt label file? "
                    "(--classes {} trains with {} classes anyway)",
                    file.string(), largest, distinct, largest + 1, largest + 1));
  }
  return largest + 1;
}

// --corrupt-labels: a new run draws the noise from its seed; a resumed run
// applies what its run.json recorded.
std::optional<RunInfo::LabelCorruption> corrupt_labels(TrainingData& data, const TrainOptions& o,
                                                       const RunInfo* resumed) {
  if (resumed != nullptr) {
    if (!resumed->corruption) return std::nullopt;
    auto* y = data.train_y.data_ptr<std::int64_t>();
    const auto& c = *resumed->corruption;
    const auto positions = training_positions(c, data.split.train);
    for (std::size_t k = 0; k < positions.size(); ++k) y[positions[k]] = c.labels[k];
    return c;
  }
  if (!(o.corrupt_labels > 0)) return std::nullopt;
  const auto n = static_cast<std::size_t>(data.train_y.size(0));
  auto* y = data.train_y.data_ptr<std::int64_t>();
  const LabelNoise noise = draw_label_noise({y, n}, data.shape.classes, o.corrupt_labels, o.corrupt_seed);
  RunInfo::LabelCorruption c{o.corrupt_labels, o.corrupt_seed, {}, noise.labels};
  for (std::size_t k = 0; k < noise.positions.size(); ++k) {
    c.indices.push_back(data.split.train[noise.positions[k]]);
    y[noise.positions[k]] = noise.labels[k];
  }
  spdlog::debug("--corrupt-labels {}: {} of {} training labels changed", o.corrupt_labels, c.indices.size(), n);
  return c;
}

TrainingData load_training_data(const TrainOptions& o, const RunInfo* resumed) {
  Stopwatch clock;
  TrainingData data;
  data.files = find_dataset(o.data);
  const LabeledImages source = read_labeled_images(data.files.train_images, data.files.train_labels);
  spdlog::debug("read {} ({} images of {} pixels) in {:.2f} s", data.files.train_images.string(), source.images.count,
                source.images.image_size(), clock.lap());
  data.digests = dataset_digests(data.files);
  spdlog::debug("SHA-256 of the four dataset files in {:.2f} s", clock.lap());
  data.source_count = source.images.count;
  try {
    data.split = make_split(source.images.count, o.val_split, o.seed);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("--val-split: {}", e.what()));
  }
  data.shape = MlpShape{static_cast<std::int64_t>(source.images.image_size()), o.hidden,
                        class_count(source.labels, o.classes, data.files.train_labels)};
  // The splits as contiguous tensors: training batches gather from the train
  // split, and evaluation batches are views.
  const TensorSet all = to_tensors(source, o.normalize);
  data.train_x = all.images.index_select(0, index_tensor(data.split.train));
  data.train_y = all.labels.index_select(0, index_tensor(data.split.train));
  data.val_x = all.images.index_select(0, index_tensor(data.split.validation));
  data.val_y = all.labels.index_select(0, index_tensor(data.split.validation));
  data.corruption = corrupt_labels(data, o, resumed);
  const auto* y = data.train_y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < data.train_y.size(0); ++i) data.train_labels.push_back(static_cast<std::int32_t>(y[i]));
  return data;
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
std::shared_ptr<const EpochTrack> track_epoch(Mlp& model, const TrainingData& data, TrackFuture previous) {
  ForwardPass pass = forward_pass(*model, data.train_x, {}, kEvalBatch, true);
  auto track = std::make_shared<EpochTrack>(EpochTrack{std::move(pass.patterns), {}, {}, {}, {}, {}});
  std::vector<Grouping> by_layer;
  for (std::size_t l = 0; l < track->patterns.layers(); ++l) {
    by_layer.push_back(group_patterns(track->patterns, l));
    track->unique.push_back(by_layer.back().groups());
  }
  track->flows = flow_partition(by_layer);
  track->correct = correctness_row(pass.predicted, data.train_labels);
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
  TrainingRun(const TrainOptions& o, const RunInfo& info, TrainingData data)
      : o_(o),
        record_dynamics_(info.dynamics),
        run_{o.out},
        data_(std::move(data)),
        model_(seeded_model(o, data_.shape)),
        step_(model_, o.lr, o.momentum),
        progress_(o.verbosity, o.epochs),
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
    spdlog::log(o_.verbosity == Verbosity::quiet ? spdlog::level::debug : spdlog::level::info,
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
    SignalGuard signals;
    g_signal.store(0);
    std::optional<PendingEpoch> pending;
    for (int epoch = next_epoch_; epoch <= o_.epochs; ++epoch) {
      Stopwatch clock;
      train_epoch(epoch);
      const int sig = g_signal.load();
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
    if (o_.verbosity != Verbosity::quiet) {
      const auto best = best_epoch(metrics_);
      spdlog::info("done: {} epochs in {}; best validation loss {:.4f} at epoch {}", o_.epochs, run_.dir.string(),
                   best ? best->val_loss : 0.0, best ? best->epoch : 0);
    }
    return 0;
  }

 private:
  static Mlp seeded_model(const TrainOptions& o, const MlpShape& shape) {
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
    const ForwardPass val = forward_pass(*model_, data_.val_x, data_.val_y, kEvalBatch, false);
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
    if (p.checkpoint) save_resume_state(run_, p.metrics.epoch, p.momentum);
    progress_.epoch(p.metrics, total / static_cast<double>(metrics_.size()));
  }

  const TrainOptions& o_;
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

// With --resume, the options completed from run.json; otherwise a check that
// the run directory is new.
// Held for the whole training: a second apd-train on the same directory
// (or one of its --resume) is refused instead of interleaving its files.
class RunLock {
 public:
  explicit RunLock(const RunPaths& run) {
    std::filesystem::create_directories(run.dir);
    const auto path = run.dir / ".lock";
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error(fmt::format("{}: cannot create the run's lock file: {}", path.string(), std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw Error(
          fmt::format("{}: another apd-train is writing this run (it holds {})", run.dir.string(), path.string()));
    }
  }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock() { ::close(fd_); }

 private:
  int fd_ = -1;
};

// What a directory given as --out holds: nothing of a run (it may still hold
// the leftovers of one that never wrote run.json: an empty checkpoints/,
// temporary files, the lock), a run that completed no epoch (no resume.pt
// yet), or a run with complete epochs.
enum class RunState { none, no_epoch, epochs };

RunState run_state(const RunPaths& run) {
  if (std::filesystem::exists(run.run_json())) {
    return std::filesystem::exists(run.resume_state()) ? RunState::epochs : RunState::no_epoch;
  }
  if (!std::filesystem::exists(run.dir)) return RunState::none;
  if (!std::filesystem::is_directory(run.dir)) return RunState::epochs;  // a file: never touched
  for (const auto& entry : std::filesystem::directory_iterator(run.dir)) {
    const std::string name = entry.path().filename().string();
    const bool leftover = name == ".lock" || (name.starts_with('.') && name.ends_with(".tmp")) ||
                          (name == "checkpoints" && entry.is_directory() && std::filesystem::is_empty(entry.path()));
    if (!leftover) return RunState::epochs;  // something else: not ours to remove
  }
  return RunState::none;
}

// Removes a run's files except run.json, to restart it from epoch 1.
void clear_epochs(const RunPaths& run) {
  std::filesystem::remove_all(run.checkpoints());
  std::filesystem::remove(run.metrics());
  std::filesystem::remove(run.summary());
  std::filesystem::remove(run.dynamics());
}

// With --resume, the options completed from run.json (nothing when the run
// must restart from epoch 1, which it then does in place); without, a check
// that the directory holds no run.
std::optional<RunInfo> open_run_directory(TrainOptions& o) {
  const RunPaths run{o.out};
  const RunState state = run_state(run);
  if (!o.resume) {
    if (state == RunState::epochs) {
      throw UsageError(
          fmt::format("--out {}: exists and is not empty; a run is never overwritten "
                      "(choose a new directory, or continue it with --resume)",
                      o.out.string()));
    }
    if (state == RunState::no_epoch) {
      throw UsageError(
          fmt::format("--out {}: holds a run that stopped before completing an epoch; "
                      "restart it with --resume (or choose a new directory)",
                      o.out.string()));
    }
    remove_stale_temporaries(run);
    return std::nullopt;
  }
  if (state == RunState::none && std::filesystem::exists(run.dir)) {
    throw Error(
        fmt::format("{}: holds no run.json, only the leftovers of a run that never started; "
                    "start it again without --resume",
                    run.dir.string()));
  }
  RunInfo info = read_run_info(run);
  reconcile(o, info);
  validate(o);
  remove_stale_temporaries(run);
  if (state == RunState::no_epoch) {
    spdlog::warn(
        "{}: no epoch was completed before the run stopped; restarting it from epoch 1 with run.json's options",
        run.dir.string());
    clear_epochs(run);
  }
  return info;
}

// run.json records paths as text (UTF-8): a path that is not cannot be
// recorded, and would leave a run directory without its run.json.
void require_utf8_path(const std::filesystem::path& path, const char* option) {
  try {
    (void)nlohmann::json(std::filesystem::absolute(path).string()).dump();
  } catch (const nlohmann::json::type_error&) {
    throw UsageError(fmt::format("{}: the path is not valid UTF-8, and run.json records paths as text", option));
  }
}

}  // namespace

int run_training(const TrainOptions& options) {
  TrainOptions o = options;  // --resume completes it from run.json
  validate(o);
  require_utf8_path(o.out, "--out");
  const RunPaths run{o.out};
  std::optional<RunLock> lock;
  if (o.resume && std::filesystem::is_directory(run.dir)) lock.emplace(run);
  const std::optional<RunInfo> resumed = open_run_directory(o);
  require_utf8_path(o.data, "--data");
  set_thread_count(o.threads);
  spdlog::debug("{} thread(s)", o.threads);
  TrainingData data = load_training_data(o, resumed ? &*resumed : nullptr);
  if (resumed && resumed->data.sha256 != data.digests) {
    throw Error(fmt::format("{}: the dataset files differ from those the run was trained on (SHA-256 in run.json)",
                            data.files.dir.string()));
  }
  RunInfo info =
      resumed ? *resumed : make_run_info(o, data.shape, data.files, data.digests, data.split, data.source_count);
  if (!resumed) info.corruption = data.corruption;
  if (!lock) {
    // A new run locks only now, having created nothing before; under the
    // lock the directory must still hold no run (another may have finished).
    lock.emplace(run);
    if (run_state(run) != RunState::none) {
      throw UsageError(fmt::format("--out {}: another apd-train has started a run there", run.dir.string()));
    }
  }
  TrainingRun training(o, info, std::move(data));
  if (resumed && std::filesystem::exists(run.resume_state())) {
    training.restore();
  } else {
    training.start(info);
  }
  return training.run();
}

}  // namespace apd
