// Opens an apd-report page in Debian's headless Chromium (never a downloaded
// browser) and checks what a reader would see: no console errors, no network
// request outside the file, one rendered Sankey per APD file with one node per
// displayed node and one path per displayed link, the heatmaps and Figure 1
// drawn, Figure 3's region panel (two traces) for every file with distances
// (apd-extract --geometry) and their medians in every node's and link's hover,
// and the monitor's histograms (one bar trace per group) and tables.
// Writes a PNG screenshot. With PAYLOAD (HTML put into every string the page
// shows, --title included), also: the page rendered all the same, no payload
// ran (window.pwned) or became an element, and the title shows it as text.
// Usage: node check_report.mjs REPORT.html OUT.png [PAYLOAD]
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [, , html, png, payload] = process.argv;
const failures = [];
const userDataDir = mkdtempSync(join(tmpdir(), 'apd-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1300, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic'],
});
const page = context.pages()[0] ?? await context.newPage();
page.on('console', (msg) => { if (msg.type() === 'error') failures.push(`console error: ${msg.text()}`); });
page.on('pageerror', (err) => failures.push(`page error: ${err.message}`));
await page.route('**/*', (route) => {
  const url = route.request().url();
  if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
  failures.push(`network request to ${url}: the report must open offline`);
  return route.abort();
});
await page.goto('file://' + resolve(html));
await page.waitForFunction(() => document.body.dataset.rendered === 'true', null, { timeout: 120000 });

const result = await page.evaluate(() => {
  const data = JSON.parse(document.getElementById('apd-data').textContent);
  const sankeys = [...document.querySelectorAll('.sankey-plot')].map((div) => ({
    id: div.id,
    wantNodes: Number(div.dataset.nodes),
    wantLinks: Number(div.dataset.links),
    nodes: div.querySelectorAll('g.sankey-node').length,
    links: div.querySelectorAll('path.sankey-link').length,
  }));
  const heatmaps = [...document.querySelectorAll('.heatmap-plot')].map((div) => ({
    id: div.id, images: div.querySelectorAll('g.hm image').length }));
  const regions = [...document.querySelectorAll('.region-plot')].map((div) => ({
    id: div.id, traces: div.querySelectorAll('.scatterlayer .trace').length }));
  const withRegions = data.apds.filter((a) => a.regions);
  const hoversWithMedians = withRegions.every((a) => a.sankey.hover.every((h) => h.includes('median region radius')) &&
                                                     a.sankey.link_hover.every((h) => h.includes('median region radius')));
  const fig1 = document.getElementById('fig1-loss');
  const fig1p = document.getElementById('fig1-patterns');
  const fig1c = document.getElementById('fig1-churn');
  return {
    apds: data.apds.length,
    withBins: data.apds.filter((a) => a.bins).length,
    hasRun: Boolean(data.run),
    layers: data.run ? data.run.unique.length : 0,
    sankeys, heatmaps, regions, withRegions: withRegions.length, hoversWithMedians,
    lossTraces: fig1 ? fig1.querySelectorAll('.scatterlayer .trace').length : 0,
    patternTraces: fig1p ? fig1p.querySelectorAll('.scatterlayer .trace').length : 0,
    hasChurn: Boolean(data.run && data.run.churn),
    churnLayers: data.run && data.run.churn ? data.run.churn.layers.length : 0,
    churnTraces: fig1c ? fig1c.querySelectorAll('.scatterlayer .trace').length : 0,
    seriesLayers: data.series ? data.series.unique.length : 0,
    seriesTraces: ['fig1-accuracy', 'fig1-patterns', 'fig1-churn'].map((id) => {
      const div = document.getElementById(id);
      return div ? div.querySelectorAll('.scatterlayer .trace').length : 0;
    }),
    monitorScores: data.monitor ? data.monitor.histograms.length : 0,
    monitorPlots: [...document.querySelectorAll('.monitor-plot')].map((div) => ({
      id: div.id, groups: Number(div.dataset.groups), bars: div.querySelectorAll('.barlayer .trace').length })),
    monitorTables: document.querySelectorAll('table.flags, table.detection').length,
    pwned: window.pwned ?? null,
    // The page has three scripts: Plotly, the data, its own code.
    planted: document.querySelectorAll('img[src="x"]').length + document.querySelectorAll('script').length - 3,
    title: document.querySelector('h1')?.textContent ?? '',
    captions: document.body.innerText,
  };
});

if (result.sankeys.length !== result.apds) failures.push(`${result.sankeys.length} Sankey plots for ${result.apds} APD files`);
for (const s of result.sankeys) {
  if (s.nodes !== s.wantNodes) failures.push(`${s.id}: ${s.nodes} rendered nodes, ${s.wantNodes} displayed`);
  if (s.links !== s.wantLinks) failures.push(`${s.id}: ${s.links} rendered links, ${s.wantLinks} displayed`);
}
if (result.heatmaps.length !== result.withBins) failures.push(`${result.heatmaps.length} heatmap plots for ${result.withBins} files`);
for (const h of result.heatmaps) if (h.images !== 2) failures.push(`${h.id}: ${h.images} heatmaps drawn, 2 expected`);
if (result.regions.length !== result.withRegions) failures.push(`${result.regions.length} region panels for ${result.withRegions} files with distances`);
for (const r of result.regions) if (r.traces !== 2) failures.push(`${r.id}: ${r.traces} region traces drawn, 2 expected`);
if (!result.hoversWithMedians) failures.push('a node or link hover of a file with distances lacks its median region radius');
if (result.hasRun && result.lossTraces !== 2) failures.push(`Figure 1: ${result.lossTraces} loss curves, 2 expected`);
if (result.hasRun && result.patternTraces !== result.layers) failures.push(`Figure 1: ${result.patternTraces} pattern curves, ${result.layers} expected`);
if (result.hasChurn && result.churnTraces !== result.churnLayers + 1) failures.push(`Figure 1: ${result.churnTraces} churn curves, ${result.churnLayers + 1} expected`);

if (result.seriesLayers) {
  const [accuracy, patterns, churn] = result.seriesTraces;
  const L = result.seriesLayers;
  if (accuracy !== 1 || patterns !== L || churn !== L + 1) {
    failures.push(`Figure 1 of the series: ${accuracy}/${patterns}/${churn} curves, 1/${L}/${L + 1} expected`);
  }
}
if (result.monitorPlots.length !== result.monitorScores) failures.push(`${result.monitorPlots.length} monitor histograms for ${result.monitorScores} scores`);
for (const m of result.monitorPlots) if (m.bars !== m.groups) failures.push(`${m.id}: ${m.bars} histograms drawn, ${m.groups} expected`);
if (result.monitorScores && result.monitorTables !== 2) failures.push(`monitor: ${result.monitorTables} tables, 2 expected`);

if (payload !== undefined) {
  if (result.pwned !== null) failures.push(`a payload ran: window.pwned = ${result.pwned}`);
  if (result.planted) failures.push(`${result.planted} payload element(s) in the page`);
  if (!result.title.endsWith(payload)) failures.push(`the title does not show the payload as text: ${result.title}`);
  if (result.captions.split(payload).length < 3) failures.push('the payload is not shown as text in the captions');
}

await page.screenshot({ path: png, fullPage: true });
await context.close();
const summary = result.sankeys.map((s) => `${s.id} ${s.nodes} nodes/${s.links} links`).join(', ');
if (failures.length) {
  console.log(`FAIL ${html}:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`ok ${html}: ${summary}; ${result.heatmaps.length} heatmap plots; ${result.regions.length} region panels; ${result.monitorPlots.length} monitor histograms; screenshot ${png}`);
