// apd-train's settings: the defaults, what the user gives, and what a
// resumed run's run.json recorded (compared by value).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/torch/model_choice.hpp"
#include "apd/torch/train.hpp"

namespace apd {

namespace {

template <typename T>
void take(T& setting, const std::optional<T>& given) {
  if (given) setting = *given;
}

// A setting given again with --resume must be the one run.json recorded.
template <typename T, typename R>
void agree(const char* option, const std::optional<T>& given, const R& recorded) {
  if (!given) return;
  const nlohmann::json was(recorded), now(*given);
  if (was != now) {
    throw UsageError(fmt::format("--resume: --{} {} contradicts run.json ({})", option, now.dump(), was.dump()));
  }
}

}  // namespace

TrainSettings new_run_settings(const TrainOptions& o) {
  if (o.corrupt_seed && !(o.corrupt_labels.value_or(0) > 0) && !o.resume) {
    throw UsageError("--corrupt-seed: needs --corrupt-labels P (P > 0)");
  }
  TrainSettings s;
  take(s.data, o.data);
  take(s.hidden, o.hidden);
  take(s.classes, o.classes);
  take(s.epochs, o.epochs);
  take(s.lr, o.lr);
  take(s.momentum, o.momentum);
  take(s.batch_size, o.batch_size);
  take(s.val_split, o.val_split);
  take(s.seed, o.seed);
  take(s.threads, o.threads);
  take(s.normalize, o.normalize);
  take(s.checkpoint_every, o.checkpoint_every);
  take(s.track_patterns, o.track_patterns);
  take(s.corrupt_labels, o.corrupt_labels);
  take(s.corrupt_seed, o.corrupt_seed);
  return s;
}

TrainSettings resumed_settings(const TrainOptions& o, const RunInfo& info) {
  const auto& c = info.corruption;
  agree("hidden", o.hidden, info.model.hidden);
  agree("lr", o.lr, info.hyper.lr);
  agree("momentum", o.momentum, info.hyper.momentum);
  agree("batch-size", o.batch_size, info.hyper.batch_size);
  agree("seed", o.seed, info.hyper.seed);
  agree("val-split", o.val_split, info.split.val_split);
  agree("normalize", o.normalize ? std::optional(std::string(to_string(*o.normalize))) : std::nullopt,
        std::string(to_string(info.data.normalize)));
  agree("threads", o.threads, info.threads);
  agree("classes", o.classes, info.model.classes);
  agree("corrupt-labels", o.corrupt_labels, c ? c->probability : 0.0);
  agree("corrupt-seed", o.corrupt_seed, c ? c->seed : std::uint64_t{0});
  if (info.dynamics && o.track_patterns == false) {
    throw UsageError("--resume: --no-track-patterns contradicts run.json (the run records dynamics every epoch)");
  }
  TrainSettings s{
      info.data.dir,       info.model.hidden,     info.model.classes,   info.hyper.epochs,        info.hyper.lr,
      info.hyper.momentum, info.hyper.batch_size, info.split.val_split, info.hyper.seed,          info.threads,
      info.data.normalize, info.checkpoint_every, info.track_patterns,  c ? c->probability : 0.0, c ? c->seed : 0};
  take(s.epochs, o.epochs);
  take(s.data, o.data);
  take(s.checkpoint_every, o.checkpoint_every);
  take(s.track_patterns, o.track_patterns);
  return s;
}

void validate(const TrainSettings& s) {
  if (s.hidden.empty()) throw UsageError("--hidden: at least one hidden layer is needed (e.g. 40,40,40)");
  for (const auto w : s.hidden) {
    if (w <= 0) throw UsageError(fmt::format("--hidden: layer width {} must be positive", w));
    if (w > kMaxLayerWidth)
      throw UsageError(fmt::format("--hidden: layer width {} exceeds the maximum of {}", w, kMaxLayerWidth));
  }
  if (!(s.lr > 0)) throw UsageError(fmt::format("--lr: {} must be > 0", s.lr));
  if (!(s.momentum >= 0 && s.momentum < 1))
    throw UsageError(fmt::format("--momentum: {} is outside [0, 1)", s.momentum));
  check_count_option("--epochs", s.epochs, kMaxEpochs);
  if (!(s.val_split > 0 && s.val_split < 1))
    throw UsageError(fmt::format("--val-split: {} is outside (0, 1)", s.val_split));
  validate(Compute{s.batch_size, s.threads});
  if (s.checkpoint_every <= 0)
    throw UsageError(fmt::format("--checkpoint-every: {} must be at least 1", s.checkpoint_every));
  if (!(s.corrupt_labels >= 0 && s.corrupt_labels <= 1))
    throw UsageError(fmt::format("--corrupt-labels: {} is outside [0, 1]", s.corrupt_labels));
}

}  // namespace apd
