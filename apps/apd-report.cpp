// apd-report: the paper's three figures for a run and its APD files, as one
// self-contained HTML page that opens offline (Plotly.js embedded).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "apd/core/error.hpp"
#include "apd/core/stopwatch.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/io/output.hpp"
#include "apd/io/run_dir.hpp"
#include "apd/report/report.hpp"
#include "app_support.hpp"

namespace {

struct Options {
  apd::ReportOptions report;
  std::string out;
  apd::Verbosity verbosity = apd::Verbosity::normal;
};

void add_options(CLI::App& app, Options& o) {
  app.add_option("--run", o.report.run, "apd-train run directory (Figure 1 and the header)");
  app.add_option("--apd", o.report.apds, "APD files written by apd-extract (Figures 2 and 3), in the order shown");
  auto* series = app.add_option("--series", o.report.series,
                                "APD files of one model at several epochs (apd-extract --epochs): Figure 1 from them, "
                                "Figures 2 and 3 at --figure-epochs");
  app.add_option("--figure-epochs", o.report.figure_epochs,
                 "Epochs of --series shown in Figures 2 and 3, comma-separated (default: four spread over it)")
      ->delimiter(',')
      ->check(apd::app::non_negative())
      ->needs(series);
  app.add_option("--monitor", o.report.monitor,
                 "Scores written by apd-monitor score --format json (the monitor section)");
  app.add_option("--out", o.out, "The HTML file to write")->required();
  app.add_option("--max-nodes", o.report.max_nodes,
                 "Nodes per Sankey column (2 or more); smaller patterns merge into \"other\"")
      ->check(CLI::Range(std::size_t{2}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-links", o.report.max_links,
                 "Links per Sankey diagram (0: no limit); a diagram that would draw more keeps fewer nodes per "
                 "column, the most that fit")
      ->capture_default_str();
  app.add_option("--title", o.report.title, "Page title (UTF-8)")->check(apd::app::utf8_text());
  auto* images = app.add_option("--images", o.report.gallery.images,
                                "The dataset the APDs were extracted from, when it moved: the IDX images file or "
                                "X.npy, or the directory holding it (checked against the SHA-256 the APDs recorded)");
  app.add_flag("--no-images", o.report.gallery.no_images,
               "Build the page without the galleries' pictures (they list indices and labels only)")
      ->excludes(images);
  apd::app::add_verbosity_flags(app, o.verbosity);
}

int run(const Options& o) {
  if (o.report.run.empty() && o.report.apds.empty() && o.report.monitor.empty() && o.report.series.empty()) {
    throw apd::UsageError("give --run RUNDIR, --apd FILE..., --monitor SCORES.json, or several of them");
  }
  if (!o.report.run.empty() && !o.report.series.empty()) {
    throw apd::UsageError("--series: Figure 1 comes from --run or from --series, not both");
  }
  apd::refuse_output_in_running_run(o.out);
  std::vector<std::filesystem::path> inputs = o.report.apds;
  inputs.insert(inputs.end(), o.report.series.begin(), o.report.series.end());
  inputs.push_back(o.report.monitor);
  if (!o.report.run.empty()) {
    const auto run = apd::RunPaths{o.report.run}.files();
    inputs.insert(inputs.end(), run.begin(), run.end());
  }
  apd::refuse_output_over_inputs(o.out, inputs);
  apd::Stopwatch clock;
  std::vector<std::string> warnings;
  nlohmann::json data = apd::report_data(o.report, warnings);
  for (const auto& file : o.report.apds) {
    spdlog::debug("read {} ({:.1f} MB)", file.string(), static_cast<double>(std::filesystem::file_size(file)) / 1e6);
  }
  spdlog::debug("read the run and {} APD files in {:.2f} s", o.report.apds.size(), clock.lap());
  for (const auto& w : warnings) spdlog::warn("{}", w);
  data["warnings"] = warnings;
  const std::string page = apd::render_report(data);
  spdlog::debug("rendered the page ({:.1f} MB) in {:.2f} s", static_cast<double>(page.size()) / 1e6, clock.lap());
  apd::write_output(o.out, page);
  spdlog::info("wrote {}", o.out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = "apd-report";
  Options o;
  CLI::App app{
      "Write the paper's figures for a run and its APD files as one offline HTML page: training curves and "
      "unique patterns per epoch (Figure 1), a Sankey diagram per APD file (Figure 2), and strength x purity "
      "heatmaps of all and wrong instances (Figure 3).",
      program};
  app.get_formatter()->column_width(34);
  add_options(app, o);
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  apd::app::setup_logging(program, o.verbosity);
  apd::remove_temporaries_on_signals();
  return apd::app::run_guarded([&] { return run(o); });
}
