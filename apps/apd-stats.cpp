// apd-stats: tables read off APD files (per-layer patterns, flows, the
// strength x purity distribution, AUROC of error flags, decision-tree
// clusters) or off a run (the paper's Figure 1 as a table, churn, forgetting
// events). Links no LibTorch.
#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/limits.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/io/apd_json.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/output.hpp"
#include "apd/io/run_info.hpp"
#include "apd/report/forgetting.hpp"
#include "apd/report/regions.hpp"
#include "apd/report/series.hpp"
#include "apd/report/stats.hpp"
#include "app_support.hpp"

namespace {

// The tables apd-stats writes: those of APD files, or a run's epochs. "all"
// is every APD table but the per-instance cluster members.
enum class TableChoice {
  all,
  layers,
  flows,
  bins,
  errors,
  clusters,
  members,
  corruption,
  regions,
  region_correlations,
  epochs,
  forgetting,
  forgetting_summary,
  forgetting_histogram
};
constexpr apd::NameTable<TableChoice, 13> kTableNames{{{"layers", TableChoice::layers},
                                                       {"flows", TableChoice::flows},
                                                       {"bins", TableChoice::bins},
                                                       {"errors", TableChoice::errors},
                                                       {"clusters", TableChoice::clusters},
                                                       {"members", TableChoice::members},
                                                       {"corruption", TableChoice::corruption},
                                                       {"regions", TableChoice::regions},
                                                       {"region_correlations", TableChoice::region_correlations},
                                                       {"epochs", TableChoice::epochs},
                                                       {"forgetting", TableChoice::forgetting},
                                                       {"forgetting_summary", TableChoice::forgetting_summary},
                                                       {"forgetting_histogram", TableChoice::forgetting_histogram}}};

bool is_run_table(TableChoice t) {
  return t == TableChoice::epochs || t == TableChoice::forgetting || t == TableChoice::forgetting_summary ||
         t == TableChoice::forgetting_histogram;
}

struct Options {
  std::vector<std::string> files;
  std::string run;
  TableChoice table = TableChoice::all;
  apd::TableFormat format = apd::TableFormat::text;
  std::vector<std::size_t> flow_layers;
  std::size_t top = 20;
  double strength_base = 2.0;
  std::size_t purity_bins = 10;
  std::string out = "-";
  apd::Verbosity verbosity = apd::Verbosity::normal;
};

std::string render(const std::vector<apd::Table>& tables, apd::TableFormat format) {
  std::string out;
  if (format == apd::TableFormat::json) return apd::render_json(tables);
  for (std::size_t k = 0; k < tables.size(); ++k) {
    if (k > 0) out += "\n";
    switch (format) {
      case apd::TableFormat::text: out += apd::render_text(tables[k]); break;
      case apd::TableFormat::markdown: out += apd::render_markdown(tables[k]); break;
      case apd::TableFormat::csv: out += apd::render_csv(tables[k]); break;
      case apd::TableFormat::json: break;
    }
  }
  return out;
}

// The forgetting tables `o.table` asks for: with --table forgetting the
// per-instance table, preceded (except in CSV, one table) by the summary and
// the histogram.
std::vector<apd::Table> forgetting_tables(const Options& o, const apd::RunDynamics& dynamics) {
  apd::ForgettingTables f = apd::forgetting_tables(dynamics);
  switch (o.table) {
    case TableChoice::forgetting_summary: return {std::move(f.summary)};
    case TableChoice::forgetting_histogram: return {std::move(f.histogram)};
    case TableChoice::forgetting:
      if (o.format == apd::TableFormat::csv) return {std::move(f.instances)};
      return {std::move(f.summary), std::move(f.histogram), std::move(f.instances)};
    default: return {std::move(f.summary), std::move(f.histogram)};
  }
}

// The tables of a run: per epoch (the paper's Figure 1) and, when the run
// recorded them, of its instances' dynamics.
int run_tables(const Options& o) {
  if (o.table != TableChoice::all && !is_run_table(o.table)) {
    throw apd::UsageError(
        fmt::format("--table {}: is a table of APD files; with --run the tables are epochs, "
                    "forgetting, forgetting_summary and forgetting_histogram",
                    apd::name_of(kTableNames, o.table)));
  }
  const apd::RunPaths run{o.run};
  const apd::RunInfo info = apd::read_run_info(run);
  if (!std::filesystem::exists(run.metrics())) {
    throw apd::Error(fmt::format("{}: no metrics.jsonl (has the run finished an epoch?)", o.run));
  }
  std::vector<apd::Table> tables;
  if (o.table == TableChoice::all || o.table == TableChoice::epochs) {
    tables.push_back(apd::run_table(apd::read_metrics(run.metrics())));
  }
  // CSV holds one table: by default the epochs.
  if (o.table == TableChoice::all && info.dynamics && o.format != apd::TableFormat::csv) {
    try {
      for (auto& t : forgetting_tables(o, apd::read_run_dynamics(run))) tables.push_back(std::move(t));
    } catch (const apd::Error& e) {
      spdlog::warn("no forgetting tables: {}", e.what());
    }
  } else if (o.table != TableChoice::all && o.table != TableChoice::epochs) {
    tables = forgetting_tables(o, apd::read_run_dynamics(run));
  }
  apd::write_output(o.out, render(tables, o.format));
  return 0;
}

// The tables of a series of APD files (one model's instances at several
// epochs): per epoch, and the instances' forgetting as a run's.
int series_tables(const Options& o) {
  apd::Stopwatch clock;
  const apd::Series series = apd::read_series(o.files);
  spdlog::debug("read a series of {} files in {:.2f} s", series.epochs.size(), clock.lap());
  std::vector<apd::Table> tables;
  if (o.table == TableChoice::epochs) {
    tables.push_back(apd::series_table(series));
  } else {
    tables = forgetting_tables(o, series.dynamics);
  }
  apd::write_output(o.out, render(tables, o.format));
  return 0;
}

// The flow and bin settings, checked against their documented ranges.
apd::StatsSpec stats_spec(const Options& o) {
  if (!(o.strength_base >= apd::kMinStrengthBase && o.strength_base <= apd::kMaxStrengthBase)) {
    throw apd::UsageError(fmt::format("--strength-base: {} is outside [{}, {}]", o.strength_base, apd::kMinStrengthBase,
                                      apd::kMaxStrengthBase));
  }
  if (o.purity_bins == 0 || o.purity_bins > apd::kMaxPurityBins) {
    throw apd::UsageError(fmt::format("--purity-bins: {} is outside 1..{}", o.purity_bins, apd::kMaxPurityBins));
  }
  apd::StatsSpec spec;
  spec.flow_layers = o.flow_layers;
  spec.top = o.top;
  spec.bins = {o.strength_base, o.purity_bins};
  spec.full_patterns = o.format == apd::TableFormat::csv || o.format == apd::TableFormat::json;
  spec.dense_bins = spec.full_patterns;  // text and markdown list only the cells that hold flows
  return spec;
}

// The four tables of the APD files, rows of every file in order.
int run_apd_tables(const Options& o) {
  if (o.format == apd::TableFormat::csv && o.table == TableChoice::all) {
    throw apd::UsageError(
        "--format csv writes one table: add --table layers, flows, bins, errors, clusters, members, corruption, "
        "regions or region_correlations");
  }
  if (is_run_table(o.table)) return series_tables(o);
  const bool all = o.table == TableChoice::all;
  const apd::StatsSpec spec = stats_spec(o);
  auto tables = apd::make_stats_tables();
  apd::Stopwatch clock;
  for (const auto& file : o.files) {
    const apd::Diagram d = apd::read_apd_file(file);
    spdlog::debug("read {} ({:.1f} MB): {} nodes, {} links, {} instances in {:.2f} s", file,
                  static_cast<double>(std::filesystem::file_size(file)) / 1e6, d.nodes.size(), d.links.size(),
                  d.instances, clock.lap());
    if (!o.flow_layers.empty()) {
      try {
        (void)apd::normalize_flow_layers(o.flow_layers, d.layers());
      } catch (const apd::UsageError& e) {
        throw apd::UsageError(fmt::format("--flow-layers: {} in {}", e.what(), file));
      }
    }
    if (all || o.table == TableChoice::layers) apd::add_layer_rows(tables, file, d);
    const bool flows = all || o.table == TableChoice::flows, bins = all || o.table == TableChoice::bins,
               errors = all || o.table == TableChoice::errors;
    if (flows || bins || errors) apd::add_flow_rows(tables, file, d, spec, flows, bins, errors);
    if (errors) apd::add_region_error_rows(tables, file, d);
    const bool regions = o.table == TableChoice::regions || o.table == TableChoice::region_correlations;
    if (regions || (all && !d.region_radius.empty())) apd::add_region_rows(tables, file, d, spec);
    const bool clusters = all || o.table == TableChoice::clusters, members = o.table == TableChoice::members;
    if (clusters || members) apd::add_cluster_rows(tables, file, d, spec, members);
    if (all || o.table == TableChoice::corruption) apd::add_corruption_rows(tables, file, d, spec);
    spdlog::debug("{}: tables in {:.2f} s", file, clock.lap());
  }
  std::vector<apd::Table> chosen;
  if (o.table == TableChoice::members) chosen.push_back(std::move(tables.cluster_members));
  for (auto* t : {&tables.layers, &tables.flows, &tables.bins, &tables.errors, &tables.clusters}) {
    if (all || apd::name_of(kTableNames, o.table) == t->name) chosen.push_back(std::move(*t));
  }
  // Only files of runs with corrupted labels have rows: "all" shows it then.
  if (o.table == TableChoice::corruption || (all && !tables.corruption.rows.empty())) {
    chosen.push_back(std::move(tables.corruption));
  }
  // Only files extracted with --geometry have rows: "all" shows them then; CSV holds one table.
  const bool regions = o.table == TableChoice::regions || (all && !tables.regions.rows.empty());
  if (regions) chosen.push_back(std::move(tables.regions));
  if ((regions && o.format != apd::TableFormat::csv) || o.table == TableChoice::region_correlations) {
    chosen.push_back(std::move(tables.region_correlations));
  }
  apd::write_output(o.out, render(chosen, o.format));
  spdlog::debug("wrote {} in {:.2f} s", o.out == "-" ? "stdout" : o.out, clock.lap());
  return 0;
}

int run(const Options& o) {
  apd::refuse_output_in_running_run(o.out);
  std::vector<std::filesystem::path> inputs(o.files.begin(), o.files.end());
  if (!o.run.empty()) inputs = apd::RunPaths{o.run}.files();
  apd::refuse_output_over_inputs(o.out, inputs);
  if (o.run.empty() == o.files.empty()) throw apd::UsageError("give APD files, or --run RUNDIR (not both)");
  return o.run.empty() ? run_apd_tables(o) : run_tables(o);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-stats";
  Options o;
  CLI::App app{
      "Tables read off APD files: per-layer pattern counts, flows with strength and purity, the "
      "strength x purity distribution of all and wrong instances, and the AUROC of small strength or low "
      "purity as flags of misclassified instances. With --run: the per-epoch table of a training run.",
      program};
  app.get_formatter()->column_width(34);
  app.add_option("files", o.files, "APD files (apd/1 JSON written by apd-extract)");
  app.add_option("--run", o.run,
                 "apd-train run directory: per-epoch losses, accuracies, unique patterns and churn; the "
                 "forgetting events of its training instances");
  apd::app::add_enum_option<TableChoice>(
      app, "--table", kTableNames, [&o](TableChoice t) { o.table = t; },
      "One table: layers, flows, bins, errors, clusters (the authors' decision-tree clusters), members "
      "(each instance's cluster), corruption (clean vs corrupted-label instances), regions (region radius and "
      "boundary distance per flow and node, files of apd-extract --geometry) or region_correlations; with --run: "
      "epochs, forgetting "
      "(per instance), forgetting_summary or "
      "forgetting_histogram; default all but members and the per-instance forgetting");
  apd::app::add_enum_option(app, "--format", apd::kTableFormatNames, o.format, "text, csv, json or markdown");
  app.add_option("--flow-layers", o.flow_layers, "Layers whose patterns define a flow (default: the last two)")
      ->delimiter(',');
  app.add_option("--top", o.top, "Flows and clusters listed, largest first (0 = all)")
      ->check(apd::app::non_negative())
      ->capture_default_str();
  app.add_option("--strength-base", o.strength_base, "Base of the logarithmic strength bins, 1.01 to 1e6")
      ->capture_default_str();
  app.add_option("--purity-bins", o.purity_bins, "Equal-width purity bins over [0, 1], 1 to 1000")
      ->check(apd::app::non_negative())
      ->capture_default_str();
  app.add_option("--out", o.out, "Output file (default: stdout)")->capture_default_str();
  apd::app::add_verbosity_flags(app, o.verbosity);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  // Files are read one after another: room for the largest (an APD of
  // 1,000,000 instances, 91 MB: 1.08 s -> 0.40 s, page faults 38,000 -> 600).
  std::size_t largest = 0;
  for (const auto& f : o.files) largest = std::max(largest, apd::app::size_or_zero(f));
  apd::app::use_one_heap(2 * largest);
  apd::app::setup_logging(program, o.verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded([&] { return run(o); });
}
