#include "apd/io/run_info.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/atomic_file.hpp"

namespace apd {

namespace {

// Typed lookups by dotted key path, each error naming the file and the key.
class Fields {
 public:
  Fields(const nlohmann::json& root, std::string file) : root_(root), file_(std::move(file)) {}

  template <typename T>
  T get(const std::string& path) const {
    const nlohmann::json& v = at(path);
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) wrong(path, "a string", v);
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) wrong(path, "true or false", v);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) wrong(path, "a number", v);
    } else if constexpr (std::is_unsigned_v<T>) {
      if (!v.is_number_integer() || (!v.is_number_unsigned() && v.get<std::int64_t>() < 0))
        wrong(path, "a non-negative integer", v);
      if (v.get<std::uint64_t>() > std::numeric_limits<T>::max()) wrong(path, "a smaller integer", v);
    } else {
      if (!v.is_number_integer()) wrong(path, "an integer", v);
      const std::int64_t i = v.is_number_unsigned() && v.get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max()
                                 ? std::numeric_limits<std::int64_t>::max()
                                 : v.get<std::int64_t>();
      if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max()) wrong(path, "a smaller integer", v);
    }
    return v.get<T>();
  }

  std::vector<std::int64_t> integers(const std::string& path) const {
    const nlohmann::json& v = at(path);
    if (!v.is_array()) wrong(path, "an array of integers", v);
    std::vector<std::int64_t> out;
    out.reserve(v.size());
    for (std::size_t k = 0; k < v.size(); ++k) {
      if (!v[k].is_number_integer() ||
          (v[k].is_number_unsigned() && v[k].get<std::uint64_t>() > std::numeric_limits<std::int64_t>::max())) {
        wrong(fmt::format("{}[{}]", path, k), "an integer", v[k]);
      }
      out.push_back(v[k].get<std::int64_t>());
    }
    return out;
  }

  std::map<std::string, std::string> strings(const std::string& path) const {
    const nlohmann::json& v = at(path);
    if (!v.is_object()) wrong(path, "an object of strings", v);
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : v.items()) {
      if (!value.is_string()) wrong(fmt::format("{}.{}", path, key), "a string", value);
      out.emplace(key, value.get<std::string>());
    }
    return out;
  }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw Error(fmt::format("{}: key \"{}\": {}", file_, path, what));
  }

 private:
  const nlohmann::json& at(const std::string& path) const {
    const nlohmann::json* v = &root_;
    std::size_t begin = 0;
    while (begin <= path.size()) {
      const std::size_t dot = std::min(path.find('.', begin), path.size());
      const auto it = v->find(path.substr(begin, dot - begin));
      if (!v->is_object() || it == v->end()) fail(path, "missing");
      v = &*it;
      begin = dot + 1;
    }
    return *v;
  }
  [[noreturn]] void wrong(const std::string& path, const char* expected, const nlohmann::json& got) const {
    fail(path, fmt::format("expected {}, got {}", expected, got.type_name()));
  }

  const nlohmann::json& root_;
  std::string file_;
};

// Indices into the source: in range and ascending.
void check_indices(const std::vector<std::int64_t>& indices, std::uint64_t source_count, const std::string& key,
                   const Fields& f) {
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const std::int64_t i = indices[k];
    if (i < 0 || static_cast<std::uint64_t>(i) >= source_count) {
      f.fail(fmt::format("{}[{}]", key, k), fmt::format("{} is outside {}", i, index_range(source_count)));
    }
    if (k > 0 && i <= indices[k - 1]) f.fail(fmt::format("{}[{}]", key, k), "indices must ascend");
  }
}

