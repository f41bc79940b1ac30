// apd-report: the paper's three figures for a run and its APD files, as one
// self-contained HTML page that opens offline (Plotly.js embedded).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app_support.hpp"
#include "apd/io/atomic_file.hpp"
#include "apd/core/error.hpp"
#include "apd/report/report.hpp"

int main(int argc, char** argv) {
  const std::string program = "apd-report";
  apd::ReportOptions o;
  std::string out;
  CLI::App app{"Write the paper's figures for a run and its APD files as one offline HTML page: training curves and "
               "unique patterns per epoch (Figure 1), a Sankey diagram per APD file (Figure 2), and strength x purity "
               "heatmaps of all and wrong instances (Figure 3).",
               program};
  app.get_formatter()->column_width(34);
  app.add_option("--run", o.run, "apd-train run directory (Figure 1 and the header)");
  app.add_option("--apd", o.apds, "APD files written by apd-extract (Figures 2 and 3), in the order shown");
  app.add_option("--out", out, "The HTML file to write")->required();
  app.add_option("--max-nodes", o.max_nodes, "Nodes per Sankey column; smaller patterns merge into \"other\"")
      ->capture_default_str();
  app.add_option("--title", o.title, "Page title");
  apd::app::add_version_flag(app, program);
  if (const auto rc = apd::app::parse(app, program, argc, argv)) return *rc;
  apd::app::setup_logging(program, apd::Verbosity::normal);
  return apd::app::run_guarded([&] {
    std::vector<std::string> warnings;
    nlohmann::json data = apd::report_data(o, warnings);
    for (const auto& w : warnings) spdlog::warn("{}", w);
    data["warnings"] = warnings;
    apd::write_file_atomically(out, apd::render_report(data));
    spdlog::info("wrote {}", out);
    return 0;
  });
}
