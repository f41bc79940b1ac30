// Times an apd-report page in Debian's headless Chromium (for scripts/bench-gallery.sh;
// asserts nothing): from navigation to the first Plotly figure drawn, to every
// figure drawn, and to the galleries ready, in a fresh browser (cold) and
// loaded again (warm); then the time from a click on the
// largest node of each Sankey (and on its smallest drawn node) to its gallery
// shown, REPEAT times each. Prints one JSON line.
// Usage: node time_report.mjs REPORT.html [REPEAT]
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const [, , html, repeatText] = process.argv;
const repeat = Number(repeatText ?? 3);
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'apd-chromium-')), {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1300, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
const page = context.pages()[0] ?? await context.newPage();
// Navigation to the first figure drawn (a frame painted after it), every figure, the galleries ready.
const open = async () => {
  const t0 = Date.now();
  await page.goto('file://' + resolve(html), { waitUntil: 'commit' });
  await page.waitForFunction(() => document.querySelector('.main-svg') !== null, null, { timeout: 120000, polling: 10 });
  const firstFigure = Date.now() - t0;
  await page.waitForFunction(() => document.body.dataset.rendered === 'true', null, { timeout: 120000, polling: 10 });
  const allFigures = Date.now() - t0;
  await page.waitForFunction(() => document.body.dataset.galleries === 'ready', null, { timeout: 120000, polling: 10 });
  return { firstFigure, allFigures, galleriesReady: Date.now() - t0 };
};
const cold = await open();  // a fresh browser: Plotly.js compiled from scratch
const warm = await open();  // the same page again: V8 reuses what it compiled

const clicks = [];
const sankeys = await page.evaluate(() => {
  const data = document.getElementById('apd-data');
  return data ? JSON.parse(data.textContent).apds.map((a) => a.sankey.column) : [];
});
for (let a = 0; a < sankeys.length; ++a) {
  const columns = sankeys[a];
  const largest = columns.indexOf(1);
  const smallest = columns.lastIndexOf(1);
  for (const k of [largest, smallest]) {
    for (let r = 0; r < repeat; ++r) {
      await page.evaluate(() => { document.getElementById('gallery').hidden = true; });
      const rect = page.locator(`#sankey-${a} g.sankey-node .node-rect`).nth(k);
      await rect.scrollIntoViewIfNeeded();
      const bb = await rect.boundingBox();
      await page.evaluate(() => { window.apdClickAt = performance.now(); });
      await page.mouse.click(bb.x + bb.width / 2, bb.y + bb.height / 2);
      const ms = await page.evaluate(() => new Promise((done) => {
        const check = () => (document.getElementById('gallery').hidden ? requestAnimationFrame(check)
          : requestAnimationFrame(() => done(performance.now() - window.apdClickAt)));
        check();
      }));
      clicks.push({ apd: a, node: k, count: await page.evaluate(() => Number(document.getElementById('gallery').dataset.count)), ms });
    }
  }
}
await context.close();
const ms = clicks.map((c) => c.ms).sort((x, y) => x - y);
console.log(JSON.stringify({ cold, warm, clicks: clicks.length,
  clickMedian: ms.length ? ms[Math.floor(ms.length / 2)] : null, clickMax: ms.length ? ms[ms.length - 1] : null,
  largestGallery: clicks.length ? Math.max(...clicks.map((c) => c.count)) : null }));