// The split must describe a real split of the source: indices apd-extract
// uses to read images must be in range.
void check_split(const RunInfo& info, const Fields& f) {
  const auto& s = info.split;
  if (s.val_indices.size() != s.val_count) {
    f.fail("split.val_indices", fmt::format("{} indices, split.val_count says {}", s.val_indices.size(), s.val_count));
  }
  if (s.train_count + s.val_count != s.source_count) {
    f.fail("split",
           fmt::format("train_count {} + val_count {} != source_count {}", s.train_count, s.val_count, s.source_count));
  }
  check_indices(s.val_indices, s.source_count, "split.val_indices", f);
}

// Corrupted labels belong to training instances and name a class.
void check_corruption(const RunInfo& info, const Fields& f) {
  const auto& c = *info.corruption;
  if (!(c.probability >= 0 && c.probability <= 1)) f.fail("label_corruption.probability", "outside [0, 1]");
  check_indices(c.indices, info.split.source_count, "label_corruption.indices", f);
  if (c.labels.size() != c.indices.size()) {
    f.fail("label_corruption.labels", fmt::format("{} labels for {} indices", c.labels.size(), c.indices.size()));
  }
  for (std::size_t k = 0; k < c.labels.size(); ++k) {
    if (c.labels[k] < 0 || c.labels[k] >= info.model.classes) {
      f.fail(fmt::format("label_corruption.labels[{}]", k),
             fmt::format("{} is outside {}", c.labels[k],
                         index_range(static_cast<std::uint64_t>(std::max<std::int64_t>(info.model.classes, 0)))));
    }
  }
  const auto& val = info.split.val_indices;
  for (std::size_t k = 0; k < c.indices.size(); ++k) {
    if (std::binary_search(val.begin(), val.end(), c.indices[k])) {
      f.fail(fmt::format("label_corruption.indices[{}]", k),
             fmt::format("{} is a validation instance; only training labels are corrupted", c.indices[k]));
    }
  }
}

}  // namespace

