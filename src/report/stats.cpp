#include "apd/report/stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "apd/core/error.hpp"

namespace apd {

namespace {

struct Counts {
  std::uint64_t positives = 0, negatives = 0;
};

Counts counts_of(const std::vector<ScoredGroup>& groups) {
  std::uint64_t positives = 0, total = 0;
  for (const auto& g : groups) {
    positives += g.positives;
    total += g.instances;
  }
  return {positives, total - positives};
}

// An undefined score (NaN: e.g. the msp of NaN logits) ranks above every
// defined one, as an undefined distance does; NaN would also break the
// sort's ordering and the grouping of equal scores.
void rank_undefined_highest(std::vector<ScoredGroup>& groups) {
  for (auto& g : groups) {
    if (std::isnan(g.score)) g.score = std::numeric_limits<double>::infinity();
  }
}

}  // namespace

std::optional<double> auroc(std::vector<ScoredGroup> groups) {
  rank_undefined_highest(groups);
  std::sort(groups.begin(), groups.end(), [](const ScoredGroup& a, const ScoredGroup& b) { return a.score < b.score; });
  const auto [positives, negatives] = counts_of(groups);
  if (positives == 0 || negatives == 0) return std::nullopt;
  // Sum of the (average) ranks of the positives, equal scores sharing a rank.
  long double rank_sum = 0;
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < groups.size();) {
    std::uint64_t n = 0, p = 0;
    std::size_t j = i;
    for (; j < groups.size() && groups[j].score == groups[i].score; ++j) {
      n += groups[j].instances;
      p += groups[j].positives;
    }
    const long double average_rank = static_cast<long double>(below) + (static_cast<long double>(n) + 1) / 2;
    rank_sum += average_rank * static_cast<long double>(p);
    below += n;
    i = j;
  }
  const long double p = static_cast<long double>(positives);
  const long double u = rank_sum - p * (p + 1) / 2;
  return static_cast<double>(u / (p * static_cast<long double>(negatives)));
}

std::optional<double> fpr_at_95_tpr(std::vector<ScoredGroup> groups) {
  rank_undefined_highest(groups);
  std::sort(groups.begin(), groups.end(), [](const ScoredGroup& a, const ScoredGroup& b) { return a.score > b.score; });
  const auto [positives, negatives] = counts_of(groups);
  if (positives == 0 || negatives == 0) return std::nullopt;
  // Lower the threshold one distinct score at a time until 95% of the
  // positives (rounded up, in integers) score at or above it.
  const std::uint64_t needed = (95 * positives + 99) / 100;
  std::uint64_t caught = 0, false_alarms = 0;
  for (std::size_t i = 0; i < groups.size() && caught < needed;) {
    std::size_t j = i;
    for (; j < groups.size() && groups[j].score == groups[i].score; ++j) {
      caught += groups[j].positives;
      false_alarms += groups[j].instances - groups[j].positives;
    }
    i = j;
  }
  return static_cast<double>(false_alarms) / static_cast<double>(negatives);
}

ErrorFlags error_flags(const FlowSet& flows) {
  std::vector<ScoredGroup> by_strength, by_purity;
  ErrorFlags out;
  for (const Flow& f : flows.flows) {
    // Higher score = more suspicious: small strength, low purity.
    by_strength.push_back({-static_cast<double>(f.strength), f.strength, f.errors});
    by_purity.push_back({-f.purity(), f.strength, f.errors});
    out.wrong += f.errors;
  }
  out.small_strength = auroc(std::move(by_strength));
  out.low_purity = auroc(std::move(by_purity));
  return out;
}

Cell epoch_cell(const Diagram& d) {
  const auto it = d.graph.find("epoch");
  if (it != d.graph.end() && it->is_number_integer()) return it->get<std::int64_t>();
  return std::monostate{};
}

