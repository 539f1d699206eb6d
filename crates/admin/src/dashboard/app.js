// Switchyard dashboard: polls the admin API and draws pools, charts and versions.
// The admin token comes from the URL fragment (#token=...), which browsers never send to the
// server; it is kept in sessionStorage and sent as a bearer token.
"use strict";

const TOKEN_KEY = "switchyard.token";
const REFRESH_MS = 2500;
const AUTHOR = "dashboard";
const diffs = new Map(); // version number -> list of change texts
let timer = null;
let minutes = 15; // the charts' window: 15, 5 or 1 minutes

function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }
}

class Unauthorized extends Error {}

async function api(path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) throw new Unauthorized("no token");
  const init = { headers: { Authorization: "Bearer " + token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, init);
  if (resp.status === 401) throw new Unauthorized("the token was refused");
  const data = await resp.json();
  if (!resp.ok) throw new Error((data && data.reason) || "HTTP " + resp.status);
  return data;
}

// el("td", {class: "num"}, "text", child...) builds an element; text is never parsed as HTML.
function el(tag, attrs, ...children) {
  const svg = ["svg", "g", "line", "path", "rect", "text", "title", "circle"].includes(tag);
  const node = svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const pct = (x) => (x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1) + "%";
const time = (t) => new Date(t).toLocaleTimeString([], { hour12: false });

function showLogin(reason) {
  clearTimeout(timer);
  document.getElementById("app").hidden = true;
  document.getElementById("logout").hidden = true;
  document.getElementById("login").hidden = false;
  document.getElementById("status").textContent = "";
  document.getElementById("head-version").textContent = "";
  for (const id of ["rollout-list", "pool-list", "chart-list", "version-list"]) {
    document.getElementById(id).replaceChildren();
  }
  if (reason) document.getElementById("login-reason").textContent = reason;
}

// The history last read, shown while the store cannot be reached.
let lastVersions = [];

async function refresh() {
  clearTimeout(timer);
  try {
    // Without its store an instance still serves and shows its servers, but has no history.
    const me = await api("/instance");
    const [pools, series, versions, rollouts] = await Promise.all([
      api("/pools"),
      api("/series?minutes=" + minutes),
      me.store_connected ? api("/versions?limit=15") : Promise.resolve(lastVersions),
      api("/rollouts").catch(() => []),
    ]);
    lastVersions = versions;
    await loadDiffs(versions);
    document.getElementById("login").hidden = true;
    document.getElementById("app").hidden = false;
    document.getElementById("logout").hidden = false;
    renderRollouts(rollouts);
    renderPools(pools);
    renderCharts(series);
    renderVersions(versions);
    const head = versions[0];
    document.getElementById("head-version").textContent = head
      ? `v${head.version} (${head.kind} by ${head.author})`
      : "";
    document.getElementById("status").textContent = me.store_connected
      ? "updated " + time(Date.now())
      : `store ${me.store} cannot be reached: serving v${me.version}` +
        (me.from_snapshot ? " from the local snapshot" : "") +
        ", changes refused until it is back (updated " + time(Date.now()) + ")";
  } catch (e) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(e.message === "no token" ? null : "The admin API refused that token. Paste the current one.");
      return;
    }
    document.getElementById("status").textContent = "cannot reach the admin API: " + e.message;
  }
  clearTimeout(timer); // another refresh may have finished meanwhile: keep one loop
  timer = setTimeout(refresh, REFRESH_MS);
}

// Versions never change once written, so each diff is fetched once.
async function loadDiffs(versions) {
  const missing = versions.filter((v) => v.version > 1 && !diffs.has(v.version));
  await Promise.all(missing.map(async (v) => {
    const d = await api(`/diff?from=${v.version - 1}&to=${v.version}`);
    diffs.set(v.version, d.changes.map((c) => c.text));
  }));
}

