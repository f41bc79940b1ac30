// Opens an apd-report page in Debian's headless Chromium and checks its
// galleries against the APD files themselves (their per-instance records,
// read here, not through the page): clicking a Sankey node (a pattern and a
// predicted label), a link and a flow row shows exactly the instances through
// it, wrong ones first, then in the file's order, the first 100 as figures
// with `data-index`; each picture decodes to the dataset's own pixels (IDX,
// uint8 .npy, float .npy in [0, 1] as round(255 x)); #node=, #link= and
// #instance= open the same on load and on change, and a bad hash says so;
// following an instance highlights its L links in every diagram.
// With NOIMAGES (the page built with --no-images): figures without pictures.
// Usage: node check_gallery.mjs REPORT.html OUT.png APD.json... [--no-images]
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const args = process.argv.slice(2);
const noImages = args.includes('--no-images');
const [html, png, ...apdFiles] = args.filter((a) => a !== '--no-images');
const apds = apdFiles.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const failures = [];
const fail = (text) => failures.push(text);

// --- The oracle: members from the APD file's instance records.
const layerOf = (id) => Number(/^l(\d+)n/.exec(id)?.[1] ?? 0);
const through = (x, id) => (id.startsWith('y') ? `y${x.predicted}` === id : x.path[layerOf(id) - 1] === id);
const expected = (apd, pass) => {
  const wrong = [], right = [];
  for (const x of apd.instances) if (pass(x)) (x.label !== x.predicted ? wrong : right).push(x.index);
  return wrong.concat(right);
};

// --- Dataset pixels, read from the file the page names.
const datasetPixels = (ds) => {
  const bytes = readFileSync(ds.file);
  const values = ds.height * ds.width * ds.channels;
  if (bytes.readUInt32BE(0) === 0x803) return (i) => [...bytes.subarray(16 + i * values, 16 + (i + 1) * values)];
  const headerLength = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLength).toString('latin1');
  const descr = /'descr': '([^']+)'/.exec(header)[1];
  const at = 10 + headerLength;
  const channelsLast = /'shape': \(\d+, \d+, \d+, [13]\)/.test(header);
  const plane = ds.height * ds.width;
  // PNG order: pixel-major, channels interleaved.
  const interleave = (get) => {
    const out = [];
    for (let p = 0; p < plane; ++p) {
      for (let c = 0; c < ds.channels; ++c) out.push(get(channelsLast ? p * ds.channels + c : c * plane + p));
    }
    return out;
  };
  if (descr === '|u1') return (i) => interleave((k) => bytes[at + i * values + k]);
  if (descr !== '<f4' || ds.scaling !== '255 x') throw new Error(`${ds.file}: the check reads uint8, or float32 in [0, 1]`);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset + at, bytes.byteOffset + bytes.length));
  return (i) => interleave((k) => Math.round(floats[i * values + k] * 255));
};

const userDataDir = mkdtempSync(join(tmpdir(), 'apd-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1300, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--disable-quic'],
});
const page = context.pages()[0] ?? await context.newPage();
page.on('console', (msg) => { if (msg.type() === 'error') fail(`console error: ${msg.text()}`); });
page.on('pageerror', (err) => fail(`page error: ${err.message}`));
const url = 'file://' + resolve(html);
const load = async (hash) => {
  await page.goto(url + hash);
  await page.waitForFunction(() => document.body.dataset.galleries === 'ready', null, { timeout: 120000 });
};

// What the gallery shows now, pictures decoded to their pixels (gray: one value per pixel).
const shown = () => page.evaluate(() => {
  const g = document.getElementById('gallery');
  const pixels = (img) => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return [...ctx.getImageData(0, 0, canvas.width, canvas.height).data];
  };
  return {
    hidden: g.hidden, kind: g.dataset.kind, apd: Number(g.dataset.apd), count: Number(g.dataset.count),
    title: document.getElementById('gallery-title').textContent,
    more: document.getElementById('gallery-more').textContent,
    indices: [...document.querySelectorAll('#gallery-items figure')].map((f) => Number(f.dataset.index)),
    images: [...document.querySelectorAll('#gallery-items img')].slice(0, 12).map((img) => ({
      index: Number(img.dataset.index), width: img.naturalWidth, height: img.naturalHeight, rgba: pixels(img) })),
    imageCount: document.querySelectorAll('#gallery-items img[data-index]').length,
  };
});
const waitOpen = (title) => page.waitForFunction(
  (t) => !document.getElementById('gallery').hidden && document.getElementById('gallery-title').textContent !== t,
  title, { timeout: 10000 });
