"use strict";
// directord dashboard: hash routes, JSON from /api, redrawn on every server-sent "change".

const CONTROL = { "\u0004": "success", "\u0015": "failed", "\u0016": "running", "\u0000": "pending" };
const NODES_PER_PAGE = 100;
const view = document.getElementById("view");
const statusLine = document.getElementById("status");
const state = { allowSubmit: false, redraw: null, busy: false, timer: null, lastDraw: 0 };
const REDRAW_MS = 1000;  // during a burst of changes the page redraws at most this often

function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function seconds(value) { return value == null ? "" : Number(value) < 10 ? Number(value).toFixed(3) + " s" : Number(value).toFixed(1) + " s"; }
function when(epoch) { return epoch ? new Date(epoch * 1000).toLocaleString() : ""; }
function pill(text) { return `<span class="pill ${esc(text)}">${esc(text)}</span>`; }
function short(id) { return esc(String(id).slice(0, 8)); }

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = { error: text }; }
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function table(columns, rows, empty) {
  if (!rows.length) return `<p class="muted">${esc(empty)}</p>`;
  const head = columns.map(c => `<th>${esc(c[0])}</th>`).join("");
  const body = rows.map(r => `<tr ${r.attrs || ""}>${columns.map(c => `<td class="${c[2] || ""}">${c[1](r)}</td>`).join("")}</tr>`).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function pager(data, go) {
  const last = Math.max(0, Math.ceil(data.total / data.limit) - 1), at = Math.floor(data.offset / data.limit);
  const div = document.createElement("div");
  div.className = "pager";
  div.innerHTML = `<button data-page="${at - 1}" ${at <= 0 ? "disabled" : ""}>‹</button>
    <span>${data.total ? data.offset + 1 : 0}–${Math.min(data.offset + data.limit, data.total)} of ${data.total}</span>
    <button data-page="${at + 1}" ${at >= last ? "disabled" : ""}>›</button>`;
  div.querySelectorAll("button").forEach(b => b.onclick = () => go(Number(b.dataset.page)));
  return div;
}

// A view keeps its controls (filters, pages) across redraws; ``draw`` refetches and fills ``#rows`` and ``#pages``.
function listView(title, tools, draw) {
  view.innerHTML = `<h2>${esc(title)}</h2><div class="tools">${tools}</div><div id="out"><div id="rows"></div><div id="pages"></div></div>`;
  const inputs = view.querySelectorAll(".tools input, .tools select");
  let page = 0;
  const run = async () => { await draw(page, p => { page = p; run(); }); };
  inputs.forEach(i => i.oninput = () => { page = 0; run(); });
  state.redraw = run;
  run();
}
function value(id) { const el = document.getElementById(id); return el ? encodeURIComponent(el.value) : ""; }

function showNodes() {
  listView("Nodes", `<input id="filter" placeholder="filter by name">`, async (page, go) => {
    const data = await api(`/api/nodes?filter=${value("filter")}&offset=${page * 500}&limit=500`);
    const rows = data.rows.map(n => ({ ...n, attrs: `data-node="${esc(n.id)}"` }));
    fill(document.getElementById("rows"), table([
      ["Node", n => esc(n.id)], ["State", n => pill(n.state === "active" ? "active" : n.state === "expired" ? "expired" : "held") + (n.held ? " " + esc(n.held) : "")],
      ["Version", n => esc(n.version)], ["Driver", n => esc(n.driver)],
      ["Heartbeat age", n => n.state === "expired" ? "" : seconds(n.heartbeat_age)],
      ["Agent uptime", n => seconds(n.agent_uptime)], ["Host uptime", n => seconds(n.host_uptime)], ["Server", n => esc(n.server)],
    ], rows, "No node has registered."));
    document.getElementById("pages").replaceChildren(pager(data, go));
  });
}

function showJobs(parent) {
  const statuses = ["", "running", "success", "failed", "skipped"].map(s => `<option value="${s}">${s || "any status"}</option>`).join("");
  listView(parent ? "Jobs of one orchestration" : "Jobs", `<select id="job-status">${statuses}</select><input id="filter" placeholder="filter by id, verb or name">`, async (page, go) => {
    const data = await api(`/api/jobs?status=${value("job-status")}&filter=${value("filter")}&parent=${encodeURIComponent(parent || "")}&offset=${page * 100}&limit=100`);
    fill(document.getElementById("rows"), table([
      ["Job", j => `<a href="#/job/${esc(j.id)}">${short(j.id)}</a>`], ["Verb", j => esc(j.verb)], ["Name", j => esc(j.name)],
      ["Orchestration", j => `<a href="#/orchestration/${esc(j.parent_id)}">${esc(j.parent_name) || short(j.parent_id)}</a>`],
      ["Status", j => pill(j.status)], ["Nodes", j => j.nodes], ["Succeeded", j => j.success], ["Failed", j => j.failed],
      ["Submitted", j => when(j.created)], ["Slowest round trip", j => seconds(j.roundtrip_max)],
    ], data.rows.map(j => ({ ...j, attrs: `data-job="${esc(j.id)}"` })), "No job matches."));
    document.getElementById("pages").replaceChildren(pager(data, go));
  });
}

function showOrchestrations() {
  listView("Orchestrations", `<input id="filter" placeholder="filter by id or name">`, async (page, go) => {
    const data = await api(`/api/orchestrations?filter=${value("filter")}&offset=${page * 100}&limit=100`);
    fill(document.getElementById("rows"), table([
      ["Orchestration", o => `<a href="#/orchestration/${esc(o.id)}">${esc(o.name) || short(o.id)}</a>`], ["Status", o => pill(o.status)],
      ["Jobs", o => o.jobs], ["Succeeded", o => o.success], ["Failed", o => o.failed], ["Running", o => o.running],
      ["Nodes", o => o.nodes], ["Started", o => when(o.created)], ["Duration", o => seconds(o.duration)],
    ], data.rows, "Nothing has run yet."));
    document.getElementById("pages").replaceChildren(pager(data, go));
  });
}

async function showJob(id) {
  const draw = async () => {
    const r = await api(`/api/job/${encodeURIComponent(id)}`);
    const nodes = r._nodes.map(n => ({ node: n, state: CONTROL[r._processing[n]] || "pending" }));
    view.innerHTML = `<h2>${esc(r.VERB)} ${esc(r.JOB_NAME || "")}</h2>
      <div class="cards"><div class="card">Job<b>${short(r.JOB_ID)}</b></div>
      <div class="card">Orchestration<b><a href="#/orchestration/${esc(r.PARENT_JOB_ID)}">${esc(r.PARENT_JOB_NAME).slice(0, 24)}</a></b></div>
      <div class="card">Succeeded<b>${r.SUCCESS.length}</b></div><div class="card">Failed<b>${r.FAILED.length}</b></div>
      <div class="card">Mean round trip<b>${seconds(r.ROUNDTRIP_TIME)}</b></div><div class="card">Mean execution<b>${seconds(r.EXECUTION_TIME)}</b></div></div>` +
      table([["Node", n => esc(n.node)], ["Status", n => pill(n.state)], ["Execution", n => seconds(r._executiontime[n.node])],
        ["Round trip", n => seconds(r._roundtripltime[n.node])], ["INFO", n => esc(r.INFO[n.node]), "wrap"],
        ["STDOUT", n => esc(r.STDOUT[n.node]), "wrap"], ["STDERR", n => esc(r.STDERR[n.node]), "wrap"]], nodes, "Sent to no node.");
  };
  state.redraw = draw;
  await draw();
}

// -- an orchestration: analysis, timeline (one row per node, one bar per job), heat map ---------
function bars(data) {
  const now = Date.now() / 1000, out = [];
  for (const job of data.jobs) {
    const rts = Object.values(job.nodes).map(v => v[0]).filter(v => v != null).sort((a, b) => a - b);
    const median = rts.length ? rts[Math.floor(rts.length / 2)] : null;
    for (const [node, [rt, ex, control]] of Object.entries(job.nodes)) {
      const status = CONTROL[control] || "pending";
      const end = rt != null ? job.created + rt : now;
      const start = rt != null && ex != null ? Math.max(job.created, end - ex) : job.created;
      const straggler = median != null && rt != null && rts.length > 2 && rt > Math.max(1.5 * median, median + 1);
      out.push({ job, node, rt, ex, status, start, end, straggler });
    }
  }
  return out;
}

function timelineSvg(all, nodes, width) {
  const label = 150, row = 20, t0 = Math.min(...all.map(b => b.start)), t1 = Math.max(...all.map(b => b.end), t0 + 0.001);
  const x = t => label + (t - t0) / (t1 - t0) * (width - label - 10);
  const height = nodes.length * row + 24;
  let svg = `<svg id="timeline" width="${width}" height="${height}" role="img" aria-label="timeline">`;
  for (let i = 0; i <= 4; i++) {
    const t = t0 + (t1 - t0) * i / 4, px = x(t);
    const anchor = i === 4 ? "end" : "start", span = t1 - t0;
    svg += `<line class="axis" x1="${px}" x2="${px}" y1="0" y2="${height - 18}"/><text x="${px + (i === 4 ? -2 : 2)}" y="${height - 4}" text-anchor="${anchor}">+${(t - t0).toFixed(span < 1 ? 3 : span < 100 ? 1 : 0)} s</text>`;
  }
  nodes.forEach((node, i) => {
    const y = i * row;
    svg += `<g class="row" data-node="${esc(node)}"><text x="4" y="${y + 14}">${esc(node)}</text>`;
    for (const b of all.filter(b => b.node === node)) {
      const w = Math.max(x(b.end) - x(b.start), 2);
      svg += `<rect class="bar ${b.status}${b.straggler ? " straggler" : ""}" data-job="${esc(b.job.id)}" data-node="${esc(node)}" x="${x(b.start)}" y="${y + 3}" width="${w}" height="${row - 6}">` +
        `<title>${esc(b.job.verb)} ${esc(b.job.name || b.job.id.slice(0, 8))} on ${esc(node)}: ${b.status}, round trip ${seconds(b.rt)}, execution ${seconds(b.ex)}${b.straggler ? " (straggler)" : ""}</title></rect>`;
    }
    svg += "</g>";
  });
  return svg + "</svg>";
}

function heatMap(canvas, data, nodes) {
  const cell = 12, jobs = data.jobs, max = Math.max(0.001, ...jobs.flatMap(j => nodes.map(n => (j.nodes[n] || [])[0] || 0)));
  canvas.width = jobs.length * cell; canvas.height = nodes.length * cell;
  const ctx = canvas.getContext("2d");
  nodes.forEach((node, r) => jobs.forEach((job, c) => {
    const [rt, , control] = job.nodes[node] || [];
    const shade = rt == null ? 235 : Math.round(235 - 200 * rt / max);
    ctx.fillStyle = CONTROL[control] === "failed" ? "#d64545" : `rgb(${shade},${shade},255)`;
    ctx.fillRect(c * cell, r * cell, cell - 1, cell - 1);
  }));
  canvas.onmousemove = e => {
    const c = Math.floor(e.offsetX / cell), r = Math.floor(e.offsetY / cell), job = jobs[c], node = nodes[r];
    const v = job && node && job.nodes[node];
    canvas.title = v ? `${job.verb} ${job.name || job.id.slice(0, 8)} on ${node}: round trip ${seconds(v[0])}` : "";
  };
}

function analysisChart(analysis, all, nodes) {
  const total = {};
  for (const b of all) { const t = total[b.node] ||= { ex: 0, rt: 0 }; t.ex += b.ex || 0; t.rt += b.rt || 0; }
  const max = Math.max(0.001, ...Object.values(total).map(t => t.rt)), shown = nodes.slice(0, 40), w = 420, row = 16;
  let svg = `<svg id="analysis" width="${w + 170}" height="${shown.length * row + 20}" role="img" aria-label="time per node">`;
  shown.forEach((node, i) => {
    const t = total[node] || { ex: 0, rt: 0 }, y = i * row + 14, mark = node === analysis.SLOWEST_NODE_ROUNDTRIP ? " slowest" : node === analysis.FASTEST_NODE_ROUNDTRIP ? " fastest" : "";
    svg += `<text x="0" y="${y}">${esc(node)}${mark}</text><rect class="bar running" x="150" y="${y - 10}" width="${t.rt / max * w}" height="6"><title>round trip ${seconds(t.rt)}</title></rect>` +
      `<rect class="bar success" x="150" y="${y - 4}" width="${t.ex / max * w}" height="6"><title>execution ${seconds(t.ex)}</title></rect>`;
  });
  return svg + `</svg><p class="muted">Per node, summed over the jobs: round trip (amber) and execution (green).</p>`;
}

async function showOrchestration(id) {
  let nodePage = 0;
  const draw = async () => {
    const data = await api(`/api/timeline/${encodeURIComponent(id)}`), a = data.analysis, all = bars(data);
    const nodes = [...new Set(all.map(b => b.node))].sort();
    const pageNodes = nodes.slice(nodePage * NODES_PER_PAGE, (nodePage + 1) * NODES_PER_PAGE);
    const width = Math.max(600, view.clientWidth - 60);
    view.innerHTML = `<h2>Orchestration ${short(id)}</h2>
      <div class="cards"><div class="card">Jobs<b>${a.TOTAL_JOBS}</b></div><div class="card">Nodes<b>${a.TOTAL_NODE_COUNT}</b></div>
      <div class="card">Successes<b>${a.TOTAL_SUCCESSES}</b></div><div class="card">Failures<b>${a.TOTAL_FAILURES}</b></div>
      <div class="card">Runtime<b>${seconds(a.ACTUAL_RUNTIME)}</b></div><div class="card">Combined execution<b>${seconds(a.COMBINED_EXECUTION_TIME)}</b></div>
      <div class="card">Slowest node<b>${esc(a.SLOWEST_NODE_ROUNDTRIP || "")}</b></div><div class="card">Fastest node<b>${esc(a.FASTEST_NODE_ROUNDTRIP || "")}</b></div></div>
      <h2>Timeline</h2><div class="chart">${timelineSvg(all, pageNodes, width)}</div><div id="node-pager"></div>
      <h2>Round trip heat map (node × job)</h2><div class="chart"><canvas id="heatmap"></canvas></div>
      <h2>Time per node</h2><div class="chart">${analysisChart(a, all, nodes)}</div>
      <p><a href="#/jobs/${esc(id)}">The jobs of this orchestration</a></p>`;
    if (nodes.length > NODES_PER_PAGE) {
      document.getElementById("node-pager").appendChild(pager({ total: nodes.length, offset: nodePage * NODES_PER_PAGE, limit: NODES_PER_PAGE }, p => { nodePage = p; draw(); }));
    }
    heatMap(document.getElementById("heatmap"), data, nodes);
  };
  state.redraw = draw;
  await draw();
}

function showSubmit() {
  view.innerHTML = `<h2>Run</h2><div class="tools"><input id="verb" placeholder="verb (RUN)" value="RUN"><input id="text" size="50" placeholder="what to run">
    <input id="targets" placeholder="targets (all when empty)"><button id="run-job">Run job</button></div>
    <p>or an orchestration:</p><textarea id="yaml" rows="10" cols="80" placeholder="- jobs:&#10;  - RUN: echo hello"></textarea>
    <p><button id="run-yaml">Run orchestration</button> <span id="submitted"></span></p>`;
  const send = async body => {
    const out = document.getElementById("submitted");
    try {
      const r = await api("/api/submit", { method: "POST", headers: { "Content-Type": "application/json", "X-Directord-Submit": "1" }, body: JSON.stringify(body) });
      out.innerHTML = r.job_ids.map(j => `<a href="#/job/${esc(j)}">${short(j)}</a>`).join(" ");
    } catch (e) { out.textContent = e.message; }
  };
  document.getElementById("run-job").onclick = () => send({ verb: document.getElementById("verb").value, text: document.getElementById("text").value, targets: document.getElementById("targets").value });
  document.getElementById("run-yaml").onclick = () => send({ orchestration: document.getElementById("yaml").value });
  state.redraw = null;
}

async function route() {
  const [, name, arg] = (location.hash || "#/nodes").split("/");
  document.querySelectorAll("nav a").forEach(a => a.classList.toggle("active", a.dataset.view === name));
  try {
    if (name === "jobs") showJobs(arg && decodeURIComponent(arg));
    else if (name === "orchestrations") showOrchestrations();
    else if (name === "job") await showJob(decodeURIComponent(arg));
    else if (name === "orchestration") await showOrchestration(decodeURIComponent(arg));
    else if (name === "submit" && state.allowSubmit) showSubmit();
    else showNodes();
  } catch (e) { view.innerHTML = `<p class="muted">${esc(e.message)}</p>`; }
}

// The first change after a quiet spell redraws at once; a burst redraws once a second.
function changed() {
  if (state.timer || !state.redraw) return;
  state.timer = setTimeout(async () => {
    state.lastDraw = Date.now();
    try { if (state.redraw) await state.redraw(); } catch (e) { statusLine.textContent = e.message; }
    state.timer = null;
  }, Math.max(0, state.lastDraw + REDRAW_MS - Date.now()));
}

function fill(element, html) {  // an unchanged view is left alone (no layout work for the browser)
  if (element.dataset.html !== html) { element.innerHTML = html; element.dataset.html = html; }
}

async function start() {
  const s = await api("/api/state");
  state.allowSubmit = s.allow_submit;
  document.getElementById("submit-link").hidden = !s.allow_submit;
  window.onhashchange = route;
  await route();
  const events = new EventSource("/api/events");
  events.addEventListener("change", event => {
    const now = JSON.parse(event.data);
    statusLine.textContent = now.error ? `server: ${now.error}` : `${now.nodes} node(s), ${now.jobs} job(s) · live`;
    statusLine.classList.toggle("error", Boolean(now.error));
    changed();
  });
  events.onerror = () => { statusLine.textContent = "reconnecting…"; };
}
start();
