// hcc-fleet device page: the device's readings now (supplies as bars, trays, outlets, radios,
// UPS), its history as charts (uPlot, vendored) and a reachability timeline, and its alerts
// with who acted and their notes; in Vietnamese or English.
"use strict";

const TEXT = {
  en: { back: "← Dashboard", faults: "Current faults", now: "Readings now", history: "History",
        r7d: "7 days", r30d: "30 days", reach: "Reachability", alerts: "This device's alerts",
        other_lang: "Tiếng Việt", other: "Other readings", on: "on", off: "off", up: "up",
        down: "down / unreachable", nodata: "no data", no_faults: "No faults.",
        no_alerts: "No alerts yet.", no_data: "No data yet.", center: "Center",
        last_seen: "Updated", by: "by", note: "note", opened: "opened", acknowledged: "acknowledged",
        resolved: "resolved", firing: "firing", critical: "critical", warning: "warning",
        info: "info", st_ok: "ok", st_warning: "warning", st_critical: "critical",
        st_unreachable: "unreachable", not_found: "No such device.", hourly: "per hour", every: "every check", time: "Time" },
};
TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)
const COLORS = ["#12355b", "#d1242f", "#2e9e4f", "#d4a017", "#7b3fb5", "#0b8a8a", "#c2571a", "#555"];

let lang = localStorage.getItem("hcc-lang") || "vi";
let range = "24h";
let device = null;
let series = null;
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);
const parts = location.pathname.split("/").map(decodeURIComponent);  // /devices/<center>/<device>
const CENTER = parts[2], DEVICE = parts[3];



// the session cookie goes with every same-origin request: no token in the page
function authHeaders() {
  return {};
}

function bar(label, pct, extra) {
  const known = pct !== null && pct !== undefined && Number.isFinite(Number(pct));
  const level = known ? Math.max(0, Math.min(100, Number(pct))) : 0;
  const cls = !known ? "unknown" : level < 10 ? "low" : level < 20 ? "warn" : "";
  return h("div", { class: "bar-row" }, h("span", { class: "bar-label" }, label),
    h("span", { class: "bar " + cls }, h("span", { style: { width: level + "%" } })),
    h("span", { class: "bar-value" }, known ? level.toFixed(0) + " %" : (extra || "?")));
}

// A reading shown as a number when it is one, else as the text the box sent (never as markup).
function shown(value) {
  return value === null || value === undefined ? "?" : String(value);
}

// A reading with its unit, both from the vocabulary of readings the server sends.
function withUnit(value, unit) {
  return unit ? `${shown(value)} ${unit}` : shown(value);
}

function panel(title, ...children) {
  return h("div", { class: "panel" }, h("h3", null, title), children);
}

function renderNow() {
  const r = device.readings, title = r.titles;  // titles and labels: the vocabulary's
  const out = [];
  if (r.supplies.length) out.push(panel(title.supply, r.supplies.map((s) => bar(s.name || s.id, s.pct, s.state))));
  if (r.trays.length) out.push(panel(title.tray, r.trays.map((s) => bar(s.name || s.id, s.pct, s.state))));
  if (r.pages !== null && r.pages !== undefined) {
    const n = Number(r.pages);
    out.push(panel(title.pages, h("div", { class: "big" },
      Number.isFinite(n) ? n.toLocaleString(lang === "vi" ? "vi-VN" : "en-GB") : shown(r.pages))));
  }
  if (r.clients !== null && r.clients !== undefined || r.radios.length) {
    const radios = r.radios.map((x) => h("span", { class: "chip " + (x.oper === "up" ? "ok" : "critical") },
                                          `${shown(x.id)}: ${shown(x.oper)}`));
    out.push(panel(title.clients, h("div", { class: "big" }, shown(r.clients)),
      radios.length ? [h("h3", null, title.radio), h("div", null, radios)] : null));
  }
  if (r.outlets.length) {
    out.push(panel(title.outlet, h("div", { class: "outlets" }, r.outlets.map((o) => {
      const on = o.state === "on" || o.on === 1;
      const watts = Number(o.power_w);
      const power = o.power_w === undefined ? "" : Number.isFinite(watts) ? `${watts.toFixed(0)} W` : shown(o.power_w);
      return h("div", { class: "outlet " + (on ? "on" : "off") }, h("b", null, o.name || "#" + o.id),
        " ", h("span", null, t(on ? "on" : "off")), h("span", null, power));
    }))));
  }
  if (r.ups) {
    // levels in percent as bars, the rest as "label: value unit"
    out.push(panel(title.ups, r.ups.map((u) => u.unit === "%" ? bar(u.label, u.value)
      : h("div", { class: typeof u.value === "string" ? "small" : null }, u.label, ": ",
          h("b", null, withUnit(u.value, u.unit))))));
  }
  const other = r.other;
  if (other.length) {
    out.push(h("details", { class: "panel" }, h("summary", null, `${t("other")} (${other.length})`),
      h("table", { class: "kv" }, other.map((x) => h("tr", { title: x.key }, h("td", null, x.label),
        h("td", null, withUnit(x.value, x.unit)))))));
  }
  fill($("now"), out.length ? out : h("p", null, t("no_data")));
  fill($("faults"), device.faults.length ? device.faults.map((f) =>
    h("div", { class: "fault " + f.severity }, h("b", null, f.message), h("div", { class: "hint" }, "→ ", f.hint)))
    : h("p", null, t("no_faults")));
}

