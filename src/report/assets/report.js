// apd-report's page script: draws Figures 1-3 and the monitor's histograms from the inline JSON (#apd-data)
// with the embedded Plotly.js. Embedded at build time (assets.S).
const data = JSON.parse(document.getElementById('apd-data').textContent);
const config = {displaylogo: false, responsive: true};
const plots = [];
const errorColor = (s) => {
  const a = [150, 160, 175], b = [214, 39, 40];
  const c = a.map((x, i) => Math.round(x + (b[i] - x) * s));
  return `rgba(${c[0]},${c[1]},${c[2]},${(0.35 + 0.5 * s).toFixed(3)})`;
};
const colors = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];
// Figure 1's panels that a run and a series of files share: unique patterns
// per layer (linear/log switch) and churn per layer with the flow ARI.
const patternsPlot = (r, mode, over) => Plotly.newPlot('fig1-patterns', r.unique.map((u, l) => ({
    x: r.epoch, y: u, name: `layer ${l + 1}`, mode, line: {color: colors[l % colors.length]}})),
  {title: `Unique activation patterns per layer, |A*_l(D)| over ${over}`, xaxis: {title: 'epoch'},
   yaxis: {title: 'unique patterns', type: 'linear'}, height: 380,
   updatemenus: [{type: 'buttons', direction: 'right', x: 1, xanchor: 'right', y: 1.18, buttons: [
     {label: 'linear', method: 'relayout', args: [{'yaxis.type': 'linear'}]},
     {label: 'log', method: 'relayout', args: [{'yaxis.type': 'log'}]}]}]},
  config);
const churnPlot = (r, mode, between) => Plotly.newPlot('fig1-churn', [
    ...r.churn.layers.map((c, l) => ({x: r.epoch, y: c, name: `churn, layer ${l + 1}`, mode,
                                       line: {color: colors[l % colors.length]}})),
    {x: r.epoch, y: r.churn.flow_ari, name: 'flow ARI', mode, line: {color: '#444', dash: 'dash'}},
  ], {title: `How instances move: pattern churn per layer and flow agreement between consecutive ${between}`,
      xaxis: {title: 'epoch'}, yaxis: {title: 'share changed / ARI', range: [-0.05, 1.05]}, height: 380},
  config);
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
  plots.push(patternsPlot(r, 'lines', 'the training split'));
  if (r.churn) plots.push(churnPlot(r, 'lines', 'epochs'));
}
if (data.series) {
  const r = data.series;
  plots.push(Plotly.newPlot('fig1-accuracy', [
    {x: r.epoch, y: r.accuracy, name: 'accuracy', mode: 'lines+markers', line: {color: '#1f77b4'}}],
    {title: "Accuracy of the files' instances per epoch", xaxis: {title: 'epoch'},
     yaxis: {title: 'accuracy', range: [0, 1.02]}, height: 340}, config));
  plots.push(patternsPlot(r, 'lines+markers', "the files' instances"));
  plots.push(churnPlot(r, 'lines+markers', 'files'));
}
// Figure 3's region panel (files of apd-extract --geometry): the instances'
// region radius per strength bin of their flow, median with quartiles, and
// the wrong instances' median.
const regionPlot = (g, title, i) => {
  const div = document.createElement('div');
  div.id = `regions-${i}`;
  div.className = 'plot region-plot';
  document.getElementById('heatmaps').appendChild(div);
  const rho = (x) => (x === null ? 'n/a' : x.toFixed(3));
  const gap = (a, b) => a.map((v, k) => (v === null || b[k] === null ? null : Math.abs(v - b[k])));
  return Plotly.newPlot(div, [
    {x: g.x, y: g.median, name: 'all instances: median, quartiles', mode: 'lines+markers', line: {color: '#08306b'},
     error_y: {type: 'data', symmetric: false, array: gap(g.q3, g.median), arrayminus: gap(g.median, g.q1)},
     customdata: g.instances, hovertemplate: 'strength %{x}<br>median radius %{y:.4g}<br>%{customdata} instances<extra></extra>'},
    {x: g.x, y: g.wrong_median, name: 'wrong instances: median', mode: 'markers',
     marker: {color: '#d62728', size: 9, symbol: 'x'}},
  ], {title: `${title}: region radius vs flow strength (Spearman: radius-strength ${rho(g.spearman_strength)}, ` +
             `radius-boundary distance ${rho(g.spearman_boundary)})`,
      xaxis: {title: `strength of the instance's flow over layers ${g.flow_layers.join(' and ')} (log bins)`},
      yaxis: {title: 'region radius (L2, input space)', type: 'log'}, height: 380}, config);
};
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
    type: 'sankey', arrangement: 'fixed', valueformat: 'd',  // 'snap' lets a node drag but swallows its click
    node: {label: s.label, color: s.color, customdata: s.hover, hovertemplate: '%{customdata}<extra></extra>',
           pad: 1, thickness: 16, line: {width: 0}},
    link: {source: s.source, target: s.target, value: s.value, color: s.error_share.map(errorColor),
           customdata: s.link_hover, hovertemplate: '%{customdata}<extra></extra>'},
  }], {title: `${title}: ${a.instances} instances, ${a.errors} wrong` +
              (s.node_cap < data.max_nodes ? ` (at most ${s.node_cap} nodes per column to draw ≤ ${data.max_links} links)` : ''),
       height: 560, margin: {l: 20, r: 20, t: 50, b: 20},
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
  if (a.regions) plots.push(regionPlot(a.regions, title, i));
});
if (data.monitor) {
  const groupColors = {'correct': '#1f77b4', 'wrong': '#d62728', 'out of distribution': '#7f7f7f'};
  data.monitor.histograms.forEach((h, i) => {
    const div = document.createElement('div');
    div.id = `monitor-hist-${i}`;
    div.className = 'plot monitor-plot';
    div.dataset.groups = h.groups.length;
    document.getElementById('monitor-histograms').appendChild(div);
    const traces = h.groups.map((g) => ({
      type: 'bar', x: h.center, y: g.counts.map((c) => (g.total ? c / g.total : 0)),
      customdata: g.counts.map((c, b) => [c, h.x[b]]),
      name: `${g.name} (${g.total}${g.undefined ? `, ${g.undefined} undefined` : ''})`,
      marker: {color: groupColors[g.name]},
      hovertemplate: `${g.name}: %{customdata[0]} instances at %{customdata[1]}<extra></extra>`}));
    plots.push(Plotly.newPlot(div, traces, {
      title: `${h.score}: distance to the nearest known pattern of the predicted class`, barmode: 'group',
      xaxis: {title: h.integer ? 'Hamming distance' : 'sum over layers of distance / width'},
      yaxis: {title: 'share of the group'}, height: 360}, config));
  });
}
window.apdRendered = Promise.all(plots).then(() => { document.body.dataset.rendered = 'true'; });
