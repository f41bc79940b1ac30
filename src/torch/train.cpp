#include "apd/torch/train.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/io/atomic_file.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/core/error.hpp"
#include "apd/torch/extraction.hpp"
#include "apd/core/random.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/torch/sgd.hpp"
#include "apd/io/digest.hpp"
#include "apd/torch/torch_data.hpp"
#include "apd/core/version.hpp"
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
  o.hidden = info.model.hidden;
  o.lr = info.hyper.lr;
  o.momentum = info.hyper.momentum;
  o.batch_size = info.hyper.batch_size;
  o.seed = info.hyper.seed;
  o.val_split = info.split.val_split;
  o.normalize = info.data.normalize;
  o.threads = info.threads;
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

// A run killed mid-write leaves a temporary file (".<name>.<pid>.tmp") that
// was never renamed into place; it is garbage, not data.
void remove_stale_temporaries(const RunPaths& run) {
  for (const auto& dir : {run.dir, run.checkpoints()}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && name.starts_with('.') && name.ends_with(".tmp")) std::filesystem::remove(entry.path());
    }
  }
}

class Progress {
 public:
  Progress(Verbosity v, int total) : verbosity_(v), total_(total), live_(isatty(STDERR_FILENO) == 1) {}
  void epoch(const EpochMetrics& m, double mean_seconds) {
    if (verbosity_ == Verbosity::quiet) return;
    const double eta = mean_seconds * (total_ - m.epoch);
    std::string patterns = m.unique_patterns.empty() ? "" : fmt::format(" patterns {}", fmt::join(m.unique_patterns, "/"));
    const std::string text = fmt::format("epoch {}/{} loss {:.4f} val_loss {:.4f} val_acc {:.4f}{} ({:.2f} s, ETA {:.0f} s)",
                                         m.epoch, total_, m.train_loss, m.val_loss, m.val_acc, patterns, m.seconds, eta);
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
  }
  if (!(o.lr > 0)) throw UsageError(fmt::format("--lr: {} must be > 0", o.lr));
  if (!(o.momentum >= 0 && o.momentum < 1)) throw UsageError(fmt::format("--momentum: {} is outside [0, 1)", o.momentum));
  if (o.epochs <= 0) throw UsageError(fmt::format("--epochs: {} must be at least 1", o.epochs));
  if (!(o.val_split > 0 && o.val_split < 1)) throw UsageError(fmt::format("--val-split: {} is outside (0, 1)", o.val_split));
  if (o.batch_size <= 0) throw UsageError(fmt::format("--batch-size: {} must be at least 1", o.batch_size));
  if (o.threads <= 0) throw UsageError(fmt::format("--threads: {} must be at least 1", o.threads));
  if (o.checkpoint_every <= 0) throw UsageError(fmt::format("--checkpoint-every: {} must be at least 1", o.checkpoint_every));
  if (o.out.empty()) throw UsageError("--out: a run directory is required");
}