std::vector<std::int64_t> RunInfo::train_indices() const {
  std::vector<std::int64_t> out;
  out.reserve(split.train_count);
  std::size_t v = 0;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(split.source_count); ++i) {
    if (v < split.val_indices.size() && split.val_indices[v] == i) {
      ++v;
    } else {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<std::size_t> training_positions(const RunInfo::LabelCorruption& corruption,
                                            std::span<const std::int64_t> train) {
  std::vector<std::size_t> positions;
  positions.reserve(corruption.indices.size());
  for (const auto i : corruption.indices) {
    const auto at = std::lower_bound(train.begin(), train.end(), i);
    if (at == train.end() || *at != i)
      throw Error(fmt::format("corrupted label of instance {}: not a training instance", i));
    positions.push_back(static_cast<std::size_t>(at - train.begin()));
  }
  return positions;
}

RunInfo run_info_from_json(const nlohmann::json& j, const std::string& file) {
  if (!j.is_object() || !j.contains("schema") || j["schema"] != kRunSchema) {
    throw Error(fmt::format("{}: not an apd run file (expected \"schema\": \"{}\")", file, kRunSchema));
  }
  const Fields f(j, file);
  RunInfo info;
  info.tool = {f.get<std::string>("tool.name"), f.get<std::string>("tool.version"), f.get<std::string>("tool.git_sha")};
  info.model.architecture = f.get<std::string>("model.architecture");
  info.model.inputs = f.get<std::int64_t>("model.inputs");
  info.model.hidden = f.integers("model.hidden");
  info.model.classes = f.get<std::int64_t>("model.classes");
  info.data.dir = f.get<std::string>("data.dataset.dir");
  info.data.sha256 = f.strings("data.dataset.sha256");
  try {
    info.data.normalize = parse_normalization(f.get<std::string>("data.normalize"));
  } catch (const UsageError& e) {
    f.fail("data.normalize", e.what());
  }
  info.split.seed = f.get<std::uint64_t>("split.seed");
  info.split.val_split = f.get<double>("split.val_split");
  info.split.source_count = f.get<std::uint64_t>("split.source_count");
  info.split.train_count = f.get<std::uint64_t>("split.train_count");
  info.split.val_count = f.get<std::uint64_t>("split.val_count");
  info.split.val_indices = f.integers("split.val_indices");
  info.hyper.epochs = f.get<int>("hyperparameters.epochs");
  info.hyper.lr = f.get<double>("hyperparameters.lr");
  info.hyper.momentum = f.get<double>("hyperparameters.momentum");
  info.hyper.batch_size = f.get<std::int64_t>("hyperparameters.batch_size");
  info.hyper.seed = f.get<std::uint64_t>("hyperparameters.seed");
  info.threads = f.get<int>("threads");
  info.checkpoint_every = f.get<int>("checkpoint_every");
  info.track_patterns = f.get<bool>("track_patterns");
  if (j.contains("dynamics")) info.dynamics = f.get<bool>("dynamics");
  if (j.contains("label_corruption") && !j["label_corruption"].is_null()) {
    info.corruption = RunInfo::LabelCorruption{
        f.get<double>("label_corruption.probability"), f.get<std::uint64_t>("label_corruption.seed"),
        f.integers("label_corruption.indices"), f.integers("label_corruption.labels")};
  }
  if (info.model.hidden.empty()) f.fail("model.hidden", "at least one hidden layer is needed");
  for (const auto w : info.model.hidden) {
    if (w <= 0) f.fail("model.hidden", fmt::format("layer width {} must be positive", w));
  }
  check_split(info, f);
  if (info.corruption) check_corruption(info, f);
  return info;
}

RunInfo read_run_info(const RunPaths& run) {
  const auto path = run.run_json();
  if (!std::filesystem::exists(path)) {
    throw Error(fmt::format("{}: not a run directory (no run.json; runs are made by apd-train)", run.dir.string()));
  }
  return run_info_from_json(parse_json(read_text_file(path, kMaxRunInfoBytes, "run.json"), path.string()),
                            path.string());
}

nlohmann::json to_json(const RunInfo& info) {
  nlohmann::json j = {
      {"schema", kRunSchema},
      {"tool", {{"name", info.tool.name}, {"version", info.tool.version}, {"git_sha", info.tool.git_sha}}},
      {"model",
       {{"kind", "mlp-relu"},
        {"architecture", info.model.architecture},
        {"inputs", info.model.inputs},
        {"hidden", info.model.hidden},
        {"classes", info.model.classes},
        {"state_dict_keys", "nn.Sequential: Linear at 0, 2, 4, ...; ReLU between"}}},
      {"data",
       {{"dataset", {{"dir", info.data.dir.string()}, {"sha256", info.data.sha256}}},
        {"normalize", to_string(info.data.normalize)},
        {"source", "train"}}},
      {"split",
       {{"seed", info.split.seed},
        {"val_split", info.split.val_split},
        {"source_count", info.split.source_count},
        {"train_count", info.split.train_count},
        {"val_count", info.split.val_count},
        {"val_indices", info.split.val_indices}}},
      {"hyperparameters",
       {{"epochs", info.hyper.epochs},
        {"lr", info.hyper.lr},
        {"momentum", info.hyper.momentum},
        {"batch_size", info.hyper.batch_size},
        {"seed", info.hyper.seed},
        {"loss", "cross_entropy"},
        {"optimizer", "sgd"}}},
      {"threads", info.threads},
      {"checkpoint_every", info.checkpoint_every},
      {"track_patterns", info.track_patterns},
      {"dynamics", info.dynamics},
  };
  if (info.corruption) {
    j["label_corruption"] = {{"probability", info.corruption->probability},
                             {"seed", info.corruption->seed},
                             {"indices", info.corruption->indices},
                             {"labels", info.corruption->labels}};
  }
  return j;
}

void write_run_info(const RunPaths& run, const RunInfo& info) {
  write_file_atomically(run.run_json(), to_json(info).dump(2) + "\n");
}

}  // namespace apd
