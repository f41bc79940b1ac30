// The report page: static header and key numbers, then the three figures drawn
// by a small script from inline JSON with the embedded Plotly.js.
#include <fmt/format.h>

#include "markup.hpp"

#include "apd/report.hpp"

namespace apd {

namespace {


std::string text_of(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string number(const nlohmann::json& v, int digits) {
  return v.is_number() ? fmt::format("{:.{}f}", v.get<double>(), digits) : std::string("n/a");
}

constexpr std::string_view kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px; color: #1d2733; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d8dee6; padding-bottom: 4px; }
.meta { color: #52606d; margin: 0.2em 0; } .warn { color: #a33; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; } th, td { padding: 3px 10px; border-bottom: 1px solid #e4e8ee; text-align: right; }
th { background: #f2f5f8; } td:first-child, th:first-child { text-align: left; }
.plot { width: 100%; } .caption { color: #52606d; font-size: 0.92em; margin: 4px 0 12px; }
.legend { display: flex; align-items: center; gap: 8px; font-size: 0.9em; color: #52606d; }
.gradient { width: 220px; height: 12px; border: 1px solid #ccd; background: linear-gradient(to right, rgba(150,160,175,0.35), rgba(214,39,40,0.85)); }
)";

constexpr std::string_view kScript = R"(
const data = JSON.parse(document.getElementById('apd-data').textContent);
const config = {displaylogo: false, responsive: true};
const plots = [];
const errorColor = (s) => {
  const a = [150, 160, 175], b = [214, 39, 40];
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * s));
  return `rgba(${c[0]},${c[1]},${c[2]},${(0.35 + 0.5 * s).toFixed(3)})`;
};
if (data.run) {
  const r = data.run;
  const best = r.best_epoch;
  plots.push(Plotly.newPlot('fig1-loss', [
    {x: r.epoch, y: r.train_loss, name: 'train loss', mode: 'lines', line: {color: '#ff7f0e'}},
    {x: r.epoch, y: r.val_loss, name: 'validation loss', mode: 'lines', line: {color: '#1f77b4'}},
  ], {title: 'Loss per epoch', xaxis: {title: 'epoch'}, yaxis: {title: 'cross-entropy'}, height: 380,
      shapes: [{type: 'line', x0: best, x1: best, yref: 'paper', y0: 0, y1: 1, line: {dash: 'dot', color: '#444'}}],
      annotations: [{x: best, yref: 'paper', y: 1, text: `best validation: epoch ${best}`, showarrow: false, yanchor: 'bottom'}]},
    config));
  const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
  plots.push(Plotly.newPlot('fig1-patterns', r.unique.map((u, l) => ({
      x: r.epoch, y: u, name: `layer ${l + 1}`, mode: 'lines', line: {color: colors[l % colors.length]}})),
    {title: 'Unique activation patterns per layer, |A*_l(D)| over the training split', xaxis: {title: 'epoch'},
     yaxis: {title: 'unique patterns', type: 'linear'}, height: 380,
     updatemenus: [{type: 'buttons', direction: 'right', x: 1, xanchor: 'right', y: 1.18, buttons: [
       {label: 'linear', method: 'relayout', args: [{'yaxis.type': 'linear'}]},
       {label: 'log', method: 'relayout', args: [{'yaxis.type': 'log'}]}]}]},
    config));
}
data.apds.forEach((a, i) => {
  const s = a.sankey;
  const div = document.createElement('div');
  div.id = `sankey-${i}`;
  div.className = 'plot sankey-plot';
  div.dataset.nodes = s.node_count;
  div.dataset.links = s.link_count;
  document.getElementById('sankeys').appendChild(div);
  const title = a.epoch === null ? a.file : `epoch ${a.epoch}`;
  plots.push(Plotly.newPlot(div, [{
    type: 'sankey', arrangement: 'snap', valueformat: 'd',
    node: {label: s.label, color: s.color, customdata: s.hover, hovertemplate: '%{customdata}<extra></extra>',
           pad: 1, thickness: 16, line: {width: 0}},
    link: {source: s.source, target: s.target, value: s.value, color: s.error_share.map(errorColor),
           customdata: s.link_hover, hovertemplate: '%{customdata}<extra></extra>'},
  }], {title: `${title}: ${a.instances} instances, ${a.errors} wrong`, height: 560, margin: {l: 20, r: 20, t: 50, b: 20},
       font: {size: 11}}, config));
  if (!a.bins) return;
  const b = a.bins;
  const hdiv = document.createElement('div');
  hdiv.id = `heatmap-${i}`;
  hdiv.className = 'plot heatmap-plot';
  document.getElementById('heatmaps').appendChild(hdiv);
  const common = {x: b.x, y: b.y, type: 'heatmap', zmin: 0, xgap: 1, ygap: 1,
                  hovertemplate: 'strength %{x}<br>purity %{y}<br>%{z} instances<extra></extra>'};
  plots.push(Plotly.newPlot(hdiv, [
    {...common, z: b.wrong, zmax: data.zmax.wrong, colorscale: [[0, '#fff5f0'], [0.15, '#fcbba1'], [1, '#99000d']],
     xaxis: 'x', yaxis: 'y', colorbar: {title: 'wrong', x: 0.405, len: 0.9, thickness: 14}},
    {...common, z: b.all, zmax: data.zmax.all, colorscale: [[0, '#f7fbff'], [0.15, '#c6dbef'], [1, '#08306b']],
     xaxis: 'x2', yaxis: 'y2', colorbar: {title: 'all', x: 0.985, len: 0.9, thickness: 14}},
  ], {title: `${title}: flows over layers ${b.flow_layers.join(' and ')} (left: wrong instances, right: all instances)`,
      grid: {rows: 1, columns: 2, pattern: 'independent'}, height: 400,
      xaxis: {title: 'strength (instances in the flow, log bins)', domain: [0.06, 0.39]}, yaxis: {title: 'purity'},
      xaxis2: {title: 'strength (instances in the flow, log bins)', domain: [0.62, 0.965]}, yaxis2: {title: 'purity'}},
    config));
});
window.apdRendered = Promise.all(plots).then(() => { document.body.dataset.rendered = 'true'; });
)";

}  // namespace

std::string render_report(const nlohmann::json& data, std::string_view plotly_js) {
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>{}</title>\n<style>{}</style>\n", escape_markup(data.value("title", "")), kStyle);
  out += "<script>\n";
  out += plotly_js;
  out += "\n</script>\n</head>\n<body>\n<header>\n";
  out += fmt::format("<h1>{}</h1>\n", escape_markup(data.value("title", "")));
  const auto& tool = data["tool"];
  if (data.contains("run")) {
    const auto& r = data["run"];
    const auto& hp = r["hyperparameters"];
    out += fmt::format("<p class=\"meta\">Run <code>{}</code>: {} ReLU MLP, SGD lr {} momentum {}, batch {}, {} epochs, "
                       "inputs normalised <code>{}</code>. Best validation loss {} (accuracy {}) at epoch {}.</p>\n",
                       escape_markup(text_of(r["dir"])), escape_markup(text_of(r["architecture"])), text_of(hp["lr"]),
                       text_of(hp["momentum"]), text_of(hp["batch_size"]), text_of(hp["epochs"]),
                       escape_markup(text_of(r["normalize"])), number(r["best_val_loss"], 4), number(r["best_val_acc"], 4),
                       text_of(r["best_epoch"]));
  }
  if (!data["apds"].empty()) {
    const auto& first = data["apds"][0];
    const auto& sel = first["selection"];
    std::vector<std::string> epochs;
    for (const auto& a : data["apds"]) epochs.push_back(text_of(a["epoch"]));
    out += fmt::format("<p class=\"meta\">APDs at epochs {} of {}: split <code>{}</code>, labels {}, limit {}, "
                       "selection <code>{}</code> (seed {}).</p>\n",
                       escape_markup(fmt::format("{}", fmt::join(epochs, ", "))), escape_markup(text_of(first["architecture"])),
                       sel.is_object() ? escape_markup(text_of(sel.value("split", nlohmann::json()))) : "-",
                       sel.is_object() ? escape_markup(text_of(sel.value("labels", nlohmann::json()))) : "-",
                       sel.is_object() ? escape_markup(text_of(sel.value("limit", nlohmann::json()))) : "-",
                       sel.is_object() ? escape_markup(text_of(sel.value("select", nlohmann::json()))) : "-",
                       sel.is_object() ? escape_markup(text_of(sel.value("seed", nlohmann::json()))) : "-");
  }
  out += fmt::format("<p class=\"meta\">Made by {} {} (git {}).</p>\n", escape_markup(text_of(tool["name"])),
                     escape_markup(text_of(tool["version"])), escape_markup(text_of(tool["git_sha"])));
  for (const auto& w : data.value("warnings", nlohmann::json::array())) {
    out += fmt::format("<p class=\"meta warn\">Warning: {}</p>\n", escape_markup(text_of(w)));
  }
  out += "</header>\n";

  if (!data["apds"].empty()) {
    out += "<h2>Key numbers</h2>\n<table id=\"key-numbers\">\n<tr><th>APD file</th><th>epoch</th><th>instances</th>"
           "<th>wrong</th><th>unique patterns per layer</th><th>AUROC small strength</th><th>AUROC low purity</th></tr>\n";
    for (const auto& a : data["apds"]) {
      std::vector<std::string> unique;
      for (const auto& u : a["unique"]) unique.push_back(u.dump());
      const bool bins = a.contains("bins");
      out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                         escape_markup(text_of(a["file"])), text_of(a["epoch"]), text_of(a["instances"]), text_of(a["errors"]),
                         fmt::join(unique, " / "), bins ? number(a["bins"]["auroc_small_strength"], 3) : "n/a",
                         bins ? number(a["bins"]["auroc_low_purity"], 3) : "n/a");
    }
    out += "</table>\n<p class=\"caption\">AUROC: how well a small flow (strength) or an impure flow (purity) flags "
           "misclassified instances; 0.5 is chance, 1 a perfect flag.</p>\n";
  }
  if (data.contains("run")) {
    out += "<h2>Figure 1: training</h2>\n<div id=\"fig1-loss\" class=\"plot\"></div>\n"
           "<div id=\"fig1-patterns\" class=\"plot\"></div>\n";
  }
  if (!data["apds"].empty()) {
    out += fmt::format(
        "<h2>Figure 2: activation pattern diagrams</h2>\n<p class=\"caption\">Columns, left to right: the activation "
        "patterns of hidden layers 1..L, then the predicted labels. Node height and colour intensity are proportional "
        "to the number of instances; link width to the instances following it; link colour to its share of wrongly "
        "classified instances. At most {} nodes per column: smaller patterns are merged into \"other\".</p>\n"
        "<div class=\"legend\">error share of a link: 0 <span class=\"gradient\"></span> 1</div>\n<div id=\"sankeys\"></div>\n"
        "<h2>Figure 3: flows by strength and purity</h2>\n<p class=\"caption\">Instances grouped by their patterns on the "
        "last two hidden layers (flows). Strength: instances in the flow (log-2 bins); purity: share of the flow's most "
        "frequent predicted label. Colour scales are shared across files.</p>\n<div id=\"heatmaps\"></div>\n",
        text_of(data["max_nodes"]));
  }
  std::string json = data.dump();
  for (std::size_t at = json.find("</"); at != std::string::npos; at = json.find("</", at + 2)) json.replace(at, 2, "<\\/");
  out += "<script type=\"application/json\" id=\"apd-data\">" + json + "</script>\n";
  out += fmt::format("<script>{}</script>\n</body>\n</html>\n", kScript);
  return out;
}

}  // namespace apd