// A change from the page: asks why, confirms, then POSTs.
async function change(question, path, body) {
  const message = prompt(question + "\n\nMessage for the version history:");
  if (message === null) return;
  if (!confirm(question + "\n\n\u201c" + message + "\u201d")) return;
  try {
    const r = await api(path, Object.assign({ message, author: AUTHOR }, body));
    document.getElementById("status").textContent =
      r.changed === false ? "nothing changed" : `made v${r.version.version}`;
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin("The admin API refused that token.");
    alert("The change was refused: " + e.message);
  }
  refresh();
}

function renderPools(pools) {
  const list = pools.map((p) => {
    const rows = p.servers.map((s) => {
      const out = s.state === "removed" || s.state === "draining";
      const action = out
        ? el("button", { class: "restore", onclick: () =>
            change(`Restore ${s.name} to pool ${p.name}?`, `/pools/${enc(p.name)}/servers/${enc(s.name)}/restore`, {}) }, "Restore")
        : el("button", { class: "remove", onclick: () =>
            change(`Remove ${s.name} from pool ${p.name} (drains its requests)?`, `/pools/${enc(p.name)}/servers/${enc(s.name)}/remove`, { wait: false }) }, "Remove");
      return el("tr", { class: "server", "data-server": s.name },
        el("td", {}, el("strong", {}, s.name), el("span", { class: "reason" }, s.address)),
        el("td", {}, el("span", { class: "badge " + s.state }, s.state)),
        el("td", {}, el("span", { class: "badge " + s.health }, s.health),
          s.health_reason ? el("span", { class: "reason" }, s.health_reason) : null,
          out && s.removed_reason ? el("span", { class: "reason" }, `removed by ${s.removed_by}: ${s.removed_reason}`) : null),
        el("td", { class: "num" }, `${s.in_flight}/${s.limit}`, s.saturated ? el("span", { class: "reason bad" }, "saturated") : null),
        el("td", { class: "num" }, s.requests_1m),
        el("td", { class: "num" + (s.error_rate_1m >= 0.05 ? " bad" : "") }, pct(s.error_rate_1m)),
        el("td", { class: "num" + (s.client_error_rate_1m >= 0.05 ? " bad" : "") }, pct(s.client_error_rate_1m)),
        el("td", {}, action));
    });
    return el("div", { class: "pool", id: "pool-" + p.name },
      el("h3", {}, p.name),
      el("table", {},
        el("thead", {}, el("tr", {}, ["server", "state", "health", "in flight", "req/1m", "5xx/1m", "4xx/1m", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)));
  });
  document.getElementById("pool-list").replaceChildren(...list);
}

const enc = encodeURIComponent;

// Milliseconds as "212 ms", "1.9 ms" or "2.35 s".
function millis(ms) {
  if (ms >= 1000) return (ms / 1000).toFixed(2) + " s";
  return ms >= 10 ? ms.toFixed(0) + " ms" : ms.toFixed(1) + " ms";
}

// Each pool's newest rollout: its steps, and during a bake each new server's error rate and p90
// latency beside the existing servers'. Finished rollouts stay for ten minutes.
function renderRollouts(rollouts) {
  const newest = new Map();
  for (const r of rollouts) if (!newest.has(r.pool)) newest.set(r.pool, r);
  const recent = [...newest.values()].filter((r) =>
    r.state === "running" || Date.now() - Date.parse(r.finished) < 600000);
  const panel = document.getElementById("rollouts");
  panel.hidden = recent.length === 0;
  const items = recent.map((r) => {
    const steps = r.steps.map((s) => {
      const bake = s.bake
        ? el("table", { class: "bake" },
            el("thead", {}, el("tr", {}, ["server", "requests", "5xx", "4xx", "error rate", "p90"].map((h) => el("th", {}, h)))),
            el("tbody", {}, [...s.bake.new, s.bake.existing].map((n) =>
              el("tr", { "data-bake-server": n.server },
                el("td", {}, n.server === "existing" ? "existing servers" : n.server),
                el("td", { class: "num" }, n.requests),
                el("td", { class: "num" }, n.errors),
                el("td", { class: "num" }, n.client_errors),
                el("td", { class: "num" + (n.error_rate >= 0.05 ? " bad" : "") }, pct(n.error_rate)),
                el("td", { class: "num" }, n.p90_ms == null ? "-" : millis(n.p90_ms))))))
        : null;
      return el("li", { class: "step", "data-step": s.step },
        el("span", { class: "num" }, `step ${s.step}`), " ",
        el("span", { class: "badge " + s.phase }, s.phase), " ",
        s.servers.join(", "),
        s.weight_percent ? ` at ${s.weight_percent}% of ${s.replaces}'s weight` : "",
        s.version ? el("span", { class: "muted" }, ` v${s.version}`) : null,
        bake);
    });
    return el("div", { class: "rollout", id: `rollout-${r.pool}-${r.id}` },
      el("h3", {}, `rollout ${r.id} of ${r.pool} `, el("span", { class: "badge " + r.state }, r.state),
        el("span", { class: "muted" }, ` by ${r.author}: ${r.message}`)),
      el("ol", {}, steps),
      r.summary ? el("p", { class: r.state === "succeeded" ? "muted" : "reason bad" }, r.summary) : null);
  });
  document.getElementById("rollout-list").replaceChildren(...items);
}

// One SVG per pool: request rate as 10-second bars (left axis), 5xx and 4xx rates as lines
// (right axis), events as vertical markers whose <title> tells what happened.
function renderCharts(series) {
  const W = 640, H = 200, L = 44, R = 44, T = 10, B = 22;
  const span = series.to - series.from;
  const x = (t) => L + ((t - series.from) / span) * (W - L - R);
  const charts = series.pools.map((p) => {
    const b = p.buckets;
    const rate = b.map((k) => k.requests / series.bucket_s);
    const err = b.map((k) => (k.requests ? k.errors / k.requests : 0));
    const cerr = b.map((k) => (k.requests ? k.client_errors / k.requests : 0));
    const maxRate = Math.max(1, ...rate) * 1.1;
    const maxErr = Math.max(0.05, ...err, ...cerr) * 1.1;
    const yR = (v) => H - B - (v / maxRate) * (H - T - B);
    const yE = (v) => H - B - (v / maxErr) * (H - T - B);
    const bw = Math.max(1, x(series.from + series.bucket_s) - x(series.from) - 1);
    const bars = b.filter((k) => k.requests > 0).map((k) =>
      el("rect", { class: "req", x: x(k.t).toFixed(1), width: bw.toFixed(1),
        y: yR(k.requests / series.bucket_s).toFixed(1),
        height: (H - B - yR(k.requests / series.bucket_s)).toFixed(1) }));
    // An error rate only where there were requests: a gap breaks the line.
    const path = (rates) => {
      let d = "", prev = false;
      b.forEach((k, i) => {
        if (!k.requests) { prev = false; return; }
        const px = (x(k.t) + bw / 2).toFixed(1), py = yE(rates[i]).toFixed(1);
        d += prev ? `L${px},${py} ` : `M${px},${py} h0.1 `;
        prev = true;
      });
      return d;
    };
    const ticks = [];
    const step = span > 300 ? 300 : span > 60 ? 60 : 15;
    for (let back = Math.floor(span / step) * step; back >= 0; back -= step) {
      const t = series.to - back;
      const label = back === 0 ? "now" : back % 60 ? `-${back}s` : `-${back / 60}m`;
      ticks.push(el("line", { class: "grid", x1: x(t), x2: x(t), y1: T, y2: H - B }),
        el("text", { class: "axis", x: x(t), y: H - 6, "text-anchor": "middle" }, label));
    }
    let lastLabel = -Infinity;
    const markers = series.markers
      .filter((m) => !m.pool || m.pool === p.name)
      .map((m) => {
        const mx = x(Date.parse(m.ts) / 1000);
        // Labels of markers close together would overlap: the hover title still tells.
        let label = m.kind === "version" || m.kind === "auto-rollback" ? `v${m.version}` : "";
        if (label && mx - lastLabel < 28) label = "";
        if (label) lastLabel = mx;
        const left = mx > W - R - 30;
        return el("g", { class: "marker " + m.kind },
          el("title", {}, `${time(m.ts)} ${m.kind}: ${m.text}`),
          el("line", { x1: mx, x2: mx, y1: T, y2: H - B }),
          el("circle", { cx: mx, cy: T + 3, r: 4 }),
          label ? el("text", { x: left ? mx - 6 : mx + 6, y: T + 7, "text-anchor": left ? "end" : "start" }, label) : null);
      });
    const total = b.reduce((a, k) => a + k.requests, 0);
    const errors = b.reduce((a, k) => a + k.errors, 0);
    const clientErrors = b.reduce((a, k) => a + k.client_errors, 0);
    return el("div", { class: "pool-chart", id: "chart-" + p.name },
      el("h3", {}, p.name, " ", el("span", { class: "muted" },
        `${total} requests, ${pct(total ? errors / total : 0)} errors (5xx), ${pct(total ? clientErrors / total : 0)} 4xx`)),
      el("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `traffic of pool ${p.name}` },
        ticks,
        el("text", { class: "axis", x: L - 4, y: T + 8, "text-anchor": "end" }, fmtRate(maxRate)),
        el("text", { class: "axis", x: L - 4, y: H - B, "text-anchor": "end" }, "0/s"),
        el("text", { class: "axis", x: W - R + 4, y: T + 8 }, pct(maxErr)),
        el("text", { class: "axis", x: W - R + 4, y: H - B }, "0%"),
        bars,
        el("path", { class: "err", d: path(err) }),
        el("path", { class: "cerr", d: path(cerr) }),
        markers));
  });
  document.getElementById("chart-list").replaceChildren(...charts);
}

const fmtRate = (v) => (v >= 10 ? Math.round(v) : v.toFixed(1)) + "/s";

function renderVersions(versions) {
  const head = versions[0] && versions[0].version;
  const items = versions.map((v) => {
    const guard = v.author === "switchyard-guard";
    const changes = diffs.get(v.version) || [];
    return el("li", { class: "version", "data-version": v.version },
      el("div", { class: "meta" },
        el("span", { class: "num" }, "v" + v.version),
        el("span", { class: guard ? "guard" : "" }, `${v.kind} by ${v.author}`),
        el("span", { class: "muted" }, new Date(v.created_at).toLocaleString([], { hour12: false })),
        el("span", {}, v.message),
        v.version !== head
          ? el("button", { class: "rollback", onclick: () =>
              change(`Roll back to v${v.version} (makes a new version with its config)?`, "/rollback", { to: v.version }) }, "Roll back to this")
          : el("span", { class: "muted" }, "current")),
      v.version > 1
        ? el("ul", {}, changes.length ? changes.map((c) => el("li", {}, c)) : el("li", { class: "muted" }, "no change"))
        : null);
  });
  document.getElementById("version-list").replaceChildren(...items);
}

document.getElementById("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("login-token");
  sessionStorage.setItem(TOKEN_KEY, input.value.trim());
  input.value = "";
  refresh();
});

for (const button of document.querySelectorAll("#window button")) {
  button.addEventListener("click", () => {
    minutes = Number(button.dataset.minutes);
    document.querySelectorAll("#window button").forEach((b) => b.classList.toggle("on", b === button));
    refresh();
  });
}

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  showLogin(null);
});

takeTokenFromFragment();
if (sessionStorage.getItem(TOKEN_KEY)) refresh();
else showLogin(null);
