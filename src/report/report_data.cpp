#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "apd/core/error.hpp"
#include "apd/core/flows.hpp"
#include "apd/core/version.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/io/run_info.hpp"
#include "apd/report/regions.hpp"
#include "apd/report/report.hpp"
#include "apd/report/series.hpp"

#include "apd/io/monitor_file.hpp"
#include "apd/report/monitor_stats.hpp"
#include "apd/report/stats.hpp"

namespace apd {

namespace {

std::string histogram_text(std::span<const LabelCount> hist) {
  std::vector<std::string> parts;
  for (const auto& lc : hist) parts.push_back(fmt::format("{}: {}", lc.label, lc.count));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string fixed(double v, int digits) { return fmt::format("{:.{}f}", v, digits); }

nlohmann::json sankey_json(const Diagram& d, std::size_t max_nodes) {
  const SankeyView v = sankey_view(d, max_nodes);
  nlohmann::json j;
  for (const char* key :
       {"label", "hover", "color", "column", "source", "target", "value", "error_share", "link_hover"}) {
    j[key] = nlohmann::json::array();  // present even when empty: an APD of 0 instances has no nodes
  }
  std::vector<std::uint64_t> column_max(d.layers() + 2, 1);
  for (const auto& n : v.nodes) column_max[n.column] = std::max(column_max[n.column], n.count);
  for (const auto& n : v.nodes) {
    // Colour intensity proportional to the count, relative to the column's largest node.
    const double alpha = 0.15 + 0.85 * static_cast<double>(n.count) / static_cast<double>(column_max[n.column]);
    j["label"].push_back(n.label);
    j["hover"].push_back(n.hover);
    j["color"].push_back(fmt::format("rgba(31,119,180,{:.3f})", alpha));
    j["column"].push_back(n.column);
  }
  for (const auto& l : v.links) {
    const double share = l.count == 0 ? 0.0 : static_cast<double>(l.errors) / static_cast<double>(l.count);
    j["source"].push_back(l.source);
    j["target"].push_back(l.target);
    j["value"].push_back(l.count);
    j["error_share"].push_back(share);
    std::string hover = fmt::format("{} instances, {} wrong ({:.1f}%)", l.count, l.errors, 100 * share);
    if (!d.region_radius.empty()) {
      hover +=
          fmt::format("<br>median region radius {:.4g}, boundary distance {:.4g}", l.median_radius, l.median_boundary);
    }
    j["link_hover"].push_back(std::move(hover));
  }
  j["node_count"] = v.nodes.size();
  j["link_count"] = v.links.size();
  j["columns"] = d.layers() + 1;
  return j;
}

nlohmann::json bins_json(const Diagram& d) {
  const FlowSet fs = compute_flows(d, default_flow_layers(d.layers()));
  const BinSpec spec;
  const auto cells = bin_flows(fs, spec);
  nlohmann::json j = {{"x", nlohmann::json::array()}, {"y", nlohmann::json::array()}};
  const std::size_t pb = spec.purity_bins;
  const std::size_t sb = cells.size() / pb;  // 0 when there are no flows
  for (std::size_t s = 0; s < sb; ++s) {
    const auto& c = cells[s * pb];
    j["x"].push_back(fmt::format("[{}, {})", c.strength_lo, c.strength_hi));
  }
  for (std::size_t p = 0; p < pb; ++p) {  // from the spec: the grid may hold no cells
    const double lo = static_cast<double>(p) / static_cast<double>(pb);
    const double hi = static_cast<double>(p + 1) / static_cast<double>(pb);
    j["y"].push_back(fmt::format("[{}, {}{}", fixed(lo, 1), fixed(hi, 1), p + 1 == pb ? "]" : ")"));
  }
  nlohmann::json all = nlohmann::json::array(), wrong = nlohmann::json::array();
  for (std::size_t p = 0; p < pb; ++p) {
    nlohmann::json ra = nlohmann::json::array(), rw = nlohmann::json::array();
    for (std::size_t s = 0; s < sb; ++s) {
      ra.push_back(cells[s * pb + p].instances);
      rw.push_back(cells[s * pb + p].wrong);
    }
    all.push_back(ra);
    wrong.push_back(rw);
  }
  j["all"] = all;
  j["wrong"] = wrong;
  j["flow_layers"] = fs.layers;
  // AUROC of small strength and low purity as flags of wrong predictions.
  const ErrorFlags flags = error_flags(fs);
  j["auroc_small_strength"] = flags.small_strength ? nlohmann::json(*flags.small_strength) : nlohmann::json(nullptr);
  j["auroc_low_purity"] = flags.low_purity ? nlohmann::json(*flags.low_purity) : nlohmann::json(nullptr);
  return j;
}

std::string canonical_path(const std::filesystem::path& p) {
  std::error_code ec;
  const auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? p.lexically_normal().string() : c.string();
}

}  // namespace

std::vector<std::vector<std::size_t>> column_order(const Diagram& d) {
  std::vector<std::vector<std::size_t>> by_column(d.layers() + 2);
  for (std::size_t k = 0; k < d.nodes.size(); ++k) by_column[d.nodes[k].layer].push_back(k);
  for (auto& nodes : by_column) {
    std::stable_sort(nodes.begin(), nodes.end(),
                     [&](std::size_t a, std::size_t b) { return d.nodes[a].count > d.nodes[b].count; });
  }
  return by_column;
}

namespace {

// The links a Sankey view of columns of at most `cap` nodes draws.
std::size_t view_link_count(const Diagram& d, const std::vector<std::vector<std::size_t>>& by_column, std::size_t cap) {
  std::vector<std::uint64_t> view_of(d.nodes.size());
  std::uint64_t at = 0;
  for (const auto& nodes : by_column) {
    const std::size_t keep = drawn_alone(nodes.size(), cap);
    for (std::size_t r = 0; r < nodes.size(); ++r) view_of[nodes[r]] = at + std::min(r, keep);
    at += std::min(nodes.size(), cap);
  }
  std::vector<std::uint64_t> pairs;
  pairs.reserve(d.links.size());
  for (const Link& l : d.links) pairs.push_back(view_of[l.source] * at + view_of[l.target]);
  std::sort(pairs.begin(), pairs.end());
  return static_cast<std::size_t>(std::unique(pairs.begin(), pairs.end()) - pairs.begin());
}

}  // namespace

std::size_t sankey_node_cap(const Diagram& d, std::size_t max_nodes, std::size_t max_links) {
  if (max_nodes < 2) throw UsageError(fmt::format("a Sankey column needs room for 2 nodes, not {}", max_nodes));
  const auto by_column = column_order(d);
  if (max_links == 0 || view_link_count(d, by_column, max_nodes) <= max_links) return max_nodes;
  // Fewer nodes per column never draw more links: the largest cap within the budget, by bisection.
  std::size_t fits = 2, over = max_nodes;
  while (over - fits > 1) {
    const std::size_t mid = fits + (over - fits) / 2;
    (view_link_count(d, by_column, mid) <= max_links ? fits : over) = mid;
  }
  return fits;
}

namespace {

// The median region radius and boundary distance of every view node's and
// link's instances, appended to their hovers.
void add_median_distances(const Diagram& d, const std::vector<std::size_t>& view_of,
                          const std::map<std::pair<std::size_t, std::size_t>, std::size_t>& link_of, SankeyView& v) {
  std::map<std::int32_t, std::size_t> label_node;
  for (std::size_t k = 0; k < d.nodes.size(); ++k) {
    if (d.nodes[k].kind == NodeKind::label) label_node[d.nodes[k].label] = view_of[k];
  }
  std::vector<std::vector<std::size_t>> node_members(v.nodes.size()), link_members(v.links.size());
  for (std::size_t i = 0; i < d.instances; ++i) {
    std::size_t previous = 0;
    for (std::size_t l = 1; l <= d.layers() + 1; ++l) {
      const std::size_t at = l <= d.layers() ? view_of[d.path_node(i, l)] : label_node.at(d.predicted[i]);
      node_members[at].push_back(i);
      if (l > 1) link_members[link_of.at({previous, at})].push_back(i);
      previous = at;
    }
  }
  const auto medians = [&](const std::vector<std::size_t>& members, double& radius, double& boundary) {
    for (auto [column, out] : {std::pair{&d.region_radius, &radius}, std::pair{&d.boundary_distance, &boundary}}) {
      std::vector<double> values;
      values.reserve(members.size());
      for (const auto i : members) values.push_back((*column)[i]);
      *out = spread_of(std::move(values)).median;
    }
  };
  for (std::size_t k = 0; k < v.nodes.size(); ++k) {
    auto& n = v.nodes[k];
    medians(node_members[k], n.median_radius, n.median_boundary);
    n.hover +=
        fmt::format("<br>median region radius {:.4g}, boundary distance {:.4g}", n.median_radius, n.median_boundary);
  }
  for (std::size_t k = 0; k < v.links.size(); ++k)
    medians(link_members[k], v.links[k].median_radius, v.links[k].median_boundary);
}

}  // namespace

SankeyView sankey_view(const Diagram& d, std::size_t max_nodes) {
  if (max_nodes < 2) throw UsageError(fmt::format("a Sankey column needs room for 2 nodes, not {}", max_nodes));
  SankeyView v;
  const std::size_t columns = d.layers() + 1;
  const auto by_column = column_order(d);
  std::vector<std::size_t> view_of(d.nodes.size());
  for (std::size_t c = 1; c <= columns; ++c) {
    const auto& nodes = by_column[c];
    const bool merge = nodes.size() > max_nodes;
    const std::size_t keep = drawn_alone(nodes.size(), max_nodes);
    for (std::size_t r = 0; r < keep; ++r) {
      const std::size_t k = nodes[r];
      const Node& n = d.nodes[k];
      SankeyView::ViewNode vn;
      vn.column = c;
      vn.count = n.count;
      vn.errors = n.errors;
      if (n.kind == NodeKind::label) {
        vn.label = fmt::format("label {}", n.label);
        vn.hover = fmt::format("predicted label {}<br>{} instances, {} wrong<br>true labels: {}", n.label, n.count,
                               n.errors, histogram_text(d.true_labels(k)));
      } else {
        vn.hover =
            fmt::format("layer {} pattern {}<br>{}<br>{} instances, {} wrong<br>true labels: {}<br>predicted: {}",
                        n.layer, d.node_id(k), d.pattern(k), n.count, n.errors, histogram_text(d.true_labels(k)),
                        histogram_text(d.predicted_labels(k)));
      }
      view_of[k] = v.nodes.size();
      v.nodes.push_back(std::move(vn));
    }
    if (merge) {
      SankeyView::ViewNode other;
      other.column = c;
      other.merged = nodes.size() - keep;
      for (std::size_t r = keep; r < nodes.size(); ++r) {
        other.count += d.nodes[nodes[r]].count;
        other.errors += d.nodes[nodes[r]].errors;
        view_of[nodes[r]] = v.nodes.size();
      }
      other.label = fmt::format("other ({} patterns)", other.merged);
      other.hover = fmt::format("{} smaller patterns of layer {}, merged<br>{} instances, {} wrong", other.merged, c,
                                other.count, other.errors);
      v.nodes.push_back(std::move(other));
    }
  }
  std::map<std::pair<std::size_t, std::size_t>, std::size_t> link_of;
  for (const Link& l : d.links) {
    const auto key = std::pair{view_of[l.source], view_of[l.target]};
    auto [it, fresh] = link_of.emplace(key, v.links.size());
    if (fresh) v.links.push_back({key.first, key.second, 0, 0});
    v.links[it->second].count += l.count;
    v.links[it->second].errors += l.errors;
  }
  if (!d.region_radius.empty()) add_median_distances(d, view_of, link_of, v);
  return v;
}

namespace {

// Figure 1's churn panel: per layer the share of instances whose pattern
// changed, and the flow ARI, per epoch (null where not recorded); empty
// when the run recorded no dynamics.
nlohmann::json churn_json(const std::vector<EpochMetrics>& metrics) {
  std::size_t layers = 0;
  for (const auto& m : metrics) layers = std::max(layers, m.churn.size());
  if (layers == 0) return nullptr;
  nlohmann::json c = {{"layers", nlohmann::json::array()}, {"flow_ari", nlohmann::json::array()}};
  for (std::size_t l = 0; l < layers; ++l) c["layers"].push_back(nlohmann::json::array());
  for (const auto& m : metrics) {
    for (std::size_t l = 0; l < layers; ++l) {
      c["layers"][l].push_back(l < m.churn.size() ? nlohmann::json(m.churn[l]) : nlohmann::json(nullptr));
    }
    c["flow_ari"].push_back(m.flow_ari ? nlohmann::json(*m.flow_ari) : nlohmann::json(nullptr));
  }
  return c;
}

// Figure 1's data and the header's: the run's setup and its per-epoch metrics.
nlohmann::json run_json(const std::filesystem::path& dir, const RunInfo& info) {
  const RunPaths run{dir};
  if (!std::filesystem::exists(run.metrics())) {
    throw Error(fmt::format("{}: the run has no metrics.jsonl (no epoch finished); Figure 1 needs it", dir.string()));
  }
  const auto metrics = read_metrics(run.metrics());
  if (metrics.empty()) throw Error(fmt::format("{}: no epochs recorded", run.metrics().string()));
  nlohmann::json r;
  r["dir"] = dir.string();
  r["architecture"] = info.model.architecture;
  r["hyperparameters"] = {{"epochs", info.hyper.epochs},
                          {"lr", info.hyper.lr},
                          {"momentum", info.hyper.momentum},
                          {"batch_size", info.hyper.batch_size}};
  r["normalize"] = to_string(info.data.normalize);
  std::size_t layers = 0;
  for (const auto& m : metrics) layers = std::max(layers, m.unique_patterns.size());
  r["unique"] = nlohmann::json::array();
  for (std::size_t l = 0; l < layers; ++l) r["unique"].push_back(nlohmann::json::array());
  r["churn"] = churn_json(metrics);
  for (const auto& m : metrics) {
    r["epoch"].push_back(m.epoch);
    r["train_loss"].push_back(m.train_loss);
    r["val_loss"].push_back(m.val_loss);
    r["val_acc"].push_back(m.val_acc);
    for (std::size_t l = 0; l < layers; ++l) {
      r["unique"][l].push_back(l < m.unique_patterns.size() ? nlohmann::json(m.unique_patterns[l])
                                                            : nlohmann::json(nullptr));
    }
  }
  const auto best = best_epoch(metrics);
  r["best_epoch"] = best->epoch;
  r["best_val_loss"] = best->val_loss;
  r["best_val_acc"] = best->val_acc;
  return r;
}

// Figure 1's data from a series of APD files: accuracy, unique patterns,
// churn and flow ARI per epoch.
nlohmann::json series_json(const Series& s) {
  nlohmann::json r;
  const std::size_t layers = s.epochs.front().unique.size();
  r["files"] = s.epochs.size();
  r["unique"] = nlohmann::json::array();
  nlohmann::json churn = {{"layers", nlohmann::json::array()}, {"flow_ari", nlohmann::json::array()}};
  for (std::size_t l = 0; l < layers; ++l) {
    r["unique"].push_back(nlohmann::json::array());
    churn["layers"].push_back(nlohmann::json::array());
  }
  for (const SeriesEpoch& e : s.epochs) {
    r["epoch"].push_back(e.epoch);
    r["accuracy"].push_back(static_cast<double>(e.instances - e.errors) / static_cast<double>(e.instances));
    for (std::size_t l = 0; l < layers; ++l) {
      r["unique"][l].push_back(e.unique[l]);
      churn["layers"][l].push_back(l < e.churn.size() ? nlohmann::json(e.churn[l]) : nlohmann::json(nullptr));
    }
    churn["flow_ari"].push_back(e.flow_ari ? nlohmann::json(*e.flow_ari) : nlohmann::json(nullptr));
  }
  r["churn"] = std::move(churn);
  return r;
}

// The files of the series Figures 2 and 3 show: those of `wanted` (each must
// be one of the series' epochs), or four spread over the series.
std::vector<std::filesystem::path> figure_files(const Series& s, const std::vector<std::int64_t>& wanted) {
  std::vector<std::filesystem::path> out;
  const std::size_t n = s.epochs.size();
  if (wanted.empty()) {
    const std::size_t shown = std::min<std::size_t>(4, n);
    for (std::size_t k = 0; k < shown; ++k)
      out.emplace_back(s.epochs[(k * (n - 1) + (shown - 1) / 2) / (shown - 1)].file);
    return out;
  }
  for (const std::int64_t e : wanted) {
    const auto it = std::find_if(s.epochs.begin(), s.epochs.end(), [&](const SeriesEpoch& x) { return x.epoch == e; });
    if (it == s.epochs.end()) {
      throw UsageError(fmt::format("--figure-epochs: epoch {} is not in the series (epochs {} to {}, {} files)", e,
                                   s.epochs.front().epoch, s.epochs.back().epoch, n));
    }
    out.emplace_back(it->file);
  }
  return out;
}

// Figures 2 and 3 of one APD file, and its row of key numbers.
nlohmann::json apd_json(const std::filesystem::path& file, const Diagram& d, const ApdProvenance& from,
                        std::size_t max_nodes) {
  nlohmann::json a;
  a["file"] = file.string();
  a["epoch"] = from.epoch ? nlohmann::json(*from.epoch) : nlohmann::json(nullptr);
  a["instances"] = d.instances;
  a["errors"] = d.errors;
  a["unique"] = d.unique_patterns();
  a["selection"] = from.selection;
  a["architecture"] = from.architecture;
  a["sankey"] = sankey_json(d, max_nodes);
  if (d.has_instances) a["bins"] = bins_json(d);
  if (!d.region_radius.empty()) a["regions"] = region_panel_json(d, BinSpec{});
  return a;
}

std::uint64_t largest_cell(const nlohmann::json& rows) {
  std::uint64_t largest = 1;
  for (const auto& row : rows) {
    for (const auto& v : row) largest = std::max(largest, v.get<std::uint64_t>());
  }
  return largest;
}

}  // namespace

nlohmann::json report_data(const ReportOptions& o, std::vector<std::string>& warnings) {
  nlohmann::json data;
  data["tool"] = {{"name", "apd-report"}, {"version", version()}, {"git_sha", git_sha()}};
  data["title"] = o.title.empty() ? std::string("Activation Pattern Diagrams") : o.title;
  std::optional<std::size_t> depth;
  if (!o.run.empty()) {
    const RunInfo info = read_run_info(RunPaths{o.run});
    data["run"] = run_json(o.run, info);
    depth = info.model.hidden.size();
  }
  std::vector<std::filesystem::path> apds;
  if (!o.series.empty()) {
    std::vector<std::string> files;
    for (const auto& f : o.series) files.push_back(f.string());
    const Series s = read_series(files);
    data["series"] = series_json(s);
    apds = figure_files(s, o.figure_epochs);
  }
  apds.insert(apds.end(), o.apds.begin(), o.apds.end());
  data["apds"] = nlohmann::json::array();
  std::uint64_t zmax_all = 1, zmax_wrong = 1;
  Thumbnails thumbnails(o.gallery);
  for (const auto& file : apds) {
    const Diagram d = read_apd_file(file);
    if (depth && *depth != d.layers()) {
      throw Error(fmt::format("{}: {} hidden layers, but {} has {}: all files of a report must share the depth",
                              file.string(), d.layers(), o.run.empty() ? apds.front().string() : o.run.string(),
                              *depth));
    }
    depth = d.layers();
    const ApdProvenance from = provenance(d, file.string());
    if (!o.run.empty() && (!from.run || canonical_path(*from.run) != canonical_path(o.run))) {
      warnings.push_back(fmt::format("{}: extracted from {}, not from the report's run {}", file.string(),
                                     from.run.value_or("a bare checkpoint"), o.run.string()));
    }
    const std::size_t cap = sankey_node_cap(d, o.max_nodes, o.max_links);
    nlohmann::json a = apd_json(file, d, from, cap);
    a["sankey"]["node_cap"] = cap;
    if (d.has_instances) {
      a["gallery"] = gallery_json(d, cap);
      const auto images = thumbnails.add(d, file.string(), warnings);
      a["gallery"]["images"] = images ? nlohmann::json(*images) : nlohmann::json(nullptr);
    }
    if (a.contains("bins")) {
      zmax_all = std::max(zmax_all, largest_cell(a["bins"]["all"]));
      zmax_wrong = std::max(zmax_wrong, largest_cell(a["bins"]["wrong"]));
    } else {
      warnings.push_back(
          fmt::format("{}: no per-instance records, so no Figure 3 heatmaps for it (rerun apd-extract "
                      "without --no-instances)",
                      file.string()));
    }
    data["apds"].push_back(std::move(a));
  }
  data["zmax"] = {{"all", zmax_all}, {"wrong", zmax_wrong}};
  data["datasets"] = thumbnails.json();
  data["max_nodes"] = o.max_nodes;
  data["max_links"] = o.max_links;
  if (!o.monitor.empty()) data["monitor"] = monitor_report_json(read_monitor_scores(o.monitor), o.monitor.string());
  return data;
}

}  // namespace apd
