#include "job.hpp"

#include <algorithm>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/io/digest.hpp"
#include "apd/io/epoch_list.hpp"
#include "apd/torch/checkpoint.hpp"
#include "apd/torch/script_model.hpp"

namespace apd {

namespace {

// "1, 2, 3" or, for many, "1, 2, ..., 300 (300 in all)".
std::string epoch_listing(const std::vector<int>& available) {
  if (available.empty()) return "none";
  if (available.size() <= 12) return fmt::format("{}", fmt::join(available, ", "));
  return fmt::format("{}, {}, ..., {} ({} in all)", available[0], available[1], available.back(), available.size());
}

}  // namespace

int resolve_epoch(const std::string& text, const RunPaths& run, const std::vector<int>& available) {
  int epoch = 0;
  if (text == "last") {
    if (available.empty()) throw Error(fmt::format("{}: the run has no checkpoints", run.dir.string()));
    return available.back();
  }
  if (text == "best") {
    const auto best = best_epoch(read_metrics(run.metrics()));
    if (!best) throw Error(fmt::format("{}: no epochs recorded, so no best epoch", run.metrics().string()));
    epoch = best->epoch;
  } else {
    std::size_t used = 0;
    try {
      epoch = std::stoi(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != text.size() || epoch <= 0) {
      throw UsageError(fmt::format("--epoch: '{}' is not an epoch number, 'best' or 'last'", text));
    }
  }
  if (!std::binary_search(available.begin(), available.end(), epoch)) {
    throw Error(fmt::format("{}: no checkpoint for epoch {}{} (available: {})", run.dir.string(), epoch,
                            text == "best" ? " (the best validation epoch)" : "", epoch_listing(available)));
  }
  return epoch;
}

namespace {

std::vector<EpochItem> epoch_items(const std::vector<std::string>& texts) {
  std::vector<EpochItem> items;
  for (const auto& text : texts) items.push_back(parse_epoch_item(text));
  return items;
}

std::vector<ModelJob> run_jobs(const ModelChoice& m, const OpenRun& run, const std::string& out) {
  EpochSource source{list_checkpoints(run.paths), {}, {}};
  source.special = [&](const EpochItem& item) { return resolve_epoch(item.text, run.paths, source.available); };
  source.missing = [&](int epoch, const EpochItem& item) {
    throw Error(fmt::format("{}: no checkpoint for epoch {}{} (available: {})", run.paths.dir.string(), epoch,
                            item.of_range(), epoch_listing(source.available)));
  };
  const auto items = epoch_items(m.epochs.empty() ? std::vector<std::string>{"last"} : m.epochs);
  std::vector<ModelJob> jobs;
  for (const int epoch : expand_epochs(items, source)) {
    jobs.push_back({epoch, run.paths.checkpoint(epoch), replace_epoch(out, epoch), {}});
  }
  if (jobs.empty()) throw Error(fmt::format("{}: the run has no checkpoints", run.paths.dir.string()));
  return jobs;
}

std::vector<ModelJob> script_jobs(const ModelChoice& m, const std::string& out) {
  if (m.epochs.empty()) {
    std::vector<ModelJob> one;
    one.push_back({0, m.model, out, {}});
    return one;
  }
  const auto items = epoch_items(m.epochs);
  const bool all =
      std::any_of(items.begin(), items.end(), [](const EpochItem& i) { return i.kind == EpochItem::Kind::all; });
  EpochSource source{all ? epochs_on_disk(m.model) : std::vector<int>{}, {}, {}};
  source.missing = [&](int epoch, const EpochItem& item) {
    const std::string file = replace_epoch(m.model, epoch);
    // Without `all` the files are not listed: one that exists is fine.
    std::error_code ec;
    if (!all && std::filesystem::is_regular_file(file, ec)) return;
    throw Error(fmt::format("{}: no such file (epoch {}{})", file, epoch, item.of_range()));
  };
  std::vector<ModelJob> jobs;
  for (const int epoch : expand_epochs(items, source)) {
    jobs.push_back({epoch, replace_epoch(m.model, epoch), replace_epoch(out, epoch), {}});
  }
  if (jobs.empty()) throw Error(fmt::format("--epochs all: no file matches {}", m.model));
  return jobs;
}

}  // namespace

ModelSeries plan_models(const ModelChoice& m, const std::string& out) {
  ModelSeries series;
  series.kind = m.kind();
  switch (series.kind) {
    case ModelChoice::Kind::run: {
      const RunPaths paths{m.run};
      series.run = OpenRun{paths, read_run_info(paths)};
      series.jobs = run_jobs(m, *series.run, out);
      break;
    }
    case ModelChoice::Kind::checkpoint: series.jobs.push_back({0, m.checkpoint, out, {}}); break;
    case ModelChoice::Kind::script: series.jobs = script_jobs(m, out); break;
  }
  return series;
}

void load_models(ModelSeries& series) {
  std::optional<std::vector<std::int64_t>> hidden;
  if (series.run) hidden = series.run->info.model.hidden;
  for (ModelJob& job : series.jobs) {
    if (series.kind == ModelChoice::Kind::script) {
      job.model = std::make_unique<ScriptModel>(job.file);
    } else {
      job.model = std::make_unique<MlpModel>(load_state_dict(job.file), job.file, hidden);
    }
    spdlog::debug("loaded {} ({:.1f} MB)", job.file.string(),
                  static_cast<double>(std::filesystem::file_size(job.file)) / 1e6);
  }
}

void bind_models(ModelSeries& series, const InstanceReader& data) {
  const ModelJob& first = series.jobs.front();
  for (ModelJob& job : series.jobs) {
    job.model->bind(data);
    if (job.model->relu_widths() == first.model->relu_widths() && job.model->classes() == first.model->classes()) {
      continue;
    }
    throw Error(fmt::format("{}: ReLU widths {} and {} classes differ from {}'s ({} and {})", job.file.string(),
                            fmt::join(job.model->relu_widths(), ","), job.model->classes(), first.file.string(),
                            fmt::join(first.model->relu_widths(), ","), first.model->classes()));
  }
}

namespace {

// The run's own files: those it was trained on, and as many images.
void check_run_data(const JobData& data, const OpenRun& run, bool train_file) {
  const InstanceReader& reader = data.reader;
  const auto run_json = run.paths.run_json().string();
  for (const auto& p : {reader.data_path(), reader.targets_path()}) {
    const auto recorded = run.info.data.sha256.find(p.filename().string());
    if (recorded == run.info.data.sha256.end()) continue;
    if (recorded->second != (p == reader.data_path() ? data.sha256 : sha256_file(p))) {
      throw Error(
          fmt::format("{}: differs from the file the run was trained with (SHA-256 in {})", p.string(), run_json));
    }
  }
  if (train_file && run.info.split.source_count != reader.targets().size()) {
    throw Error(fmt::format("{}: holds {} labels, the run's split was made of {} ({})", reader.targets_path().string(),
                            reader.targets().size(), run.info.split.source_count, run_json));
  }
}

std::vector<std::int64_t> all_of(std::size_t count) {
  std::vector<std::int64_t> out(count);
  std::iota(out.begin(), out.end(), std::int64_t{0});
  return out;
}

}  // namespace

JobData open_job_data(DataChoice d, const OpenRun* run) {
  if (run) {
    if (!d.data) d.data = run->info.data.dir;
    d.normalize = run->info.data.normalize;
  }
  JobData data{InstanceReader(d), {}, std::nullopt, {}};
  data.sha256 = sha256_file(data.reader.data_path());
  if (!d.npy()) data.split = std::string(name_of(kDataSplitNames, d.split));
  if (run) check_run_data(data, *run, d.split != DataSplit::test);
  if (!run || d.split == DataSplit::test) {
    data.pool = all_of(data.reader.count());
  } else {
    data.pool = d.split == DataSplit::val ? run->info.split.val_indices : run->info.train_indices();
  }
  return data;
}

namespace {

std::vector<std::int32_t> true_labels(std::span<const std::int64_t> chosen, const InstanceReader& reader,
                                      std::int64_t classes) {
  std::vector<std::int32_t> truth;
  truth.reserve(chosen.size());
  for (const auto i : chosen) {
    const std::int64_t label = reader.targets()[static_cast<std::size_t>(i)];
    if (label < 0 || label >= classes) {
      throw Error(fmt::format("{}: {} {} of instance {} is outside the model's classes {}",
                              reader.targets_path().string(), reader.idx() ? "label" : "target", label, i,
                              index_range(static_cast<std::uint64_t>(classes))));
    }
    truth.push_back(static_cast<std::int32_t>(label));
  }
  return truth;
}

}  // namespace

Chosen choose_instances(const Selection& s, const JobData& data, std::int64_t batch_size, std::int64_t classes,
                        bool labelled) {
  Chosen c;
  c.record = selection_record(s, data.split);
  const std::string split = data.split.value_or(std::string(name_of(kDataSplitNames, DataSplit::train)));
  auto selected = select_instances(s, data.pool, data.reader.targets(), split, c.record);
  if (s.limit && *s.limit > selected.size()) {
    spdlog::warn("--limit {}: the selection holds only {} instances; using all of them", *s.limit, selected.size());
  }
  c.window = shard_window(s, std::move(selected), static_cast<std::size_t>(batch_size), c.record);
  if (labelled) c.truth = true_labels(c.window.own(), data.reader, classes);
  return c;
}

}  // namespace apd
