// apd-report's galleries (runs after report.js, sharing `data`): clicking a Sankey node or link, or a row of a
// flows table, shows the instances through it with their pictures; a dataset index highlights one instance's
// path in every Sankey; #node=ID, #link=SOURCE,TARGET and #instance=INDEX open those on load.
// Embedded at build time (assets.S).
const kGalleryMax = 100;
const kFlowRows = 100;  // rows of a flows table: a 60,000-instance APD has ~14,000 flows
const galleryPanel = document.getElementById('gallery');
const hashMessage = document.getElementById('hash-message');

// The exact PNG bytes apd-report wrote (libpng): a dataset's shared head (signature, IHDR) and tail (IEND) around
// each image's IDAT data and CRC, or the whole PNG when the page stores it whole.
const pngSource = (ds, k) => {
  if (ds.head === null) return `data:image/png;base64,${ds.png[k]}`;
  const idat = atob(ds.png[k]);
  const n = idat.length - 4;
  const length = String.fromCharCode((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  return `data:image/png;base64,${btoa(atob(ds.head) + length + 'IDAT' + idat + atob(ds.tail))}`;
};

// Per dataset: dataset index -> position of its picture.
const pictureAt = (data.datasets || []).map((ds) => {
  const at = new Map();
  if (!ds.png) return at;
  let k = 0;
  for (const [first, length] of ds.index_runs) for (let i = 0; i < length; ++i) at.set(first + i, k++);
  return at;
});

// One APD's instances and how they sit in its Sankey (report_data's gallery_json).
const makeView = (a, apd) => {
  const g = a.gallery;
  const L = g.ranks.length;
  const labelRank = new Map(g.label_nodes.map((label, r) => [label, r]));
  const rank = (c, i) => (c <= L ? g.ranks[c - 1][i] : labelRank.get(g.predicted[i]));
  // Drawing positions and ranks differ only in a column whose file order is not by descending count.
  const positionOf = g.order.map((order) => {
    if (!order) return null;
    const at = new Array(order.length);
    order.forEach((r, p) => { at[r] = p; });
    return at;
  });
  const position = (c, r) => (positionOf[c] ? positionOf[c][r] : r);
  const rankAt = (c, p) => (g.order[c] ? g.order[c][p] : p);
  const drawn = (c, r) => g.first[c] + Math.min(position(c, r), g.kept[c]);
  const nodeId = (c, r) => (c <= L ? `l${c}n${r}` : `y${g.label_nodes[r]}`);
  const column = (k) => {
    let c = 1;
    while (c + 1 < g.first.length && g.first[c + 1] <= k) ++c;
    return c;
  };
  const title = a.epoch === null ? a.file : `epoch ${a.epoch}`;
  return {a, apd, g, L, n: g.index.length, rank, position, rankAt, drawn, nodeId, column, title, labelRank};
};
const views = data.apds.map((a, i) => (a.gallery ? makeView(a, i) : null));

const wrongOf = (v, i) => v.g.label[i] !== v.g.predicted[i];

// The instances (positions in the APD) for which `pass` holds, wrong ones first, then in the APD's order.
const membersOf = (v, pass) => {
  const wrong = [], right = [];
  for (let i = 0; i < v.n; ++i) if (pass(i)) (wrongOf(v, i) ? wrong : right).push(i);
  return wrong.concat(right);
};

const figure = (v, i) => {
  const fig = document.createElement('figure');
  fig.className = wrongOf(v, i) ? 'thumb wrong' : 'thumb';
  const index = v.g.index[i];
  fig.dataset.index = index;
  const ds = v.g.images === null ? null : data.datasets[v.g.images];
  const k = ds ? pictureAt[v.g.images].get(index) : undefined;
  if (k !== undefined) {
    const img = document.createElement('img');
    img.dataset.index = index;
    const scale = Math.max(1, Math.floor(64 / Math.max(ds.height, ds.width)));
    img.width = ds.width * scale;
    img.height = ds.height * scale;
    img.alt = `instance ${index}`;
    img.src = pngSource(ds, k);
    fig.appendChild(img);
  }
  const caption = document.createElement('figcaption');
  caption.textContent = `#${index} · ${v.g.label[i]} → ${v.g.predicted[i]}`;
  caption.title = `dataset index ${index}, true label ${v.g.label[i]}, predicted ${v.g.predicted[i]}`;
  fig.appendChild(caption);
  return fig;
};

// Shows the members of one node, link or flow of view `v`.
const showGallery = (v, kind, name, pass) => {
  const members = membersOf(v, pass);
  const wrong = members.filter((i) => wrongOf(v, i)).length;
  galleryPanel.hidden = false;
  galleryPanel.dataset.kind = kind;
  galleryPanel.dataset.apd = v.apd;
  galleryPanel.dataset.count = members.length;
  document.getElementById('gallery-title').textContent = `${v.title}: ${name}`;
  const share = members.length ? (100 * wrong / members.length).toFixed(1) : '0.0';
  document.getElementById('gallery-summary').textContent =
    `${members.length} ${members.length === 1 ? 'instance' : 'instances'}, ${wrong} wrong (${share}%); wrong first` +
    (v.g.images === null ? '; no pictures in this page' : '');
  const items = document.getElementById('gallery-items');
  items.replaceChildren(...members.slice(0, kGalleryMax).map((i) => figure(v, i)));
  const more = members.length - kGalleryMax;
  document.getElementById('gallery-more').textContent = more > 0 ? `${more} more` : '';
};

const describeNode = (v, c, r) => (c <= v.L ? `layer ${c} pattern ${v.nodeId(c, r)}` : `predicted label ${v.g.label_nodes[r]}`);

// A node or link as drawn (merged "other" nodes included).
const showDrawnNode = (v, k) => {
  const c = v.column(k);
  const p = k - v.g.first[c];
  if (p >= v.g.kept[c]) {
    return showGallery(v, 'node', `other patterns of layer ${c}`, (i) => v.position(c, v.rank(c, i)) >= v.g.kept[c]);
  }
  const r = v.rankAt(c, p);
  return showGallery(v, 'node', describeNode(v, c, r), (i) => v.rank(c, i) === r);
};
const showDrawnLink = (v, k) => {
  const s = v.a.sankey;
  const c = v.column(s.source[k]);
  const name = (node) => {
    const cc = v.column(node);
    const p = node - v.g.first[cc];
    return p < v.g.kept[cc] ? v.nodeId(cc, v.rankAt(cc, p)) : `other (layer ${cc})`;
  };
  showGallery(v, 'link', `link ${name(s.source[k])} → ${name(s.target[k])}`,
    (i) => v.drawn(c, v.rank(c, i)) === s.source[k] && v.drawn(c + 1, v.rank(c + 1, i)) === s.target[k]);
};

// Node ids of the APD file: l<layer>n<rank> and y<label>; null when the file has no such node.
const parseNode = (v, id) => {
  let m = /^l(\d+)n(\d+)$/.exec(id);
  let c, r;
  if (m) {
    c = Number(m[1]);
    r = Number(m[2]);
    if (c < 1 || c > v.L) return null;
  } else if ((m = /^y(-?\d+)$/.exec(id))) {
    c = v.L + 1;
    r = v.labelRank.get(Number(m[1]));
    if (r === undefined) return null;
  } else {
    return null;
  }
  for (let i = 0; i < v.n; ++i) if (v.rank(c, i) === r) return {c, r};
  return null;
};

const showFlow = (v, f) => {
  const fl = v.g.flows;
  const ids = fl.layers.map((l, k) => v.nodeId(l, fl.ranks[k][f]));
  showGallery(v, 'flow', `flow ${ids.join(', ')}`,
    (i) => fl.layers.every((l, k) => v.rank(l, i) === fl.ranks[k][f]));
};

// Figure 3's flows table of each APD: click a row for its gallery, a heading to sort.
const flowsTable = (v) => {
  const fl = v.g.flows;
  const wrap = document.createElement('div');
  wrap.className = 'flows';
  const h = document.createElement('h3');
  h.textContent = `${v.title}: ${fl.strength.length} flows over layers ${fl.layers.join(' and ')} (click a row)`;
  const box = document.createElement('div');
  box.className = 'flows-box';
  const table = document.createElement('table');
  table.className = 'flows-table';
  table.id = `flows-${v.apd}`;
  const columns = [
    ['flow', (f) => fl.layers.map((l, k) => v.nodeId(l, fl.ranks[k][f])).join(', '), null],
    ['strength', (f) => fl.strength[f], (f) => fl.strength[f]],
    ['purity', (f) => (fl.majority_count[f] / fl.strength[f]).toFixed(3), (f) => fl.majority_count[f] / fl.strength[f]],
    ['wrong', (f) => fl.errors[f], (f) => fl.errors[f]],
    ['majority predicted', (f) => fl.majority[f], (f) => fl.majority[f]],
  ];
  const head = table.createTHead().insertRow();
  const body = table.createTBody();
  let order = fl.strength.map((_, f) => f).sort((x, y) => fl.errors[y] - fl.errors[x] || x - y);
  const note = document.createElement('p');
  note.className = 'note';
  const fill = () => {
    body.replaceChildren(...order.slice(0, kFlowRows).map((f) => {
      const tr = document.createElement('tr');
      tr.dataset.flow = f;
      for (const [, text] of columns) tr.insertCell().textContent = text(f);
      tr.addEventListener('click', () => showFlow(v, f));
      return tr;
    }));
    note.textContent = order.length > kFlowRows ? `the first ${kFlowRows} of ${order.length} flows in this order` : '';
  };
  columns.forEach(([name, , key]) => {
    const th = document.createElement('th');
    th.textContent = name;
    if (key) {
      th.className = 'sortable';
      th.addEventListener('click', () => { order = order.slice().sort((x, y) => key(y) - key(x) || x - y); fill(); });
    }
    head.appendChild(th);
  });
  fill();
  box.appendChild(table);
  wrap.append(h, box, note);
  return wrap;
};

// One instance across the files: its path highlighted in every Sankey, its prediction per file listed.
const showInstance = (index) => {
  const lines = [];
  views.forEach((v, apd) => {
    if (!v) return;
    const div = document.getElementById(`sankey-${apd}`);
    const s = v.a.sankey;
    const i = v.g.index.indexOf(index);
    if (i < 0) {
      lines.push(`${v.title}: not in this file`);
      Plotly.restyle(div, {'link.color': [s.error_share.map(errorColor)], 'node.color': [s.color]});
      return;
    }
    const on = new Set();
    for (let c = 1; c <= v.L + 1; ++c) on.add(v.drawn(c, v.rank(c, i)));
    const ids = [];
    for (let c = 1; c <= v.L + 1; ++c) ids.push(v.nodeId(c, v.rank(c, i)));
    Plotly.restyle(div, {
      'link.color': [s.source.map((src, k) => (on.has(src) && on.has(s.target[k]) ? 'rgba(255,140,0,0.95)' : 'rgba(180,185,195,0.18)'))],
      'node.color': [s.color.map((col, k) => (on.has(k) ? 'rgba(255,140,0,1)' : col))]});
    lines.push(`${v.title}: true ${v.g.label[i]}, predicted ${v.g.predicted[i]}${wrongOf(v, i) ? ' (wrong)' : ''}; path ${ids.join(' → ')}`);
  });
  const out = document.getElementById('instance-result');
  out.dataset.index = index;
  out.replaceChildren(...lines.map((t) => { const li = document.createElement('li'); li.textContent = t; return li; }));
};

const say = (text) => {
  hashMessage.textContent = text;
  hashMessage.hidden = !text;
};

// #node=ID, #link=SOURCE,TARGET (node ids of the first APD shown), #instance=INDEX.
const openHash = () => {
  say('');
  const hash = decodeURIComponent(location.hash.slice(1));
  if (!hash) return;
  const m = /^(node|link|instance)=(.*)$/.exec(hash);
  if (!m) return say(`#${hash}: the page opens #node=ID, #link=SOURCE,TARGET or #instance=INDEX`);
  const [, kind, arg] = m;
  if (kind === 'instance') {
    if (!/^\d+$/.test(arg)) return say(`#instance=${arg}: not a dataset index`);
    document.getElementById('instance-index').value = arg;
    return showInstance(Number(arg));
  }
  const v = views[0];
  if (!v) return say(`#${hash}: the first APD file shown has no instance records`);
  if (kind === 'node') {
    const node = parseNode(v, arg);
    if (!node) return say(`#node=${arg}: no such node in ${v.a.file}`);
    return showGallery(v, 'node', describeNode(v, node.c, node.r), (i) => v.rank(node.c, i) === node.r);
  }
  const ends = arg.split(',');
  const a = ends.length === 2 ? parseNode(v, ends[0]) : null;
  const b = ends.length === 2 ? parseNode(v, ends[1]) : null;
  if (!a || !b || b.c !== a.c + 1) return say(`#link=${arg}: no such link in ${v.a.file}`);
  const pass = (i) => v.rank(a.c, i) === a.r && v.rank(b.c, i) === b.r;
  if (!membersOf(v, pass).length) return say(`#link=${arg}: no such link in ${v.a.file}`);
  showGallery(v, 'link', `link ${ends[0]} → ${ends[1]}`, pass);
};

if (views.some((v) => v)) {
  views.forEach((v, apd) => {
    if (!v) return;
    document.getElementById(`sankey-${apd}`).on('plotly_click', (ev) => {
      const p = ev.points && ev.points[0];
      if (!p) return;
      if (p.sourceLinks !== undefined) showDrawnNode(v, p.pointNumber);
      else showDrawnLink(v, p.pointNumber);
    });
    document.getElementById('flows').appendChild(flowsTable(v));
  });
  document.getElementById('gallery-close').addEventListener('click', () => { galleryPanel.hidden = true; });
  document.getElementById('instance-search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = document.getElementById('instance-index').value;
    if (/^\d+$/.test(text)) showInstance(Number(text));
  });
  window.addEventListener('hashchange', openHash);
  window.apdRendered = window.apdRendered.then(() => {
    openHash();
    document.body.dataset.galleries = 'ready';
  });
}