const close = () => page.evaluate(() => { document.getElementById('gallery').hidden = true; });

const data = await (async () => {
  await load('');
  return page.evaluate(() => JSON.parse(document.getElementById('apd-data').textContent));
})();
const pixelsOf = data.datasets.map((ds) => (ds.png ? datasetPixels(ds) : null));

// Checks the open gallery against `want` (dataset indices), and its pictures against the dataset.
const checkGallery = async (what, apdIndex, want) => {
  const s = await shown();
  if (s.apd !== apdIndex) fail(`${what}: gallery of APD ${s.apd}, expected ${apdIndex}`);
  if (s.count !== want.length) fail(`${what}: ${s.count} instances, ${want.length} in the file`);
  const first = want.slice(0, 100);
  if (JSON.stringify(s.indices) !== JSON.stringify(first)) {
    fail(`${what}: shows ${s.indices.slice(0, 8)}..., the file gives ${first.slice(0, 8)}...`);
  }
  const moreWant = want.length > 100 ? `${want.length - 100} more` : '';
  if (s.more !== moreWant) fail(`${what}: "${s.more}" below the gallery, "${moreWant}" expected`);
  const dsIndex = data.apds[apdIndex].gallery.images;
  if (noImages || dsIndex === null) {
    if (s.imageCount) fail(`${what}: ${s.imageCount} pictures in a page without them`);
    return s;
  }
  if (s.imageCount !== first.length) fail(`${what}: ${s.imageCount} pictures for ${first.length} figures`);
  const ds = data.datasets[dsIndex];
  for (const img of s.images) {
    if (img.width !== ds.width || img.height !== ds.height) fail(`${what}: picture ${img.index} is ${img.width}x${img.height}`);
    const want = pixelsOf[dsIndex](img.index);
    const got = [];
    for (let p = 0; p < img.rgba.length; p += 4) for (let c = 0; c < ds.channels; ++c) got.push(img.rgba[p + c]);
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(`${what}: picture ${img.index} differs from the dataset's pixels`);
  }
  return s;
};

// A drawn Sankey node of APD `a` in `column`: the largest one (the column's first).
const clickNode = async (a, column) => {
  const sk = data.apds[a].sankey;
  const k = sk.column.indexOf(column);
  const before = (await shown()).title;
  const rect = page.locator(`#sankey-${a} g.sankey-node .node-rect`).nth(k);
  await rect.scrollIntoViewIfNeeded();
  const bb = await rect.boundingBox();
  const t0 = Date.now();
  await page.mouse.click(bb.x + bb.width / 2, bb.y + bb.height / 2);
  await waitOpen(before);
  return { k, ms: Date.now() - t0 };
};

const timings = [];
for (let a = 0; a < data.apds.length; ++a) {
  const apd = apds[a];
  if (!data.apds[a].gallery) { fail(`APD ${a}: no gallery data`); continue; }
  const L = apd.graph.layers;
  // A pattern node of layer 1 and the largest predicted-label node.
  for (const column of [1, L + 1]) {
    await close();
    const { k, ms } = await clickNode(a, column);
    timings.push(ms);
    const s = await shown();
    const id = /(l\d+n\d+)$/.exec(s.title)?.[1] ?? `y${/predicted label (-?\d+)$/.exec(s.title)?.[1]}`;
    const hover = data.apds[a].sankey.hover[k];
    if (!(column <= L ? hover.includes(`pattern ${id}<br>`) : hover.startsWith(`predicted label ${id.slice(1)}<br>`))) {
      fail(`APD ${a}: clicking node ${k} (${hover.split('<br>')[0]}) opened "${s.title}"`);
    }
    await checkGallery(`APD ${a} node ${id}`, a, expected(apd, (x) => through(x, id)));
  }
  // The widest link between layers 1 and 2, clicked on its path element.
  await close();
  const sk = data.apds[a].sankey;
  let best = -1;
  sk.source.forEach((src, k) => {
    if (sk.column[src] === 1 && !sk.label[src].startsWith('other') && !sk.label[sk.target[k]].startsWith('other') &&
        (best < 0 || sk.value[k] > sk.value[best])) best = k;
  });
  const before = (await shown()).title;
  await page.evaluate(([a, k]) => {
    document.querySelectorAll(`#sankey-${a} path.sankey-link`)[k].dispatchEvent(new MouseEvent('click', { bubbles: true }));
  }, [a, best]);
  await waitOpen(before);
  const link = /link (\S+) → (\S+)$/.exec((await shown()).title);
  if (!link) {
    fail(`APD ${a}: clicking link ${best} opened "${(await shown()).title}"`);
  } else {
    const [, s, t] = link;
    const want = expected(apd, (x) => through(x, s) && through(x, t));
    const fileLink = apd.links.find((l) => l.source === s && l.target === t);
    if (!fileLink || fileLink.count !== sk.value[best] || want.length !== fileLink.count) {
      fail(`APD ${a}: link ${best} (${sk.value[best]} drawn) opened ${s} → ${t}, ${fileLink?.count} in the file`);
    }
    await checkGallery(`APD ${a} link ${s} → ${t}`, a, want);
  }
  // The first row of the flows table (most wrong instances first).
  await close();
  const row = page.locator(`#flows-${a} tbody tr`).first();
  await row.scrollIntoViewIfNeeded();
  const strength = Number(await row.locator('td').nth(1).textContent());
  const rowBefore = (await shown()).title;
  await row.click();
  await waitOpen(rowBefore);
  const ids = /flow (.+)$/.exec((await shown()).title)[1].split(', ');
  const want = expected(apd, (x) => ids.every((id) => through(x, id)));
  if (want.length !== strength) fail(`APD ${a}: flow ${ids} of strength ${strength} holds ${want.length} instances`);
  await checkGallery(`APD ${a} flow ${ids}`, a, want);
}
await page.screenshot({ path: png });

