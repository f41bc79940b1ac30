#include "apd/report/forgetting.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/io/dataset.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/dynamics_file.hpp"
#include "apd/io/idx.hpp"
#include "apd/io/run_info.hpp"

namespace apd {

namespace {

// The training labels file of the run's dataset, as run.json recorded it.
std::vector<std::uint8_t> source_labels(const RunPaths& run, const RunInfo& info) {
  const DatasetFiles files = find_dataset(info.data.dir);
  const auto name = files.train_labels.filename().string();
  const auto recorded = info.data.sha256.find(name);
  if (recorded == info.data.sha256.end() || recorded->second != sha256_file(files.train_labels)) {
    throw Error(fmt::format("{}: differs from the file the run {} was trained on (SHA-256 in run.json)",
                            files.train_labels.string(), run.dir.string()));
  }
  std::vector<std::uint8_t> labels = read_idx_labels(files.train_labels);
  if (labels.size() != info.split.source_count) {
    throw Error(fmt::format("{}: {} labels, run.json says {}", files.train_labels.string(), labels.size(),
                            info.split.source_count));
  }
  return labels;
}

// The run's complete epochs: metrics.jsonl must hold 1..k in order.
std::size_t complete_epochs(const RunPaths& run) {
  if (!std::filesystem::exists(run.metrics())) {
    throw Error(fmt::format("{}: no metrics.jsonl (has the run finished an epoch?)", run.dir.string()));
  }
  const auto metrics = read_metrics(run.metrics());
  for (std::size_t k = 0; k < metrics.size(); ++k) {
    if (metrics[k].epoch != static_cast<int>(k + 1)) {
      throw Error(
          fmt::format("{}: line {} is epoch {}, expected {}", run.metrics().string(), k + 1, metrics[k].epoch, k + 1));
    }
  }
  return metrics.size();
}

struct InstanceGroup {
  const char* name;
  int corrupted;  // -1: every instance
};

}  // namespace

RunDynamics read_run_dynamics(const RunPaths& run) {
  const RunInfo info = read_run_info(run);
  if (!info.dynamics) {
    throw Error(fmt::format(
        "{}: the run recorded no per-instance dynamics (trained with --no-track-patterns, or by apd-train before "
        "0.2): train it again to get forgetting events",
        run.dir.string()));
  }
  const std::size_t epochs = complete_epochs(run);
  const std::vector<std::int64_t> train = info.train_indices();
  RunDynamics r{train, {}, {}, info.corruption.has_value(), read_dynamics(run.dynamics(), train.size(), epochs), {}};
  const std::vector<std::uint8_t> labels = source_labels(run, info);
  for (const auto i : train) r.label.push_back(labels[static_cast<std::size_t>(i)]);
  r.train_label = r.label;
  if (info.corruption) {
    const auto& c = *info.corruption;
    const auto positions = training_positions(c, train);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      r.train_label[positions[k]] = static_cast<std::int32_t>(c.labels[k]);
    }
  }
  return r;
}

ForgettingTables forgetting_tables(const RunDynamics& r) {
  const std::vector<InstanceDynamics> dyn = instance_dynamics(r.history);
  const std::size_t last = r.history.epochs();
  ForgettingTables t{{"forgetting_summary",
                      {"group", "instances", "epochs", "never_learned", "unforgettable", "forgotten",
                       "forgetting_events", "mean_forgetting_events", "correct_last_epoch"},
                      {}},
                     {"forgetting_histogram", {"forgetting_events", "instances"}, {}},
                     {"forgetting",
                      {"index", "label", "train_label", "corrupted", "first_learned", "learning_events",
                       "forgetting_events", "never_learned", "unforgettable"},
                      {}}};
  const auto corrupted = [&](std::size_t i) { return r.label[i] != r.train_label[i]; };

  std::vector<InstanceGroup> groups = {{"all", -1}};
  if (r.has_corruption) groups.insert(groups.end(), {{"clean", 0}, {"corrupted", 1}});
  for (const InstanceGroup& g : groups) {
    std::uint64_t n = 0, never = 0, unforgettable = 0, forgotten = 0, events = 0, correct_last = 0;
    for (std::size_t i = 0; i < dyn.size(); ++i) {
      if (g.corrupted >= 0 && corrupted(i) != (g.corrupted == 1)) continue;
      ++n;
      never += dyn[i].never_learned() ? 1 : 0;
      unforgettable += dyn[i].unforgettable() ? 1 : 0;
      forgotten += dyn[i].forgetting_events > 0 ? 1 : 0;
      events += dyn[i].forgetting_events;
      correct_last += last > 0 && r.history.correct(last - 1, i) ? 1 : 0;
    }
    Cell mean = std::monostate{};
    if (n > 0) mean = Decimal{static_cast<double>(events) / static_cast<double>(n), 4};
    t.summary.rows.push_back({std::string(g.name), n, static_cast<std::uint64_t>(last), never, unforgettable, forgotten,
                              events, mean, correct_last});
  }

  if (r.has_corruption) t.histogram.columns.insert(t.histogram.columns.end(), {"clean", "corrupted"});
  std::uint32_t most = 0;
  for (const auto& d : dyn) most = std::max(most, d.forgetting_events);
  std::vector<std::array<std::uint64_t, 2>> counts(std::size_t{most} + 1, {0, 0});
  for (std::size_t i = 0; i < dyn.size(); ++i) {
    if (!dyn[i].never_learned()) ++counts[dyn[i].forgetting_events][corrupted(i) ? 1 : 0];
  }
  for (std::size_t k = 0; k < counts.size(); ++k) {
    std::vector<Cell> row = {static_cast<std::uint64_t>(k), counts[k][0] + counts[k][1]};
    if (r.has_corruption) row.insert(row.end(), {Cell{counts[k][0]}, Cell{counts[k][1]}});
    t.histogram.rows.push_back(std::move(row));
  }

  t.instances.rows.reserve(dyn.size());
  for (std::size_t i = 0; i < dyn.size(); ++i) {
    const InstanceDynamics& d = dyn[i];
    Cell first = std::monostate{};
    if (!d.never_learned()) {
      const auto k = static_cast<std::size_t>(d.first_learned);  // 1-based row of the history
      first = static_cast<std::int64_t>(r.epochs.empty() ? d.first_learned : r.epochs[k - 1]);
    }
    t.instances.rows.push_back({r.index[i], static_cast<std::int64_t>(r.label[i]),
                                static_cast<std::int64_t>(r.train_label[i]), corrupted(i), first,
                                static_cast<std::uint64_t>(d.learning_events),
                                static_cast<std::uint64_t>(d.forgetting_events), d.never_learned(), d.unforgettable()});
  }
  return t;
}

}  // namespace apd