std::optional<CorruptionMarks> corruption_marks(const Diagram& d, const std::string& file) {
  const auto record = d.graph.find("label_corruption");
  if (record == d.graph.end() || record->is_null()) return std::nullopt;
  const auto integers = [&](const char* key) {
    const auto it = record->find(key);
    if (!record->is_object() || it == record->end() || !it->is_array()) {
      throw Error(fmt::format("{}: graph.label_corruption.{}: expected an array of integers", file, key));
    }
    std::vector<std::int64_t> out;
    for (const auto& v : *it) {
      if (!v.is_number_integer()) {
        throw Error(fmt::format("{}: graph.label_corruption.{}: expected an array of integers", file, key));
      }
      out.push_back(v.get<std::int64_t>());
    }
    return out;
  };
  const auto indices = integers("indices");
  const auto labels = integers("train_labels");
  if (indices.size() != labels.size() || !std::is_sorted(indices.begin(), indices.end())) {
    throw Error(fmt::format("{}: graph.label_corruption: indices must ascend and match train_labels one to one", file));
  }
  CorruptionMarks m{std::vector<std::uint8_t>(d.instances, 0), {}};
  m.train_label.assign(d.label.begin(), d.label.end());
  for (std::size_t i = 0; i < d.instances; ++i) {
    const auto at = std::lower_bound(indices.begin(), indices.end(), d.index[i]);
    if (at == indices.end() || *at != d.index[i]) continue;
    const std::int64_t trained = labels[static_cast<std::size_t>(at - indices.begin())];
    if (trained < 0 || trained > std::numeric_limits<std::int32_t>::max()) {
      throw Error(fmt::format("{}: graph.label_corruption.train_labels: {} is not a label", file, trained));
    }
    m.corrupted[i] = 1;
    m.train_label[i] = static_cast<std::int32_t>(trained);
  }
  return m;
}

namespace {

std::string abbreviated(const Diagram& d, std::uint32_t node) {
  const std::string p = d.pattern(node);
  const auto on = static_cast<std::size_t>(std::count(p.begin(), p.end(), '1'));
  return fmt::format("{}[{}/{} on]", d.node_id(node), on, p.size());
}

}  // namespace

StatsTables make_stats_tables() {
  StatsTables t;
  t.layers = {
      "layers",
      {"file", "epoch", "layer", "width", "instances", "unique_patterns", "singleton_share", "largest", "entropy_bits"},
      {}};
  t.flows = {
      "flows",
      {"file", "epoch", "flow", "strength", "purity", "accuracy", "majority_label", "errors", "patterns", "nodes"},
      {}};
  t.bins = {"bins",
            {"file", "epoch", "strength_lo", "strength_hi", "purity_lo", "purity_hi", "flows", "instances", "wrong"},
            {}};
  t.errors = {"errors", {"file", "epoch", "score", "auroc", "instances", "wrong", "flow_layers"}, {}};
  t.clusters = {"clusters",
                {"file", "epoch", "cluster", "size", "layer", "accuracy", "majority_predicted", "errors", "corrupted"},
                {}};
  t.cluster_members = {
      "cluster_members",
      {"file", "epoch", "position", "index", "label", "predicted", "cluster", "cluster_size", "corrupted"},
      {}};
  t.corruption = {"corruption",
                  {"file", "epoch", "group", "instances", "mean_cluster_size", "median_cluster_size",
                   "in_singleton_clusters", "mean_flow_strength", "predicted_label", "predicted_train_label"},
                  {}};
  t.regions = {"regions",
               {"file", "epoch", "kind", "id", "instances", "purity", "wrong", "radius_min", "radius_median",
                "radius_max", "boundary_min", "boundary_median", "boundary_max"},
               {}};
  t.region_correlations = {"region_correlations", {"file", "epoch", "x", "y", "spearman", "instances"}, {}};
  return t;
}

void add_layer_rows(StatsTables& t, const std::string& file, const Diagram& d) {
  for (const auto& s : summarize_layers(d)) {
    t.layers.rows.push_back({file, epoch_cell(d), static_cast<std::int64_t>(s.layer),
                             static_cast<std::int64_t>(s.width), s.instances, s.unique_patterns,
                             Decimal{s.singleton_share, 4}, s.largest, Decimal{s.entropy_bits, 3}});
  }
}

