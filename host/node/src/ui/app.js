// Ordo dashboard: one WebSocket to this node's JSON-RPC (same origin), a newHeads
// subscription that triggers refreshes, and plain DOM updates (textContent only: plugin
// names and the like are never parsed as HTML).
"use strict";

let ws = null;
let nextId = 1;
const waiting = new Map();
let refreshQueued = false;

function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      reject(new Error("not connected"));
      return;
    }
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: params || [] }));
  });
}

// Charts keep moving without new blocks (a halted or idle node): a refresh every second.
setInterval(() => {
  if (ws && ws.readyState === WebSocket.OPEN) scheduleRefresh();
}, 1000);

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  ws = new WebSocket(scheme + location.host + "/");
  const conn = document.getElementById("conn");
  ws.onopen = async () => {
    conn.textContent = "connected";
    conn.className = "ok";
    try {
      await call("eth_subscribe", ["newHeads"]);
    } catch (e) {
      conn.textContent = "subscribe failed: " + e.message;
    }
    refresh();
  };
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.method === "eth_subscription") {
      scheduleRefresh();
      return;
    }
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.error) w.reject(new Error(msg.error.message));
    else w.resolve(msg.result);
  };
  ws.onclose = () => {
    conn.textContent = "reconnecting";
    conn.className = "down";
    for (const w of waiting.values()) w.reject(new Error("connection closed"));
    waiting.clear();
    setTimeout(connect, 1000);
  };
}

function scheduleRefresh() {
  if (refreshQueued) return;
  refreshQueued = true;
  setTimeout(() => {
    refreshQueued = false;
    refresh();
  }, 300);
}

const hexNum = (h) => (h == null ? null : parseInt(h, 16));
const short = (h) => (h && h.length > 18 ? h.slice(0, 10) + "…" + h.slice(-6) : h || "");

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  if (cls) td.className = cls;
  return td;
}

function fill(tbodyId, rows) {
  const body = document.getElementById(tbodyId);
  body.replaceChildren(
    ...rows.map((cells) => {
      const tr = document.createElement("tr");
      tr.append(...cells);
      return tr;
    })
  );
}

async function refresh() {
  try {
    const status = await call("ordo_nodeStatus");
    if (window.chartSample) window.chartSample(status);
    document.getElementById("head-number").textContent = status.head.number;
    document.getElementById("mempool").textContent =
      status.mempool.pending + " pending / " + status.mempool.queued + " queued";
    const halted = document.getElementById("halted");
    halted.textContent = status.halted ? "HALTED" : "";
    halted.className = status.halted ? "halted" : "";
    await refreshBlocks(status.head.number);
    fill(
      "batches",
      status.batches.map((b) => [
        cell(b.index),
        cell(b.firstBlock + "–" + b.lastBlock),
        cell(b.status),
        cell(b.l1Block == null ? "" : b.l1Block),
        cell(short(b.l1TxHash), "mono"),
      ])
    );
    renderPlugins(status.plugins);
    renderCluster(status.cluster);
    fill(
      "searchers",
      Object.entries(status.searchers || {}).map(([who, s]) => [
        cell(short(who), "mono"),
        cell(s.proposed),
        cell(s.landed),
        cell(Object.values(s.dropped || {}).reduce((a, b) => a + b, 0)),
        cell(s.paidWei),
      ])
    );
  } catch (e) {
    document.getElementById("conn").textContent = "error: " + e.message;
  }
}

function renderCluster(cluster) {
  const summary = document.getElementById("cluster");
  if (!cluster) {
    summary.textContent = "a single node (no replica group)";
    fill("replicas", []);
    return;
  }
  summary.textContent =
    "this is replica " + cluster.id + " (" + cluster.role + "), term " + cluster.term +
    ", commit index " + (cluster.commitIndex == null ? "–" : cluster.commitIndex) +
    ", applied block " + cluster.appliedBlock;
  fill(
    "replicas",
    cluster.members.map((m) => [
      cell(m.id + (m.id === cluster.id ? " (this one)" : "")),
      cell(m.leader ? "leader" : m.voter ? "follower" : "learner"),
      cell(m.voter ? "yes" : "no"),
      cell(m.matchedIndex == null ? "" : m.matchedIndex),
    ])
  );
}

