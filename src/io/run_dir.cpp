#include "apd/io/run_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

RunDir::~RunDir() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

RunDir::State RunDir::state() const {
  if (std::filesystem::exists(paths_.run_json())) {
    return std::filesystem::exists(paths_.resume_state()) ? State::epochs : State::no_epoch;
  }
  if (!std::filesystem::exists(paths_.dir)) return State::none;
  if (!std::filesystem::is_directory(paths_.dir)) return State::epochs;  // a file: never touched
  for (const auto& entry : std::filesystem::directory_iterator(paths_.dir)) {
    const std::string name = entry.path().filename().string();
    const bool leftover =
        entry.path() == paths_.lock() || is_temporary_name(name) ||
        (entry.path() == paths_.checkpoints() && entry.is_directory() && std::filesystem::is_empty(entry.path()));
    if (!leftover) return State::epochs;  // something else: not ours to remove
  }
  return State::none;
}

void RunDir::lock() {
  std::filesystem::create_directories(paths_.dir);
  const auto path = paths_.lock();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error(fmt::format("{}: cannot create the run's lock file: {}", path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    throw Error(
        fmt::format("{}: another apd-train is writing this run (it holds {})", paths_.dir.string(), path.string()));
  }
  lock_fd_ = fd;
}

void RunDir::remove_stale_temporaries() const {
  for (const auto& dir : {paths_.dir, paths_.checkpoints()}) {
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file() && is_temporary_name(entry.path().filename().string())) {
        std::filesystem::remove(entry.path());
      }
    }
  }
}

void RunDir::clear_epochs() const {
  std::filesystem::remove_all(paths_.checkpoints());
  std::filesystem::remove(paths_.metrics());
  std::filesystem::remove(paths_.summary());
  std::filesystem::remove(paths_.dynamics());
}

void refuse_output_in_running_run(const std::filesystem::path& output) {
  if (output == "-") return;
  // The directory the output really lands in: ".", ".." and symlinked
  // directories resolved, so that no spelling of a path into a live run
  // gets past; then every directory above it.
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(output);
  std::filesystem::path dir = std::filesystem::weakly_canonical(absolute.parent_path(), ec);
  if (ec) dir = absolute.parent_path().lexically_normal();
  for (std::filesystem::path last; !dir.empty() && dir != last; last = dir, dir = dir.parent_path()) {
    const RunPaths run{dir};
    if (!std::filesystem::exists(run.run_json(), ec) || !std::filesystem::exists(run.lock(), ec)) continue;
    const int fd = ::open(run.lock().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const bool busy = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    ::close(fd);
    if (busy) {
      throw Error(fmt::format("{}: inside the run directory {}, which an apd-train is writing now; write it elsewhere",
                              output.string(), dir.string()));
    }
  }
}

void refuse_output_over_inputs(const std::filesystem::path& output, std::span<const std::filesystem::path> inputs) {
  if (output == "-") return;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!input.empty() && std::filesystem::equivalent(output, input, ec) && !ec) {
      throw UsageError(
          fmt::format("--out {}: it is the input {}; write the output elsewhere", output.string(), input.string()));
    }
  }
}

std::filesystem::path RunPaths::checkpoint(int epoch) const {
  return checkpoints() / fmt::format("epoch-{:04d}.pt", epoch);
}

namespace {

// The epoch of a checkpoint's file name, "epoch-" + 4 to 9 digits + ".pt".
// (By hand: std::regex cost this file ~30 s of compile under ASan.)
std::optional<int> checkpoint_epoch(std::string_view name) {
  constexpr std::string_view kPrefix = "epoch-", kSuffix = ".pt";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() < 4 || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int epoch = 0;
  for (const char c : digits) epoch = epoch * 10 + (c - '0');
  return epoch;
}

}  // namespace

std::vector<int> list_checkpoints(const RunPaths& run) {
  std::vector<int> epochs;
  std::error_code ec;
  if (!std::filesystem::is_directory(run.checkpoints(), ec)) return epochs;
  for (const auto& entry : std::filesystem::directory_iterator(run.checkpoints())) {
    const auto epoch = checkpoint_epoch(entry.path().filename().string());
    if (epoch && entry.is_regular_file()) epochs.push_back(*epoch);
  }
  std::sort(epochs.begin(), epochs.end());
  return epochs;
}

nlohmann::json to_json(const EpochMetrics& m) {
  nlohmann::json j = nlohmann::json::object();
  j["epoch"] = m.epoch;
  j["train_loss"] = m.train_loss;
  j["train_acc"] = m.train_acc;
  j["val_loss"] = m.val_loss;
  j["val_acc"] = m.val_acc;
  j["unique_patterns"] = m.unique_patterns;
  if (!m.churn.empty()) j["churn"] = m.churn;
  if (m.flow_ari) j["flow_ari"] = *m.flow_ari;
  j["seconds"] = m.seconds;
  return j;
}