void add_flow_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec, bool flows,
                   bool bins, bool errors) {
  if (!d.has_instances) {
    throw Error(
        fmt::format("{}: flows need per-instance records and this APD has none (rerun apd-extract "
                    "without --no-instances, or ask only for --table layers)",
                    file));
  }
  const auto layers = spec.flow_layers.empty() ? default_flow_layers(d.layers()) : spec.flow_layers;
  const FlowSet fs = compute_flows(d, layers);
  const std::string layer_names = fmt::format("{}", fmt::join(fs.layers, "+"));
  if (flows) {
    const std::size_t shown = spec.top == 0 ? fs.flows.size() : std::min(spec.top, fs.flows.size());
    for (std::size_t k = 0; k < shown; ++k) {
      const Flow& f = fs.flows[k];
      std::vector<std::string> patterns, ids;
      for (const auto node : fs.nodes(k)) {
        patterns.push_back(spec.full_patterns ? d.pattern(node) : abbreviated(d, node));
        ids.push_back(d.node_id(node));
      }
      t.flows.rows.push_back({file, epoch_cell(d), fmt::format("f{}", k), f.strength, Decimal{f.purity(), 4},
                              Decimal{f.accuracy(), 4}, static_cast<std::int64_t>(f.majority_label), f.errors,
                              fmt::format("{}", fmt::join(patterns, spec.full_patterns ? "|" : " ")),
                              fmt::format("{}", fmt::join(ids, "|"))});
    }
  }
  if (bins) {
    for (const BinCell& c : bin_flows(fs, spec.bins)) {
      if (!spec.dense_bins && c.flows == 0) continue;
      t.bins.rows.push_back({file, epoch_cell(d), Decimal{c.strength_lo, 0}, Decimal{c.strength_hi, 0},
                             Decimal{c.purity_lo, 2}, Decimal{c.purity_hi, 2}, c.flows, c.instances, c.wrong});
    }
  }
  if (errors) {
    const ErrorFlags flags = error_flags(fs);
    for (const auto& [name, a] :
         {std::pair{"small_strength", flags.small_strength}, std::pair{"low_purity", flags.low_purity}}) {
      t.errors.rows.push_back({file, epoch_cell(d), std::string(name),
                               a ? Cell{Decimal{*a, 4}} : Cell{std::monostate{}},
                               static_cast<std::uint64_t>(d.instances), flags.wrong, layer_names});
    }
    const auto a = small_cluster_auroc(decision_tree_clusters(d));
    t.errors.rows.push_back({file, epoch_cell(d), std::string("small_cluster"),
                             a ? Cell{Decimal{*a, 4}} : Cell{std::monostate{}}, static_cast<std::uint64_t>(d.instances),
                             flags.wrong, std::string("tree")});
  }
}

std::optional<double> small_cluster_auroc(const Clustering& c) {
  std::vector<ScoredGroup> groups;
  groups.reserve(c.clusters.size());
  for (const Cluster& k : c.clusters) groups.push_back({-static_cast<double>(k.size), k.size, k.size - k.correct});
  return auroc(std::move(groups));
}

void add_cluster_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec, bool members) {
  if (!d.has_instances) {
    throw Error(
        fmt::format("{}: clusters need per-instance records and this APD has none (rerun apd-extract "
                    "without --no-instances)",
                    file));
  }
  const Clustering c = decision_tree_clusters(d);
  const auto marks = corruption_marks(d, file);
  std::vector<std::uint64_t> corrupted(c.clusters.size(), 0);
  if (marks) {
    for (std::size_t i = 0; i < d.instances; ++i) corrupted[c.cluster_of[i]] += marks->corrupted[i];
  }
  const std::size_t shown = spec.top == 0 ? c.clusters.size() : std::min(spec.top, c.clusters.size());
  for (std::size_t k = 0; k < shown; ++k) {
    const Cluster& x = c.clusters[k];
    Cell bad = std::monostate{};
    if (marks) bad = corrupted[k];
    t.clusters.rows.push_back({file, epoch_cell(d), fmt::format("c{}", k), x.size, static_cast<std::int64_t>(x.layer),
                               Decimal{x.accuracy(), 4}, static_cast<std::int64_t>(x.majority_predicted),
                               x.size - x.correct, bad});
  }
  if (!members) return;
  for (std::size_t i = 0; i < d.instances; ++i) {
    const std::uint32_t k = c.cluster_of[i];
    Cell bad = std::monostate{};
    if (marks) bad = marks->corrupted[i] != 0;
    t.cluster_members.rows.push_back({file, epoch_cell(d), static_cast<std::uint64_t>(i), d.index[i],
                                      static_cast<std::int64_t>(d.label[i]), static_cast<std::int64_t>(d.predicted[i]),
                                      fmt::format("c{}", k), c.clusters[k].size, bad});
  }
}

