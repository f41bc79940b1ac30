#include "apd/report/series.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "apd/core/clusters.hpp"
#include "apd/core/dynamics.hpp"
#include "apd/core/error.hpp"
#include "apd/core/flows.hpp"
#include "apd/core/limits.hpp"
#include "apd/io/apd_json.hpp"

namespace apd {

namespace {

// The metadata that says which instances a file holds and how its patterns
// were read: equal in every file of a series.
constexpr std::array<const char*, 5> kSameKeys = {"dataset", "selection", "widths", "views", "label_corruption"};
constexpr std::array<const char*, 2> kSameModelKeys = {"architecture", "layers"};

struct SeriesFile {
  int epoch = 0;
  std::string file;
};

const nlohmann::json& member_or_null(const nlohmann::json& object, const char* key) {
  static const nlohmann::json kNull;
  if (!object.is_object()) return kNull;
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The metadata that decides which instances a file holds, equal to the first file's.
void check_same_metadata(const nlohmann::json& graph, const nlohmann::json& first_graph, const std::string& file,
                         const std::string& first_file) {
  for (const char* key : kSameKeys) {
    if (member_or_null(graph, key) != member_or_null(first_graph, key)) {
      throw Error(fmt::format("{}: graph.{} differs from {}'s: a series holds the same instances, read alike", file,
                              key, first_file));
    }
  }
  for (const char* key : kSameModelKeys) {
    if (member_or_null(member_or_null(graph, "model"), key) !=
        member_or_null(member_or_null(first_graph, "model"), key)) {
      throw Error(fmt::format("{}: graph.model.{} differs from {}'s: a series is one model at different epochs", file,
                              key, first_file));
    }
  }
}

// The files in epoch order, their metadata checked against the first's
// (each read only up to its graph metadata).
std::vector<SeriesFile> order_by_epoch(std::span<const std::string> files) {
  if (files.size() < 2) {
    throw Error(fmt::format("a series needs at least two APD files of the same instances at different epochs; got {}",
                            files.size()));
  }
  std::vector<SeriesFile> read;
  nlohmann::json first_graph;  // every file's metadata is checked against the first's, then dropped
  for (const auto& file : files) {
    const nlohmann::json graph = read_apd_graph(file);
    const nlohmann::json& epoch = member_or_null(graph, "epoch");
    if (!epoch.is_number_integer() || epoch.get<std::int64_t>() < 1 || epoch.get<std::int64_t>() > kMaxEpochs) {
      throw Error(
          fmt::format("{}: graph.epoch is {}: a series needs each file's epoch, 1 to {} (apd-extract "
                      "--epochs records it)",
                      file, epoch.is_null() ? "missing" : epoch.dump(), kMaxEpochs));
    }
    read.push_back({epoch.get<int>(), file});
    if (read.size() == 1) {
      first_graph = graph;
    } else {
      check_same_metadata(graph, first_graph, file, read.front().file);
    }
  }
  std::stable_sort(read.begin(), read.end(), [](const auto& a, const auto& b) { return a.epoch < b.epoch; });
  for (std::size_t k = 1; k < read.size(); ++k) {
    if (read[k].epoch == read[k - 1].epoch) {
      throw Error(fmt::format("{}: epoch {} again (also {})", read[k].file, read[k].epoch, read[k - 1].file));
    }
  }
  return read;
}

// One epoch's diagram and what the next epoch is compared with.
struct Loaded {
  Diagram d;
  std::string file;
  Grouping flows;
};

Grouping flows_of(const Diagram& d) {
  const std::size_t L = d.layers();
  std::vector<Grouping> by_layer;
  std::vector<std::uint64_t> keys(d.instances);
  for (std::size_t l = std::max<std::size_t>(L, 2) - 1; l <= L; ++l) {
    for (std::size_t i = 0; i < d.instances; ++i) keys[i] = d.path_node(i, l);
    by_layer.push_back(group_keys(keys));
  }
  return flow_partition(by_layer);
}

Loaded load(const SeriesFile& f) {
  Loaded x{read_apd_file(f.file), f.file, {}};
  if (!x.d.has_instances) {
    throw Error(
        fmt::format("{}: no per-instance records, which a series needs (rerun apd-extract without "
                    "--no-instances)",
                    f.file));
  }
  x.flows = flows_of(x.d);
  return x;
}

// The same instances, in the same order, with the same labels.
void check_same_instances(const Loaded& a, const Loaded& b) {
  if (a.d.instances != b.d.instances) {
    throw Error(fmt::format("{}: {} instances, {} has {}: not the same instances", b.file, b.d.instances, a.file,
                            a.d.instances));
  }
  for (std::size_t i = 0; i < a.d.instances; ++i) {
    if (a.d.index[i] != b.d.index[i] || a.d.label[i] != b.d.label[i]) {
      throw Error(
          fmt::format("{}: instance {} is index {} of label {}, in {} index {} of label {}: not the same "
                      "instances",
                      b.file, i, b.d.index[i], b.d.label[i], a.file, a.d.index[i], a.d.label[i]));
    }
  }
}

SeriesEpoch epoch_row(const SeriesFile& f, const Loaded& x) {
  const Diagram& d = x.d;
  SeriesEpoch row{f.epoch, f.file, d.instances, d.errors, {}, {}, {}, {}, {}, {}};
  const auto unique = d.unique_patterns();
  std::vector<std::uint64_t> singletons(d.layers(), 0);
  for (const Node& n : d.nodes) {
    if (n.kind == NodeKind::pattern && n.count == 1) ++singletons[n.layer - 1];
  }
  for (std::size_t l = 0; l < d.layers(); ++l) {
    row.unique.push_back(unique[l]);
    row.singleton_share.push_back(
        d.instances == 0 ? 0.0 : static_cast<double>(singletons[l]) / static_cast<double>(d.instances));
  }
  row.flags = error_flags(compute_flows(d, default_flow_layers(d.layers())));
  row.small_cluster = small_cluster_auroc(decision_tree_clusters(d));
  return row;
}

// Per layer, the share of instances whose pattern differs between the two epochs.
std::vector<double> churn(const Diagram& before, const Diagram& after) {
  std::vector<double> out;
  for (std::size_t l = 1; l <= after.layers(); ++l) {
    std::uint64_t changed = 0;
    for (std::size_t i = 0; i < after.instances; ++i) {
      const auto a = before.pattern_row(before.path_node(i, l)), b = after.pattern_row(after.path_node(i, l));
      changed += std::equal(a.begin(), a.end(), b.begin(), b.end()) ? 0 : 1;
    }
    out.push_back(static_cast<double>(changed) / static_cast<double>(after.instances));
  }
  return out;
}

// The start of the per-instance record: indices, labels, the labels trained on.
RunDynamics start_dynamics(const Loaded& x, std::size_t epochs) {
  RunDynamics r{x.d.index, x.d.label, x.d.label, false, CorrectnessHistory(x.d.instances), {}};
  if (const auto marks = corruption_marks(x.d, x.file)) {
    r.train_label = marks->train_label;
    r.has_corruption = true;
  }
  r.epochs.reserve(epochs);
  return r;
}

// One epoch's row and correctness, against the epoch `before` (none for the first).
void add_epoch(Series& s, const SeriesFile& f, const Loaded& x, const Loaded* before) {
  SeriesEpoch row = epoch_row(f, x);
  if (before != nullptr) {
    check_same_instances(*before, x);
    row.churn = churn(before->d, x.d);
    row.flow_ari = adjusted_rand_index(before->flows, x.flows);
  }
  s.dynamics.history.append_row(correctness_row(x.d.predicted, s.dynamics.train_label));
  s.dynamics.epochs.push_back(f.epoch);
  s.epochs.push_back(std::move(row));
}

}  // namespace

Series read_series(std::span<const std::string> files) {
  const std::vector<SeriesFile> ordered = order_by_epoch(files);
  Loaded previous = load(ordered.front());
  Series s{{}, start_dynamics(previous, ordered.size())};
  add_epoch(s, ordered.front(), previous, nullptr);
  for (std::size_t k = 1; k < ordered.size(); ++k) {
    Loaded x = load(ordered[k]);
    add_epoch(s, ordered[k], x, &previous);
    previous = std::move(x);  // the one before is freed here: two diagrams at most
  }
  return s;
}

Table series_table(const Series& s) {
  Table t{"epochs", {"epoch", "file", "instances", "accuracy"}, {}};
  const std::size_t L = s.epochs.front().unique.size();
  for (const char* what : {"unique", "singletons", "churn"}) {
    for (std::size_t l = 1; l <= L; ++l) t.columns.push_back(fmt::format("{}_l{}", what, l));
  }
  for (const char* name : {"flow_ari", "auroc_small_strength", "auroc_low_purity", "auroc_small_cluster"}) {
    t.columns.emplace_back(name);
  }
  const auto decimal = [](const std::optional<double>& v) { return v ? Cell{Decimal{*v, 4}} : Cell{std::monostate{}}; };
  for (const SeriesEpoch& e : s.epochs) {
    const double accuracy =
        e.instances == 0 ? 0.0 : static_cast<double>(e.instances - e.errors) / static_cast<double>(e.instances);
    std::vector<Cell> row{e.epoch, e.file, e.instances, Decimal{accuracy, 4}};
    for (const auto u : e.unique) row.emplace_back(u);
    for (const double share : e.singleton_share) row.emplace_back(Decimal{share, 4});
    for (std::size_t l = 0; l < L; ++l) {
      row.push_back(l < e.churn.size() ? Cell{Decimal{e.churn[l], 4}} : Cell{std::monostate{}});
    }
    for (const auto& v : {e.flow_ari, e.flags.small_strength, e.flags.low_purity, e.small_cluster}) {
      row.push_back(decimal(v));
    }
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace apd