function renderAlerts() {
  const cards = device.alerts.map((a) => {
    const steps = (a.history || []).filter((x) => x.actor || x.note).map((x) =>
      h("li", null, `${localTime(x.at)} · ${t(x.event)}`, x.actor ? ` ${t("by")} ${x.actor}` : "",
        x.note ? `: “${x.note}”` : ""));
    return h("div", { class: "alert-card " + a.severity, dataset: { alertId: a.id } },
      h("div", null, h("span", { class: "sev" }, t(a.severity)), " · ", h("span", { class: "state" }, t(a.state)),
        a.silenced ? " · 🔕" : ""),
      h("div", { class: "msg" }, a.message), h("div", { class: "hint" }, "→ ", a.hint),
      h("div", { class: "small" }, `${t("opened")} ${localTime(a.opened_at)}`),
      steps.length ? h("ul", { class: "steps" }, steps) : null);
  });
  fill($("alerts"), cards.length ? cards : h("p", null, t("no_alerts")));
}

function renderHeader() {
  $("name").textContent = device.name;
  const st = $("status");
  st.textContent = t("st_" + device.status);
  st.className = "badge " + device.status;
  $("meta").textContent = `${device.type_name} · ${t("center")}: ${device.center_name} · ` +
    `${t("last_seen")}: ${localTime(device.last_seen)}`;
  document.title = `HCC — ${device.name}`;
}

function renderReach() {
  const from = series.from, to = series.to, span = to - from;
  fill($("reach"), series.reachability.map(([a, b, up]) => {
    const left = ((a - from) / span) * 100, width = Math.max(0.2, ((b - a) / span) * 100);
    return h("span", { class: up ? "up" : "down", style: { left: left + "%", width: width + "%" } });
  }));
  fill($("reach-legend"), h("span", { class: "key up" }), t("up"), " ", h("span", { class: "key down" }), t("down"),
       " ", h("span", { class: "key nodata" }), t("nodata"));
}

const charts = [];
function renderCharts() {
  charts.splice(0).forEach((c) => c.destroy());
  const box = $("charts");
  box.replaceChildren();
  const order = series.order;  // the vocabulary's charts, in its order
  const width = Math.max(260, (box.clientWidth || 600) - 16);
  const fmt = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", series.to - series.from > 86400 * 1.5
    ? { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit" }
    : { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", hour12: false });
  const num = new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 1 });
  let drawn = 0;
  for (const name of order) {
    const lines = series.charts[name];
    if (!lines || !lines.length) continue;
    const title = series.titles[name];
    const wrap = document.createElement("div");
    wrap.className = "chart";
    wrap.dataset.chart = name;
    wrap.append(h("h3", null, title, " ", h("span", { class: "small" },
      `(${series.resolution === "hour" ? t("hourly") : t("every")})`)));
    box.appendChild(wrap);
    // each line has its own times: join them on one time axis (gaps stay gaps)
    const data = uPlot.join(lines.map((l) => [l.points.map((p) => p[0]), l.points.map((p) => p[2])]));
    const opts = {
      width, height: 200,
      scales: { x: { time: true } },
      series: [{ label: t("time"), value: (u, v) => (v == null ? "--" : fmt.format(new Date(v * 1e3))) },
        ...lines.map((l, i) => ({ label: l.label,
          stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false,
          value: (u, v) => (v == null ? "--" : num.format(v)) }))],
      // dates and numbers as the reader writes them, in the centers' time zone
      axes: [{ values: (u, splits) => splits.map((v) => fmt.format(new Date(v * 1e3))) },
             { size: 64, values: (u, splits) => splits.map((v) => num.format(v)) }],
      legend: { show: true },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Asia/Ho_Chi_Minh"),
    };
    charts.push(new uPlot(opts, data, wrap));
    drawn++;
  }
  if (!drawn) fill(box, h("p", null, t("no_data")));
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("other_lang");
  if (device) { renderHeader(); renderNow(); renderAlerts(); }
  if (series) { renderReach(); renderCharts(); }
}

async function loadDevice() {
  const r = await fetch(`/api/v1/devices/${encodeURIComponent(CENTER)}/${encodeURIComponent(DEVICE)}?lang=${lang}`, { headers: authHeaders() });
  if (!r.ok) { $("message").textContent = r.status === 404 ? t("not_found") : `HTTP ${r.status}`; return; }
  device = await r.json();
  renderHeader(); renderNow(); renderAlerts();
}

async function loadSeries() {
  const r = await fetch(`/api/v1/devices/${encodeURIComponent(CENTER)}/${encodeURIComponent(DEVICE)}/series?range=${range}&lang=${lang}`, { headers: authHeaders() });
  if (!r.ok) return;
  series = await r.json();
  renderReach(); renderCharts();
  document.body.dataset.loaded = range;  // for tests and screen readers: the charts are drawn
}

document.querySelectorAll("button[data-range]").forEach((b) => b.addEventListener("click", () => {
  range = b.dataset.range;
  document.querySelectorAll("button[data-range]").forEach((x) => x.classList.toggle("on", x === b));
  loadSeries();
}));
$("lang").addEventListener("click", async () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("hcc-lang", lang);
  await loadDevice();  // messages, hints and reading labels come from the server in the chosen language
  applyLanguage();
  loadSeries();
});
let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => series && renderCharts(), 200); });
applyLanguage();
loadDevice().then(loadSeries);
