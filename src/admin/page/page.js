// The status page's script: follows the admin endpoint's event stream (/events, one view a
// second) and redraws. Read-only; every value is written as text, never as HTML.
/* global uPlot */
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const samples = [];
let lastView;
const restartsBySlot = new Map();

function mb(bytes) { return `${Math.round(bytes / 1048576)} MB`; }
function secs(s) {
  if (s == null) return '-';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
function num(n, digits = 0) { return n == null ? '-' : Number(n).toFixed(digits); }
function set(root, key, text) { const el = $(`[data-k="${key}"]`, root); if (el) el.textContent = text; }
function el(tag, text, cls) { const e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
function time(ms) { return new Date(ms).toLocaleTimeString(); }

// ---- charts ----
const charts = {};
function chart(id, series, axes) {
  const box = document.getElementById(id);
  const opts = {
    width: Math.max(200, box.clientWidth), height: 180,
    series: [{}, ...series],
    axes: axes || [{}, {}],
    scales: { x: { time: true } },
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
  };
  charts[id] = new uPlot(opts, [[], ...series.map(() => [])], box);
  return charts[id];
}

function makeCharts() {
  const stroke = (c) => ({ stroke: c, width: 2 });
  chart('scale-chart', [
    { label: 'desired', ...stroke('#8250df'), paths: uPlot.paths.stepped({ align: 1 }) },
    { label: 'actual', ...stroke('#1f883d'), paths: uPlot.paths.stepped({ align: 1 }) },
    { label: 'decision', stroke: '#d1242f', paths: () => null, points: { show: true, size: 9, fill: '#d1242f' } },
  ]);
  chart('traffic-chart', [
    { label: 'req/s', ...stroke('#0969da'), scale: 'r' },
    { label: 'p95 ms', ...stroke('#bf8700'), scale: 'ms' },
    { label: 'refused/s', ...stroke('#d1242f'), scale: 'r' },
  ], [{}, { scale: 'r' }, { scale: 'ms', side: 1, grid: { show: false } }]);
  chart('tasks-chart', [
    { label: 'queued', ...stroke('#8250df') },
    { label: 'running', ...stroke('#1f883d') },
    { label: 'waiting conns', ...stroke('#bf8700') },
  ]);
  const tip = $('#scale-tip');
  const u = charts['scale-chart'];
  u.over.addEventListener('mousemove', () => {
    const i = u.cursor.idx;
    const d = i == null ? undefined : nearestDecision(u.data[0][i]);
    if (!d) { tip.hidden = true; return; }
    tip.textContent = `${time(d.at)}: ${d.from} → ${d.to} (${d.metric}) ${d.reason}`;
    tip.style.left = `${Math.min(u.cursor.left + 20, u.over.clientWidth - 200)}px`;
    tip.style.top = `${u.cursor.top + 40}px`;
    tip.hidden = false;
  });
  u.over.addEventListener('mouseleave', () => { tip.hidden = true; });
  window.addEventListener('resize', () => {
    for (const [id, c] of Object.entries(charts)) c.setSize({ width: Math.max(200, document.getElementById(id).clientWidth), height: 180 });
  });
}

function nearestDecision(xSec) {
  if (!lastView) return undefined;
  let best;
  for (const d of lastView.decisions) {
    const dist = Math.abs(d.at / 1000 - xSec);
    if (dist <= 3 && (!best || dist < Math.abs(best.at / 1000 - xSec))) best = d;
  }
  return best;
}

function drawCharts(view) {
  const xs = samples.map((s) => s.at / 1000);
  const marks = new Array(xs.length).fill(null);
  for (const d of view.decisions) {
    // The sample closest to the decision carries its mark.
    let lo = 0;
    while (lo < xs.length - 1 && xs[lo + 1] <= d.at / 1000) lo++;
    if (xs.length) marks[lo] = d.to;
  }
  charts['scale-chart'].setData([xs, samples.map((s) => s.desired), samples.map((s) => s.actual), marks]);
  charts['traffic-chart'].setData([xs, samples.map((s) => s.reqPerS), samples.map((s) => (s.httpP95S == null ? null : s.httpP95S * 1000)), samples.map((s) => s.refused)]);
  charts['tasks-chart'].setData([xs, samples.map((s) => s.queued ?? null), samples.map((s) => s.runningTasks), samples.map((s) => s.waiting)]);
}

// ---- panels ----
function drawChildren(status) {
  const tbody = $('#children tbody');
  const rows = new Map([...tbody.rows].map((r) => [r.dataset.slot, r]));
  const keep = new Set();
  for (const c of status.children) {
    // A slot keeps its row across restarts (a new child id and pid): the row flashes instead.
    const key = `${c.slot}${c.state === 'draining' ? `-${c.id}` : ''}`;
    keep.add(key);
    let tr = rows.get(key);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.slot = key;
      for (const k of ['slot', 'id', 'pid', 'state', 'uptime', 'conns', 'inflight', 'tasks', 'rss', 'lag', 'restarts']) tr.appendChild(el('td')).dataset.k = k;
      tbody.appendChild(tr);
    }
    const before = restartsBySlot.get(c.slot);
    if (before !== undefined && c.restarts > before) {
      tr.classList.remove('flash');
      void tr.offsetWidth; // restart the animation
      tr.classList.add('flash');
    }
    restartsBySlot.set(c.slot, c.restarts);
    set(tr, 'slot', String(c.slot));
    set(tr, 'id', String(c.id));
    set(tr, 'pid', String(c.pid ?? '-'));
    set(tr, 'state', c.state);
    $('[data-k="state"]', tr).className = c.state;
    set(tr, 'uptime', secs(c.uptimeS));
    set(tr, 'conns', String(c.connections));
    set(tr, 'inflight', String(c.inflight));
    set(tr, 'tasks', `${c.runningTasks} / ${c.taskSlots}`);
    set(tr, 'rss', mb(c.rss));
    set(tr, 'lag', secs(c.eventLoopLagS));
    set(tr, 'restarts', c.restarts ? `${c.restarts} (${c.lastRestart ?? '?'})` : '0');
  }
  for (const [key, tr] of rows) if (!keep.has(key)) tr.remove();
  const t = status.totals;
  $('#children-sum').textContent = `${t.ready} ready of ${status.desired} desired · ${t.connections} conns · ${t.inflight} in flight · ${mb(t.rss)}`;
}

function drawAutoscaler(view) {
  const a = view.status.autoscale;
  $('#autoscale-mode').textContent = a.enabled ? (a.pinned ? `pinned by drover scale (${a.min}..${a.max})` : `autoscaled ${a.min}..${a.max}`) : 'autoscale off';
  const ol = $('#decisions');
  ol.replaceChildren(...view.decisions.slice(-8).reverse().map((d) => {
    const li = el('li', `${time(d.at)} ${d.from} → ${d.to} (${d.metric}): ${d.reason}`);
    li.title = d.reason;
    return li;
  }));
  if (!view.decisions.length) ol.replaceChildren(el('li', 'no changes of the desired count in the last 15 minutes'));
}

function drawTraffic(view) {
  const t = view.traffic;
  const root = $('#traffic');
  set(root, 'reqPerS', num(t.reqPerS, t.reqPerS < 10 ? 1 : 0));
  set(root, 'p50', secs(t.p50S));
  set(root, 'p95', secs(t.p95S));
  const errs = Object.entries(t.byClass).filter(([c, n]) => (c === '4xx' || c === '5xx') && n > 0);
  set(root, 'errors', errs.length ? errs.map(([c, n]) => `${c} ${n}`).join(', ') + ` / ${Math.round(t.windowS)} s` : 'none');
  set(root, 'waiting', String(t.waiting));
  set(root, 'refused', `${t.refusedTotal} / ${t.timedOutTotal}`);
}

// Tenants come from the configured API keys: few rows, rebuilt whole each second.
function drawTenants(rows) {
  const body = $('#tenants tbody');
  if (!rows.length) {
    const tr = el('tr');
    tr.appendChild(el('td', 'no backlog, no tenant rate limited')).colSpan = 4;
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map((r) => {
    const tr = el('tr');
    tr.dataset.tenant = r.tenant;
    tr.append(el('td', r.tenant), el('td', String(r.queued)), el('td', String(r.running)), el('td', String(r.limitedPerMin), r.limitedPerMin > 0 ? 'limited' : undefined));
    return tr;
  }));
}

function drawTasks(view) {
  const t = view.tasks;
  const root = $('#tasks');
  drawTenants(t.tenants ?? []);
  if (!t.available) { set(root, 'queued', 'store unavailable'); return; }
  set(root, 'queued', String(t.queued));
  const prio = Object.entries(t.byPriority).sort((a, b) => Number(b[0]) - Number(a[0]));
  set(root, 'byPriority', prio.length ? prio.map(([p, n]) => `p${p}: ${n}`).join(', ') : '-');
  set(root, 'oldestWait', secs(t.oldestWaitS));
  set(root, 'running', String(t.running));
  set(root, 'succeeded', num(t.succeededPerMin));
  set(root, 'failed', num(t.failedPerMin));
  set(root, 'retrying', String(t.retrying));
  set(root, 'dead', String(t.dead));
  $('#dead-letters').replaceChildren(...t.deadLetters.map((d) => el('li', `${time(d.at)} ${d.tenant}/${d.id} after ${d.attempts} attempt(s): ${d.error}`)));
}

function drawExecutor(view) {
  const x = view.executor;
  const root = $('#executor');
  set(root, 'threads', String(x.threadsPerChild));
  set(root, 'perThread', String(x.tasksPerThread));
  set(root, 'slots', `${x.slotsInUse} / ${x.slotsTotal}`);
  set(root, 'limitedBy', x.limitedBy);
  $('#sizing').textContent = x.explanation.join('\n');
}

// The registry's nodes (shown when the fleet has more than this one): rebuilt whole each
// second, a row per node keyed by its id.
function drawFleet(nodes) {
  $('#fleet').hidden = nodes == null;
  $('#fleet tbody').replaceChildren(...(nodes ?? []).map((n) => {
    const tr = el('tr');
    tr.dataset.node = n.id;
    const cells = {
      id: n.id, address: `${n.address}:${n.port}`, children: `${n.children} / ${n.maxChildren}`, tasks: `${n.running} / ${n.slots}`,
      inflight: String(n.inflight), state: n.draining ? 'draining' : 'serving', age: `${secs(n.ageS)} ago`,
    };
    for (const [k, text] of Object.entries(cells)) tr.appendChild(el('td', text, k === 'state' && n.draining ? 'draining' : undefined)).dataset.k = k;
    return tr;
  }));
  if (nodes == null) return;
  const sum = (k) => nodes.reduce((a, n) => a + n[k], 0);
  $('#fleet-sum').textContent = `${nodes.length} nodes · ${sum('children')} children · ${sum('running')} / ${sum('slots')} tasks`;
}

function draw(view) {
  lastView = view;
  const s = view.status;
  for (const sample of view.samples) if (!samples.length || sample.at > samples[samples.length - 1].at) samples.push(sample);
  const cutoff = view.at - view.historyS * 1000;
  while (samples.length && samples[0].at < cutoff) samples.shift();
  $('#node').textContent = `${s.version} · pid ${s.pid} · up ${secs(s.uptimeS)} · ${s.listening ?? '-'} · generation ${s.generation}${s.draining ? ' · DRAINING' : ''}`;
  drawChildren(s);
  drawAutoscaler(view);
  drawTraffic(view);
  drawTasks(view);
  drawExecutor(view);
  drawFleet(view.fleet);
  drawCharts(view);
}

makeCharts();
const source = new EventSource('events');
source.onmessage = (e) => draw(JSON.parse(e.data));
source.onopen = () => $('#live').classList.add('on');
// EventSource reconnects by itself; the history it missed comes with the first view.
source.onerror = () => { $('#live').classList.remove('on'); samples.length = 0; };