int run_training(const TrainOptions& options) {
  TrainOptions o = options;  // --resume completes it from run.json
  validate(o);
  const RunPaths run{o.out};
  RunInfo info;
  std::vector<EpochMetrics> metrics;
  int start_epoch = 1;
  if (o.resume) {
    info = read_run_info(run);
    reconcile(o, info);
    validate(o);
    remove_stale_temporaries(run);
  } else if (std::filesystem::exists(o.out) &&
             (!std::filesystem::is_directory(o.out) || !std::filesystem::is_empty(o.out))) {
    throw UsageError(fmt::format("--out {}: exists and is not empty; a run is never overwritten "
                                 "(choose a new directory, or continue it with --resume)",
                                 o.out.string()));
  }
  set_thread_count(o.threads);

  Stopwatch clock;
  spdlog::debug("{} thread(s)", o.threads);
  const DatasetFiles files = find_dataset(o.data);
  const LabeledImages source = read_labeled_images(files.train_images, files.train_labels);
  spdlog::debug("read {} ({} images of {} pixels) in {:.2f} s", files.train_images.string(), source.images.count,
                source.images.image_size(), clock.lap());
  auto digests = dataset_digests(files);
  spdlog::debug("SHA-256 of the four dataset files in {:.2f} s", clock.lap());
  if (o.resume && info.data.sha256 != digests) {
    throw Error(fmt::format("{}: the dataset files differ from those the run was trained on (SHA-256 in run.json)",
                            files.dir.string()));
  }
  const Split split = [&] {
    try {
      return make_split(source.images.count, o.val_split, o.seed);
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("--val-split: {}", e.what()));
    }
  }();
  const TensorSet data = to_tensors(source, o.normalize);
  std::int64_t classes = 0;
  for (const auto l : source.labels) classes = std::max<std::int64_t>(classes, l + 1);
  const MlpShape shape{static_cast<std::int64_t>(source.images.image_size()), o.hidden, classes};

  torch::manual_seed(o.seed);
  Mlp model(shape);
  SgdStep step(model, o.lr, o.momentum);

  if (o.resume) {
    if (!std::filesystem::exists(run.resume_state())) {
      throw Error(fmt::format("{}: no complete checkpoint to resume from", run.dir.string()));
    }
    const StateDict state = load_state_dict(run.resume_state());
    const int done = static_cast<int>(state.at(0).second.item<std::int64_t>());
    load_into(*model, load_state_dict(run.checkpoint(done)), run.checkpoint(done).string());
    for (std::size_t k = 0; k < step.momentum_buffers().size(); ++k) step.momentum_buffers()[k].copy_(state.at(k + 1).second);
    if (std::filesystem::exists(run.metrics())) metrics = read_metrics(run.metrics());
    std::erase_if(metrics, [&](const EpochMetrics& m) { return m.epoch > done; });
    start_epoch = done + 1;
    spdlog::log(o.verbosity == Verbosity::quiet ? spdlog::level::debug : spdlog::level::info,
                "resuming {} after epoch {} of {}", run.dir.string(), done, o.epochs);
  } else {
    std::filesystem::create_directories(run.checkpoints());
    info = make_run_info(o, shape, files, std::move(digests), split, source.images.count);
    write_run_info(run, info);
  }

  SignalGuard signals;
  g_signal.store(0);
  Progress progress(o.verbosity, o.epochs);
  // The splits as contiguous tensors: training batches gather from the train
  // split, and evaluation batches are views.
  const torch::Tensor train_x = data.images.index_select(0, index_tensor(split.train));
  const torch::Tensor train_y = data.labels.index_select(0, index_tensor(split.train));
  const torch::Tensor val_x = data.images.index_select(0, index_tensor(split.validation));
  const torch::Tensor val_y = data.labels.index_select(0, index_tensor(split.validation));
  const auto n_train = static_cast<double>(split.train.size());
  std::vector<std::int64_t> order(split.train.size());

  // Pattern tracking of epoch e runs on a snapshot of its end-of-epoch weights,
  // concurrently with the training of epoch e+1; epoch e's metrics, summary and
  // resume state are committed once it is done.
  struct Pending {
    EpochMetrics metrics;
    bool checkpoint = false;
    std::vector<torch::Tensor> momentum;  // as at the end of the epoch
    std::future<std::vector<std::uint64_t>> patterns;
  };
  std::optional<Pending> pending;
  auto commit = [&](Pending& p) {
    const auto wait_start = std::chrono::steady_clock::now();
    if (p.patterns.valid()) p.patterns.get().swap(p.metrics.unique_patterns);
    p.metrics.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - wait_start).count();
    metrics.push_back(p.metrics);
    // Commit order: checkpoint (already written), metrics, summary, then
    // resume.pt, which marks the epoch complete.
    write_file_atomically(run.metrics(), metrics_jsonl(metrics));
    double total = 0;
    for (const auto& e : metrics) total += e.seconds;
    write_file_atomically(run.summary(), run_summary(metrics, total, p.metrics.epoch == o.epochs).dump(2) + "\n");
    if (p.checkpoint) save_resume_state(run, p.metrics.epoch, p.momentum);
    progress.epoch(p.metrics, total / static_cast<double>(metrics.size()));
  };

  for (int epoch = start_epoch; epoch <= o.epochs; ++epoch) {
    const auto t0 = std::chrono::steady_clock::now();
    std::iota(order.begin(), order.end(), std::int64_t{0});
    Rng rng = Rng::stream(o.seed, static_cast<std::uint64_t>(epoch));
    shuffle(std::span(order), rng);
    const torch::Tensor order_t = index_tensor(order);
    for (std::int64_t b = 0; b < order_t.size(0); b += o.batch_size) {
      const torch::Tensor idx = order_t.slice(0, b, std::min(order_t.size(0), b + o.batch_size));
      step(train_x.index_select(0, idx), train_y.index_select(0, idx));
    }
    Pending next;
    EpochMetrics& m = next.metrics;
    m.epoch = epoch;
    m.train_loss = step.take_loss_sum() / n_train;
    m.train_acc = static_cast<double>(step.take_correct()) / n_train;
    const ForwardPass val = forward_pass(*model, val_x, val_y, kEvalBatch, false);
    m.val_loss = val.loss_sum / static_cast<double>(split.validation.size());
    m.val_acc = static_cast<double>(val.correct) / static_cast<double>(split.validation.size());

    const int sig = g_signal.load();
    next.checkpoint = epoch % o.checkpoint_every == 0 || epoch == o.epochs || sig != 0;
    const StateDict weights = state_dict(*model);
    if (next.checkpoint) {
      save_state_dict(weights, run.checkpoint(epoch));
      for (const auto& b : step.momentum_buffers()) next.momentum.push_back(b.clone());
    }
    if (o.track_patterns) {
      Mlp snapshot(shape);
      load_into(*snapshot, weights, "snapshot");
      next.patterns = std::async(std::launch::async, [snapshot, &train_x]() mutable {
        const ForwardPass tracked = forward_pass(*snapshot, train_x, {}, kEvalBatch, true);
        std::vector<std::uint64_t> counts;
        for (const auto c : unique_pattern_counts(tracked.patterns)) counts.push_back(c);
        return counts;
      });
    }
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pending) commit(*pending);
    pending = std::move(next);

    if (sig != 0) {
      commit(*pending);
      progress.finish();
      spdlog::error("{} received after epoch {}: its files are complete; continue with --resume",
                    sig == SIGINT ? "SIGINT" : "SIGTERM", epoch);
      return 128 + sig;
    }
  }
  if (pending) commit(*pending);
  progress.finish();
  if (o.verbosity != Verbosity::quiet) {
    const auto best = best_epoch(metrics);
    spdlog::info("done: {} epochs in {}; best validation loss {:.4f} at epoch {}", o.epochs, run.dir.string(),
                 best ? best->val_loss : 0.0, best ? best->epoch : 0);
  }
  return 0;
}

}  // namespace apd