async function refreshBlocks(head) {
  const numbers = [];
  for (let n = head; n >= 0 && numbers.length < 10; n--) numbers.push(n);
  const rows = await Promise.all(
    numbers.map(async (n) => {
      const tag = "0x" + n.toString(16);
      const [block, prov] = await Promise.all([
        call("eth_getBlockByNumber", [tag, false]),
        call("ordo_getBlockProvenance", [tag]),
      ]);
      if (!block) return null;
      const policy = prov ? prov.policy + (prov.fallback ? " (fallback)" : "") : "";
      return [
        cell(n),
        cell(block.transactions.length),
        cell(hexNum(block.gasUsed)),
        cell(((hexNum(block.baseFeePerGas) || 0) / 1e9).toFixed(3)),
        cell(policy, prov && prov.fallback ? "bad" : ""),
      ];
    })
  );
  fill("blocks", rows.filter(Boolean));
}

function renderPlugins(plugins) {
  if (!plugins) {
    fill("plugins", []);
    return;
  }
  fill(
    "plugins",
    plugins.loaded.map((p) => {
      const h = p.health || {};
      const failures = Object.values(h.failures || {}).reduce((a, b) => a + b, 0);
      return [
        cell(p.name + " " + p.version),
        cell(p.kind),
        cell(p.active ? "active" : "loaded"),
        cell(h.calls || 0),
        cell(failures, failures ? "bad" : ""),
        cell(h.fallbacks || 0),
      ];
    })
  );
  const shadow = document.getElementById("shadow");
  const s = plugins.shadow;
  shadow.textContent = s
    ? "shadow " + s.id + ": " + s.blocksCompared + " blocks compared, better on " +
      s.shadowBetterBlocks + ", worse on " + s.shadowWorseBlocks
    : "no shadow plugin";
}

function kv(out, key, value) {
  const row = document.createElement("div");
  const k = document.createElement("span");
  k.className = "muted";
  k.textContent = key + ": ";
  const v = document.createElement("span");
  v.className = "mono";
  v.textContent = value == null ? "—" : String(value);
  row.append(k, v);
  out.append(row);
}

async function search(text) {
  const out = document.getElementById("search-result");
  out.replaceChildren();
  const q = text.trim();
  try {
    if (/^0x[0-9a-fA-F]{64}$/.test(q)) {
      const tx = await call("eth_getTransactionByHash", [q]);
      if (tx) {
        const st = await call("ordo_txStatus", [q]);
        const result = document.createElement("div");
        result.id = "search-tx";
        kv(result, "transaction", tx.hash);
        kv(result, "status", st ? st.status : "unknown");
        kv(result, "block", tx.blockNumber == null ? "pending" : hexNum(tx.blockNumber));
        kv(result, "from", tx.from);
        kv(result, "to", tx.to);
        kv(result, "nonce", hexNum(tx.nonce));
        if (st && st.batchIndex != null) kv(result, "batch", hexNum(st.batchIndex));
        if (st && st.l1TxHash) kv(result, "L1 tx", st.l1TxHash);
        out.append(result);
        return;
      }
      const block = await call("eth_getBlockByHash", [q, false]);
      if (block) return showBlock(out, block);
      out.textContent = "no transaction or block " + q;
      return;
    }
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(q)) {
      const n = q.startsWith("0x") ? parseInt(q, 16) : parseInt(q, 10);
      const block = await call("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
      if (block) return showBlock(out, block);
      out.textContent = "no block " + n;
      return;
    }
    out.textContent = "enter a transaction hash (0x + 64 hex) or a block number";
  } catch (e) {
    out.textContent = "error: " + e.message;
  }
}

function showBlock(out, block) {
  const result = document.createElement("div");
  result.id = "search-block";
  kv(result, "block", hexNum(block.number));
  kv(result, "hash", block.hash);
  kv(result, "transactions", block.transactions.length);
  kv(result, "gas used", hexNum(block.gasUsed));
  kv(result, "timestamp", new Date(hexNum(block.timestamp) * 1000).toISOString());
  for (const h of block.transactions.slice(0, 20)) kv(result, "tx", h);
  out.append(result);
}

document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  search(document.getElementById("search-input").value);
});
connect();
