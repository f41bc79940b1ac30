// The report page: static header and key numbers, then the three figures drawn
// by the embedded script (assets/report.js) from inline JSON with the embedded
// Plotly.js (assets.S).
#include <fmt/format.h>

#include "apd/io/markup.hpp"

#include "apd/report/report.hpp"

extern "C" {
extern const char apd_plotly_js_begin[], apd_plotly_js_end[];
extern const char apd_report_js_begin[], apd_report_js_end[];
extern const char apd_gallery_js_begin[], apd_gallery_js_end[];
extern const char apd_report_css_begin[], apd_report_css_end[];
}

namespace apd {

namespace {

// j[key], or null when j is not an object or lacks the key (nlohmann's const
// operator[] is undefined behaviour for a missing key).
const nlohmann::json& field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string text_of(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string number(const nlohmann::json& v, int digits) {
  return v.is_number() ? fmt::format("{:.{}f}", v.get<double>(), digits) : std::string("n/a");
}

// The header: what produced the page, the run and the APD selection.
std::string render_header(const nlohmann::json& data) {
  std::string out = fmt::format("<header>\n<h1>{}</h1>\n", escape_markup(data.value("title", "")));
  if (data.contains("run")) {
    const auto& r = field(data, "run");
    const auto& hp = field(r, "hyperparameters");
    out += fmt::format(
        "<p class=\"meta\">Run <code>{}</code>: {} ReLU MLP, SGD lr {} momentum {}, batch {}, {} epochs, "
        "inputs normalised <code>{}</code>. Best validation loss {} (accuracy {}) at epoch {}.</p>\n",
        escape_markup(text_of(field(r, "dir"))), escape_markup(text_of(field(r, "architecture"))),
        text_of(field(hp, "lr")), text_of(field(hp, "momentum")), text_of(field(hp, "batch_size")),
        text_of(field(hp, "epochs")), escape_markup(text_of(field(r, "normalize"))),
        number(field(r, "best_val_loss"), 4), number(field(r, "best_val_acc"), 4), text_of(field(r, "best_epoch")));
  }
  if (!field(data, "apds").empty()) {
    const auto& first = field(data, "apds")[0];
    const auto& sel = field(first, "selection");
    auto selected = [&](const char* key) {
      return sel.is_object() ? escape_markup(text_of(sel.value(key, nlohmann::json()))) : std::string("-");
    };
    std::vector<std::string> epochs;
    for (const auto& a : field(data, "apds")) epochs.push_back(text_of(field(a, "epoch")));
    out += fmt::format(
        "<p class=\"meta\">APDs at epochs {} of {}: split <code>{}</code>, labels {}, limit {}, "
        "selection <code>{}</code> (seed {}).</p>\n",
        escape_markup(fmt::format("{}", fmt::join(epochs, ", "))), escape_markup(text_of(field(first, "architecture"))),
        selected("split"), selected("labels"), selected("limit"), selected("select"), selected("seed"));
  }
  const auto& tool = field(data, "tool");
  out += fmt::format("<p class=\"meta\">Made by {} {} (git {}).</p>\n", escape_markup(text_of(field(tool, "name"))),
                     escape_markup(text_of(field(tool, "version"))), escape_markup(text_of(field(tool, "git_sha"))));
  for (const auto& w : data.value("warnings", nlohmann::json::array())) {
    out += fmt::format("<p class=\"meta warn\">Warning: {}</p>\n", escape_markup(text_of(w)));
  }
  return out + "</header>\n";
}

// One row per APD file: counts, unique patterns and the error-flag AUROCs.
std::string render_key_numbers(const nlohmann::json& apds) {
  std::string out =
      "<h2>Key numbers</h2>\n<table id=\"key-numbers\">\n<tr><th>APD file</th><th>epoch</th><th>instances</th>"
      "<th>wrong</th><th>unique patterns per layer</th><th>AUROC small strength</th><th>AUROC low purity</th></tr>\n";
  for (const auto& a : apds) {
    std::vector<std::string> unique;
    for (const auto& u : field(a, "unique")) unique.push_back(u.dump());
    const bool bins = a.contains("bins");
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       escape_markup(text_of(field(a, "file"))), text_of(field(a, "epoch")),
                       text_of(field(a, "instances")), text_of(field(a, "errors")), fmt::join(unique, " / "),
                       bins ? number(field(field(a, "bins"), "auroc_small_strength"), 3) : "n/a",
                       bins ? number(field(field(a, "bins"), "auroc_low_purity"), 3) : "n/a");
  }
  return out +
         "</table>\n<p class=\"caption\">AUROC: how well a small flow (strength) or an impure flow (purity) flags "
         "misclassified instances; 0.5 is chance, 1 a perfect flag.</p>\n";
}

// Figures 2 and 3 with the galleries' controls: the instance search, the
// flows tables' container, the gallery panel and the #hash message.
std::string render_apd_sections(const nlohmann::json& data) {
  bool galleries = false;
  for (const auto& a : field(data, "apds")) galleries = galleries || a.contains("gallery");
  const auto& max_links = field(data, "max_links");
  const std::string link_budget =
      max_links == 0 ? ""
                     : fmt::format(" (fewer where a diagram would draw more than {} links: its title says so)",
                                   text_of(max_links));
  std::string out = fmt::format(
      "<h2>Figure 2: activation pattern diagrams</h2>\n<p class=\"caption\">Columns, left to right: the activation "
      "patterns of hidden layers 1..L, then the predicted labels. Node height and colour intensity are proportional "
      "to the number of instances; link width to the instances following it; link colour to its share of wrongly "
      "classified instances. At most {} nodes per column{}: smaller patterns are merged into \"other\".{}</p>\n"
      "<div class=\"legend\">error share of a link: 0 <span class=\"gradient\"></span> 1</div>\n",
      text_of(field(data, "max_nodes")), link_budget, galleries ? " Click a node or a link to see its instances." : "");
  if (galleries) {
    out +=
        "<form id=\"instance-search\" class=\"search\"><label>Follow one instance through every diagram: dataset "
        "index <input id=\"instance-index\" type=\"text\" inputmode=\"numeric\" size=\"8\"></label> "
        "<button type=\"submit\">show</button></form>\n<ul id=\"instance-result\" class=\"meta\"></ul>\n";
  }
  out +=
      "<div id=\"sankeys\"></div>\n<h2>Figure 3: flows by strength and purity</h2>\n<p class=\"caption\">Instances "
      "grouped by their patterns on the last two hidden layers (flows). Strength: instances in the flow (log-2 "
      "bins); purity: share of the flow's most frequent predicted label. Colour scales are shared across "
      "files. For files extracted with --geometry, a panel of each instance's region radius (the L2 distance to "
      "the boundary of its linear region) against the strength of its flow, and the medians in every node's and "
      "link's hover.</p>\n<div id=\"heatmaps\"></div>\n";
  if (!galleries) return out;
  return out +
         "<div id=\"flows\"></div>\n<aside id=\"gallery\" hidden><header><h3 id=\"gallery-title\"></h3>"
         "<button type=\"button\" id=\"gallery-close\">close</button></header><p id=\"gallery-summary\" "
         "class=\"meta\"></p><div id=\"gallery-items\"></div><p id=\"gallery-more\" class=\"meta\"></p></aside>\n"
         "<p id=\"hash-message\" class=\"warn hash-message\" hidden></p>\n";
}

// The figures' headings, captions and empty containers, filled by the script.
std::string render_figure_sections(const nlohmann::json& data) {
  std::string out;
  if (data.contains("run")) {
    out +=
        "<h2>Figure 1: training</h2>\n<div id=\"fig1-loss\" class=\"plot\"></div>\n"
        "<div id=\"fig1-patterns\" class=\"plot\"></div>\n";
    if (!field(field(data, "run"), "churn").is_null()) {
      out +=
          "<div id=\"fig1-churn\" class=\"plot\"></div>\n<p class=\"caption\">Churn: the share of training "
          "instances whose activation pattern on a layer differs from the previous epoch's. Flow ARI: the adjusted "
          "Rand index between the flows (patterns on the last two hidden layers) of consecutive epochs; 1 means "
          "the same grouping of instances, 0 no more agreement than chance.</p>\n";
    }
  }
  if (data.contains("series")) {
    out += fmt::format(
        "<h2>Figure 1: training, from {} APD files</h2>\n<div id=\"fig1-accuracy\" class=\"plot\"></div>\n"
        "<div id=\"fig1-patterns\" class=\"plot\"></div>\n<div id=\"fig1-churn\" class=\"plot\"></div>\n"
        "<p class=\"caption\">Read from the files' instances at each epoch (apd-stats FILES --table epochs gives "
        "the numbers). Churn: the share of instances whose activation pattern on a layer differs from the previous "
        "file's. Flow ARI: the adjusted Rand index between the flows (patterns on the last two hidden layers) of "
        "consecutive files.</p>\n",
        field(field(data, "series"), "files").get<std::size_t>());
  }
  if (field(data, "apds").empty()) return out;
  return out + render_apd_sections(data);
}

// apd-monitor's scores: the two tables, and a container per score's histograms.
std::string render_monitor_section(const nlohmann::json& m) {
  std::vector<std::string> layers;
  for (const auto& l : field(m, "layers")) layers.push_back(l.dump());
  std::string out = fmt::format(
      "<h2 id=\"monitor\">Runtime monitor</h2>\n<p class=\"meta\">Scores of {}: {} in-distribution and {} "
      "out-of-distribution instances; monitored ReLU layer(s) {}.</p>\n"
      "<p class=\"caption\">Per monitored layer, the Hamming distance from an instance's activation pattern to "
      "the nearest pattern that correctly classified training instances of its predicted class produced (0: in "
      "pattern); combined: the sum over layers of distance / width. An instance is flagged at tolerance gamma when "
      "a distance exceeds gamma (Cheng et al., DATE 2019); a class without known patterns has no distance and "
      "flags every input predicted as it.</p>\n",
      escape_markup(text_of(field(m, "file"))), text_of(field(m, "instances")), text_of(field(m, "ood_instances")),
      fmt::join(layers, ", "));
  out += "<h3>Flags</h3>\n" + text_of(field(m, "flags_html"));
  out +=
      "<p class=\"caption\">flagged_share: flagged among all instances of the set; misclassified_flagged_share: "
      "flagged among the misclassified (recall); precision: misclassified among the flagged.</p>\n";
  out += "<h3>Detection</h3>\n" + text_of(field(m, "detection_html"));
  out +=
      "<p class=\"caption\">The distance as a detector: AUROC (ties count one half) and the false-positive "
      "rate at 95% true-positive rate, of misclassified test instances among the test instances, and of "
      "out-of-distribution instances against the test instances.</p>\n";
  return out + "<h3>Distances</h3>\n<div id=\"monitor-histograms\"></div>\n";
}

// The data as inline JSON with every "<" written as \u003c (it can only
// stand inside a JSON string, where JSON.parse reads it back): no string can
// close the script element ("</script") or put the HTML parser into the
// script-data escaped states ("<!--", "<script") that swallow the page.
std::string render_data(const nlohmann::json& data) {
  const std::string dumped = data.dump();
  std::string json;
  json.reserve(dumped.size());
  for (const char c : dumped) {
    if (c == '<') {
      json += "\\u003c";
    } else {
      json += c;
    }
  }
  return "<script type=\"application/json\" id=\"apd-data\">" + json + "</script>\n";
}

}  // namespace

std::string render_report(const nlohmann::json& data, const ReportAssets& assets) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>{}</title>\n<style>{}</style>\n", escape_markup(data.value("title", "")), assets.style);
  out += fmt::format("<script>\n{}\n</script>\n</head>\n<body>\n", assets.plotly_js);
  out += render_header(data);
  if (!field(data, "apds").empty()) out += render_key_numbers(field(data, "apds"));
  out += render_figure_sections(data);
  if (data.contains("monitor")) out += render_monitor_section(field(data, "monitor"));
  out += render_data(data);
  out += fmt::format("<script>{}\n{}</script>\n</body>\n</html>\n", assets.script, assets.gallery);
  return out;
}

ReportAssets embedded_assets() noexcept {
  auto view = [](const char* begin, const char* end) {
    return std::string_view(begin, static_cast<std::size_t>(end - begin));
  };
  return {view(apd_plotly_js_begin, apd_plotly_js_end), view(apd_report_js_begin, apd_report_js_end),
          view(apd_gallery_js_begin, apd_gallery_js_end), view(apd_report_css_begin, apd_report_css_end)};
}

}  // namespace apd