void add_corruption_rows(StatsTables& t, const std::string& file, const Diagram& d, const StatsSpec& spec) {
  const auto marks = corruption_marks(d, file);
  if (!marks) return;
  if (!d.has_instances) {
    throw Error(fmt::format("{}: the corruption table needs per-instance records and this APD has none", file));
  }
  const Clustering c = decision_tree_clusters(d);
  const FlowSet fs = compute_flows(d, spec.flow_layers.empty() ? default_flow_layers(d.layers()) : spec.flow_layers);
  for (const int group : {0, 1}) {
    std::vector<std::uint64_t> sizes;
    std::uint64_t strength = 0, singletons = 0, as_label = 0, as_trained = 0;
    for (std::size_t i = 0; i < d.instances; ++i) {
      if (marks->corrupted[i] != group) continue;
      sizes.push_back(c.clusters[c.cluster_of[i]].size);
      strength += fs.flows[fs.flow_of[i]].strength;
      singletons += sizes.back() == 1 ? 1 : 0;
      as_label += d.predicted[i] == d.label[i] ? 1 : 0;
      as_trained += d.predicted[i] == marks->train_label[i] ? 1 : 0;
    }
    std::vector<Cell> row = {file, epoch_cell(d), std::string(group == 1 ? "corrupted" : "clean"),
                             static_cast<std::uint64_t>(sizes.size())};
    if (sizes.empty()) {
      row.resize(t.corruption.columns.size(), std::monostate{});
    } else {
      const auto n = static_cast<double>(sizes.size());
      std::sort(sizes.begin(), sizes.end());
      const std::size_t mid = sizes.size() / 2;
      const double median = sizes.size() % 2 == 1
                                ? static_cast<double>(sizes[mid])
                                : (static_cast<double>(sizes[mid - 1]) + static_cast<double>(sizes[mid])) / 2;
      const double total = static_cast<double>(std::accumulate(sizes.begin(), sizes.end(), std::uint64_t{0}));
      row.insert(
          row.end(),
          {Cell{Decimal{total / n, 2}}, Cell{Decimal{median, 1}}, Cell{Decimal{static_cast<double>(singletons) / n, 4}},
           Cell{Decimal{static_cast<double>(strength) / n, 2}}, Cell{Decimal{static_cast<double>(as_label) / n, 4}},
           Cell{Decimal{static_cast<double>(as_trained) / n, 4}}});
    }
    t.corruption.rows.push_back(std::move(row));
  }
}

Table run_table(const std::vector<EpochMetrics>& metrics) {
  Table t{"epochs", {"epoch", "train_loss", "train_acc", "val_loss", "val_acc"}, {}};
  std::size_t layers = 0, churn_layers = 0;
  bool ari = false;
  for (const auto& m : metrics) {
    layers = std::max(layers, m.unique_patterns.size());
    churn_layers = std::max(churn_layers, m.churn.size());
    ari = ari || m.flow_ari.has_value();
  }
  for (std::size_t l = 1; l <= layers; ++l) t.columns.emplace_back(fmt::format("unique_l{}", l));
  for (std::size_t l = 1; l <= churn_layers; ++l) t.columns.emplace_back(fmt::format("churn_l{}", l));
  if (ari) t.columns.emplace_back("flow_ari");
  t.columns.emplace_back("best");
  const auto best = best_epoch(metrics);
  for (const auto& m : metrics) {
    std::vector<Cell> row = {static_cast<std::int64_t>(m.epoch), Decimal{m.train_loss, 4}, Decimal{m.train_acc, 4},
                             Decimal{m.val_loss, 4}, Decimal{m.val_acc, 4}};
    // if/else, not ?: on Cells: GCC 12 -O2 warns (falsely) of an uninitialised variant there.
    for (std::size_t l = 0; l < layers; ++l) {
      if (l < m.unique_patterns.size()) {
        row.emplace_back(m.unique_patterns[l]);
      } else {
        row.emplace_back(std::monostate{});
      }
    }
    for (std::size_t l = 0; l < churn_layers; ++l) {
      if (l < m.churn.size()) {
        row.emplace_back(Decimal{m.churn[l], 4});
      } else {
        row.emplace_back(std::monostate{});
      }
    }
    if (ari && m.flow_ari) {
      row.emplace_back(Decimal{*m.flow_ari, 4});
    } else if (ari) {
      row.emplace_back(std::monostate{});
    }
    row.emplace_back(best && best->epoch == m.epoch);
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace apd