// The address hooks, against the first APD file: on load, then on change.
const apd0 = apds[0];
const someNode = apd0.instances[apd0.instances.length - 1].path[1] ?? apd0.instances[0].path[0];
await load(`#node=${someNode}`);
await checkGallery(`#node=${someNode}`, 0, expected(apd0, (x) => through(x, someNode)));
const x0 = apd0.instances.find((x) => x.label !== x.predicted) ?? apd0.instances[0];
const linkIds = [x0.path[x0.path.length - 1], `y${x0.predicted}`];
let title = (await shown()).title;
await page.evaluate((h) => { location.hash = h; }, `#link=${linkIds.join(',')}`);
await waitOpen(title);
await checkGallery(`#link=${linkIds}`, 0, expected(apd0, (x) => through(x, linkIds[0]) && through(x, linkIds[1])));
for (const bad of ['#node=l99n0', '#link=l1n0,l1n0', '#instance=x', '#nothing']) {
  await page.evaluate((h) => { location.hash = h; }, bad);
  await page.waitForFunction((h) => {
    const m = document.getElementById('hash-message');
    return !m.hidden && m.textContent.startsWith(decodeURIComponent(h));
  }, bad, { timeout: 5000 }).catch(() => fail(`${bad}: no message`));
}
await page.evaluate((h) => { location.hash = h; }, `#instance=${x0.index}`);
await page.waitForFunction((i) => document.getElementById('instance-result').dataset.index === String(i), x0.index);
const followed = await page.evaluate(() => ({
  lines: [...document.querySelectorAll('#instance-result li')].map((li) => li.textContent),
  highlighted: [...document.querySelectorAll('.sankey-plot')].map((div) =>
    div.data[0].link.color.filter((c) => c === 'rgba(255,140,0,0.95)').length),
}));
apds.forEach((apd, a) => {
  const x = apd.instances.find((y) => y.index === x0.index);
  const line = followed.lines[a] ?? '';
  if (!x) {
    if (!line.endsWith('not in this file')) fail(`#instance=${x0.index}: "${line}" for APD ${a}, which lacks it`);
    return;
  }
  const path = `path ${x.path.concat(`y${x.predicted}`).join(' → ')}`;
  if (!line.includes(`true ${x.label}, predicted ${x.predicted}`) || !line.endsWith(path)) {
    fail(`#instance=${x0.index}: "${line}" for APD ${a}, the file gives ${x.label} → ${x.predicted}, ${path}`);
  }
  if (followed.highlighted[a] !== apd.graph.layers) {
    fail(`#instance=${x0.index}: ${followed.highlighted[a]} links highlighted in APD ${a}, ${apd.graph.layers} expected`);
  }
});

await context.close();
if (failures.length) {
  console.log(`FAIL ${html}:\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`ok ${html}: galleries of ${apds.length} APD files match their instance records` +
            `${noImages ? ' (no pictures)' : ', pictures match the dataset'}; node clicks ${timings.join('/')} ms`);
