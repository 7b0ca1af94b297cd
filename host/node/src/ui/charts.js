// Ordo dashboard, live charts: every refresh of ordo_nodeStatus (app.js calls
// `chartSample(status)`) adds a sample; the charts show the last five minutes, drawn with the
// vendored uPlot. Rates come from the node's running totals between two samples. Each chart's
// element carries `data-points` (samples drawn), `data-last` and `data-max` (each series' latest
// and highest value in the window, JSON) so a test can read what is on screen.
"use strict";

const WINDOW_S = 300;
const samples = [];
const charts = new Map();

const CHARTS = [
  { id: "chart-throughput", title: "included tx/s and gas/s",
    series: (s) => ({ "tx/s": s.txRate, "Mgas/s": s.gasRate / 1e6 }) },
  { id: "chart-stages", title: "block build time by stage (ms)",
    series: (s) => s.stages },
  { id: "chart-inclusion", title: "inclusion latency, last block with transactions (ms)",
    series: (s) => ({ p50: s.inclusionP50, p99: s.inclusionP99 }) },
  { id: "chart-mempool", title: "mempool",
    series: (s) => ({ pending: s.pending, queued: s.queued }) },
  { id: "chart-plugins", title: "plugin call time (µs per call)",
    series: (s) => s.pluginUs },
  { id: "chart-backlog", title: "L1 batch backlog (bytes)",
    series: (s) => ({ unposted: s.backlog }) },
];

const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#57606a", "#0550ae"];

function chartSample(status) {
  const now = Date.now() / 1000;
  const live = status.live || {};
  const prev = samples[samples.length - 1];
  const plugins = {};
  for (const p of (status.plugins && status.plugins.loaded) || []) {
    plugins[p.name] = { us: p.health.total_call_us || 0, calls: p.health.calls || 0 };
  }
  const dt = prev ? Math.max(now - prev.t, 1e-3) : 0;
  const pluginUs = {};
  for (const [name, p] of Object.entries(plugins)) {
    const before = prev && prev.plugins[name];
    const calls = before ? p.calls - before.calls : 0;
    pluginUs[name] = calls > 0 ? (p.us - before.us) / calls : null;
  }
  const sample = {
    t: now,
    totalTxs: live.totalTxs || 0,
    totalGas: live.totalGas || 0,
    txRate: prev ? Math.max(0, (live.totalTxs - prev.totalTxs) / dt) : 0,
    gasRate: prev ? Math.max(0, (live.totalGas - prev.totalGas) / dt) : 0,
    stages: live.stagesMs || {},
    inclusionP50: live.inclusionMs ? live.inclusionMs.p50 : null,
    inclusionP99: live.inclusionMs ? live.inclusionMs.p99 : null,
    pending: status.mempool.pending,
    queued: status.mempool.queued,
    plugins,
    pluginUs,
    backlog: live.l1BacklogBytes == null ? null : live.l1BacklogBytes,
  };
  samples.push(sample);
  while (samples.length && samples[0].t < now - WINDOW_S) samples.shift();
  for (const spec of CHARTS) draw(spec);
}

function draw(spec) {
  const el = document.getElementById(spec.id);
  if (!el || typeof uPlot === "undefined") return;
  const names = [];
  for (const s of samples) {
    for (const name of Object.keys(spec.series(s) || {})) {
      if (!names.includes(name)) names.push(name);
    }
  }
  const xs = samples.map((s) => s.t);
  const data = [xs, ...names.map((name) => samples.map((s) => {
    const v = (spec.series(s) || {})[name];
    return v == null ? null : v;
  }))];
  const last = {};
  const max = {};
  names.forEach((name, i) => {
    const values = data[i + 1];
    last[name] = values[values.length - 1];
    max[name] = values.reduce((m, v) => (v == null || (m != null && m >= v) ? m : v), null);
  });
  el.dataset.points = String(xs.length);
  el.dataset.last = JSON.stringify(last);
  el.dataset.max = JSON.stringify(max);
  let chart = charts.get(spec.id);
  const key = names.join("|");
  if (chart && chart.key !== key) {
    chart.plot.destroy();
    chart = null;
  }
  if (!chart) {
    const opts = {
      title: spec.title,
      width: Math.max(el.clientWidth - 8, 300),
      height: 180,
      scales: { x: { time: true } },
      series: [{}, ...names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true }))],
      axes: [{}, { size: 60 }],
    };
    chart = { key, plot: new uPlot(opts, data, el) };
    charts.set(spec.id, chart);
  } else {
    chart.plot.setData(data);
  }
}

window.chartSample = chartSample;