EpochMetrics metrics_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(fmt::format("{}: expected a JSON object", where));
  auto number = [&](const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number()) throw Error(fmt::format("{}: missing or non-numeric \"{}\"", where, key));
    return it->get<double>();
  };
  EpochMetrics m;
  const auto epoch = j.find("epoch");
  if (epoch == j.end() || !epoch->is_number_integer())
    throw Error(fmt::format("{}: missing or non-integer \"epoch\"", where));
  // Read whole, never truncated: apd-train's epochs are 1..kMaxEpochs.
  const std::int64_t e = epoch->is_number_unsigned() && epoch->get<std::uint64_t>() > std::uint64_t{INT64_MAX}
                             ? std::int64_t{-1}
                             : epoch->get<std::int64_t>();
  if (e < 1 || e > kMaxEpochs) {
    throw Error(fmt::format("{}: \"epoch\" {} is not an epoch (1 to {})", where, epoch->dump(), kMaxEpochs));
  }
  m.epoch = static_cast<int>(e);
  m.train_loss = number("train_loss");
  m.train_acc = number("train_acc");
  m.val_loss = number("val_loss");
  m.val_acc = number("val_acc");
  m.seconds = number("seconds");
  if (const auto up = j.find("unique_patterns"); up != j.end()) {
    if (!up->is_array()) throw Error(fmt::format("{}: \"unique_patterns\" is not an array", where));
    for (const auto& v : *up) {
      if (!v.is_number_unsigned()) throw Error(fmt::format("{}: \"unique_patterns\" holds a non-count", where));
      m.unique_patterns.push_back(v.get<std::uint64_t>());
    }
  }
  if (const auto churn = j.find("churn"); churn != j.end()) {
    if (!churn->is_array()) throw Error(fmt::format("{}: \"churn\" is not an array", where));
    for (const auto& v : *churn) {
      if (!v.is_number() || !(v.get<double>() >= 0 && v.get<double>() <= 1))
        throw Error(fmt::format("{}: \"churn\" holds a value outside [0, 1]", where));
      m.churn.push_back(v.get<double>());
    }
  }
  if (const auto ari = j.find("flow_ari"); ari != j.end()) {
    if (!ari->is_number() || !(ari->get<double>() >= -1 && ari->get<double>() <= 1))
      throw Error(fmt::format("{}: \"flow_ari\" is not a number in [-1, 1]", where));
    m.flow_ari = ari->get<double>();
  }
  return m;
}

nlohmann::json parse_json(std::string_view text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // "[json.exception.parse_error.101] parse error at line 1, ...": the bracket is library detail.
    std::string_view what = e.what();
    if (const auto end = what.find("] "); what.starts_with("[json.exception") && end != std::string_view::npos) {
      what.remove_prefix(end + 2);
    }
    throw Error(fmt::format("{}: not valid JSON: {}", name, what));
  }
}

namespace {

// Appends one metrics.jsonl line (blank lines are skipped); epochs must rise.
void add_metrics_line(std::string_view line, const std::string& where, std::vector<EpochMetrics>& out) {
  if (line.empty()) return;
  out.push_back(metrics_from_json(parse_json(line, where), where));
  if (out.size() > 1 && out.back().epoch <= out[out.size() - 2].epoch) {
    throw Error(
        fmt::format("{}: epoch {} does not follow epoch {}", where, out.back().epoch, out[out.size() - 2].epoch));
  }
}

}  // namespace

namespace {

// Collects the epochs of metrics.jsonl lines, one at a time, fed from a file or from memory.
LineSplitter metrics_lines(std::vector<EpochMetrics>& out, const std::string& name) {
  return LineSplitter(
      kMaxJsonLineBytes,
      [&out, name](std::string_view line, std::size_t n) {
        if (!line.empty()) add_metrics_line(line, fmt::format("{}:{}", name, n), out);
      },
      name);
}

}  // namespace

std::vector<EpochMetrics> read_metrics(const std::filesystem::path& file) {
  // One line at a time: memory is the epochs read, whatever the file holds.
  std::vector<EpochMetrics> out;
  LineSplitter lines = metrics_lines(out, file.string());
  for_each_chunk(file, [&lines](std::string_view chunk) { lines.feed(chunk); });
  lines.finish();
  return out;
}

std::vector<EpochMetrics> parse_metrics(const std::string& text, const std::string& name) {
  std::vector<EpochMetrics> out;
  LineSplitter lines = metrics_lines(out, name);
  lines.feed(text);
  lines.finish();
  return out;
}

std::string metrics_jsonl(const std::vector<EpochMetrics>& metrics) {
  std::string out;
  for (const auto& m : metrics) {
    out += to_json(m).dump();
    out += '\n';
  }
  return out;
}

std::optional<EpochMetrics> best_epoch(const std::vector<EpochMetrics>& metrics) {
  if (metrics.empty()) return std::nullopt;
  const auto it = std::min_element(metrics.begin(), metrics.end(), [](const EpochMetrics& a, const EpochMetrics& b) {
    return a.val_loss < b.val_loss;
  });
  return *it;
}

nlohmann::json run_summary(const std::vector<EpochMetrics>& metrics, double total_seconds, bool complete) {
  nlohmann::json s = nlohmann::json::object();
  s["epochs_completed"] = metrics.empty() ? 0 : metrics.back().epoch;
  s["complete"] = complete;
  if (const auto best = best_epoch(metrics)) {
    s["best_epoch"] = best->epoch;
    s["best"] = to_json(*best);
  }
  if (!metrics.empty()) s["final"] = to_json(metrics.back());
  s["total_seconds"] = total_seconds;
  return s;
}

}  // namespace apd
