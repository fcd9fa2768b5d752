// hcc-fleet device page: the device's readings now (supplies as bars, trays, outlets, radios,
// UPS), its history as charts (uPlot, vendored) and a reachability timeline, and its alerts
// with who acted and their notes; in Vietnamese or English.
"use strict";

const TEXT = {
  vi: { back: "← Bảng điều khiển", faults: "Lỗi hiện tại", now: "Số liệu hiện tại",
        history: "Lịch sử", r7d: "7 ngày", r30d: "30 ngày", reach: "Kết nối",
        alerts: "Cảnh báo của thiết bị", other_lang: "English", supplies: "Mực và vật tư",
        trays: "Khay giấy", outlets: "Ổ cắm", radios: "Sóng Wi-Fi", clients: "Thiết bị đang kết nối",
        ups: "Bộ lưu điện", charge: "Pin", runtime: "Thời gian chạy pin", load: "Tải",
        minutes: "phút", pages: "Bộ đếm trang", other: "Số liệu khác", on: "bật", off: "tắt",
        up: "hoạt động", down: "hỏng / mất kết nối", nodata: "không có dữ liệu",
        no_faults: "Không có lỗi.", no_alerts: "Chưa có cảnh báo nào.", no_data: "Chưa có dữ liệu.",
        center: "Trung tâm", last_seen: "Cập nhật", by: "bởi", note: "ghi chú",
        opened: "mở lúc", acknowledged: "đã nhận", resolved: "đã xử lý", firing: "mới",
        critical: "nghiêm trọng", warning: "cảnh báo", info: "thông tin",
        st_ok: "tốt", st_warning: "cảnh báo", st_critical: "nghiêm trọng", st_unreachable: "mất kết nối",
        c_supplies: "Mực và vật tư (%)", c_pages: "Bộ đếm trang", c_pages_hour: "Trang in mỗi giờ",
        c_clients: "Thiết bị Wi-Fi", c_power: "Công suất (W)", c_ups: "Bộ lưu điện",
        c_latency: "Thời gian phản hồi (ms)", not_found: "Không tìm thấy thiết bị.",
        c_speed: "Tốc độ tải như khách dùng (Mbit/s)", c_probe: "Thời gian từng bước (ms)",
        hourly: "theo giờ", every: "mỗi lần kiểm tra", time: "Thời gian" },
  en: { back: "← Dashboard", faults: "Current faults", now: "Readings now", history: "History",
        r7d: "7 days", r30d: "30 days", reach: "Reachability", alerts: "This device's alerts",
        other_lang: "Tiếng Việt", supplies: "Toner and supplies", trays: "Paper trays",
        outlets: "Outlets", radios: "Wi-Fi radios", clients: "Connected clients", ups: "UPS",
        charge: "Battery", runtime: "Runtime on battery", load: "Load", minutes: "min",
        pages: "Page counter", other: "Other readings", on: "on", off: "off", up: "up",
        down: "down / unreachable", nodata: "no data", no_faults: "No faults.",
        no_alerts: "No alerts yet.", no_data: "No data yet.", center: "Center",
        last_seen: "Updated", by: "by", note: "note", opened: "opened", acknowledged: "acknowledged",
        resolved: "resolved", firing: "firing", critical: "critical", warning: "warning",
        info: "info", st_ok: "ok", st_warning: "warning", st_critical: "critical",
        st_unreachable: "unreachable", c_supplies: "Toner and supplies (%)", c_pages: "Page counter",
        c_pages_hour: "Pages per hour", c_clients: "Wi-Fi clients", c_power: "Power (W)",
        c_ups: "UPS", c_latency: "Response time (ms)", not_found: "No such device.",
        c_speed: "Download speed as users see it (Mbit/s)", c_probe: "Each step's time (ms)",
        hourly: "per hour", every: "every check", time: "Time" },
};
const COLORS = ["#12355b", "#d1242f", "#2e9e4f", "#d4a017", "#7b3fb5", "#0b8a8a", "#c2571a", "#555"];

let lang = localStorage.getItem("hcc-lang") || "vi";
let range = "24h";
let device = null;
let series = null;
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);
const parts = location.pathname.split("/").map(decodeURIComponent);  // /devices/<center>/<device>
const CENTER = parts[2], DEVICE = parts[3];



function authHeaders() {
  const token = sessionStorage.getItem("hcc-token") || "";
  return token ? { Authorization: "Bearer " + token } : {};
}

function bar(label, pct, extra) {
  const known = pct !== null && pct !== undefined;
  const level = known ? Math.max(0, Math.min(100, Number(pct))) : 0;
  const cls = !known ? "unknown" : level < 10 ? "low" : level < 20 ? "warn" : "";
  return `<div class="bar-row"><span class="bar-label">${esc(label)}</span>
    <span class="bar ${cls}"><span style="width:${level}%"></span></span>
    <span class="bar-value">${known ? level.toFixed(0) + " %" : esc(extra || "?")}</span></div>`;
}

function renderNow() {
  const r = device.readings;
  const out = [];
  if (r.supplies.length) {
    out.push(`<div class="panel"><h3>${t("supplies")}</h3>` +
      r.supplies.map((s) => bar(s.name || s.id, s.pct, s.state)).join("") + "</div>");
  }
  if (r.trays.length) {
    out.push(`<div class="panel"><h3>${t("trays")}</h3>` +
      r.trays.map((s) => bar(s.name || s.id, s.pct, s.state)).join("") + "</div>");
  }
  if (r.page_count !== null && r.page_count !== undefined) {
    out.push(`<div class="panel"><h3>${t("pages")}</h3><div class="big">${Number(r.page_count).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB")}</div></div>`);
  }
  if (r.wifi_clients !== null && r.wifi_clients !== undefined || r.radios.length) {
    const radios = r.radios.map((x) => `<span class="chip ${x.oper === "up" ? "ok" : "critical"}">${esc(x.id)}: ${esc(x.oper)}</span>`).join("");
    out.push(`<div class="panel"><h3>${t("clients")}</h3><div class="big">${r.wifi_clients ?? "?"}</div>` +
      (radios ? `<h3>${t("radios")}</h3><div>${radios}</div>` : "") + "</div>");
  }
  if (r.outlets.length) {
    out.push(`<div class="panel"><h3>${t("outlets")}</h3><div class="outlets">` + r.outlets.map((o) => {
      const on = o.state === "on" || o.on === 1;
      const power = o.power_w !== undefined ? `${Number(o.power_w).toFixed(0)} W` : "";
      return `<div class="outlet ${on ? "on" : "off"}"><b>${esc(o.name || "#" + o.id)}</b>
        <span>${t(on ? "on" : "off")}</span><span>${power}</span></div>`;
    }).join("") + "</div></div>");
  }
  if (r.ups) {
    const u = r.ups;
    out.push(`<div class="panel"><h3>${t("ups")}</h3>` + bar(t("charge"), u.battery_charge_pct) +
      (u.runtime_min !== undefined ? `<div>${t("runtime")}: <b>${u.runtime_min} ${t("minutes")}</b></div>` : "") +
      (u.load_pct !== undefined ? bar(t("load"), u.load_pct) : "") +
      ["battery_status", "output_source", "replace_battery"].filter((k) => u[k] !== undefined)
        .map((k) => `<div class="small">${esc(k)}: ${esc(u[k])}</div>`).join("") + "</div>");
  }
  const other = Object.entries(r.other);
  if (other.length) {
    out.push(`<details class="panel"><summary>${t("other")} (${other.length})</summary><table class="kv">` +
      other.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("") + "</table></details>");
  }
  $("now").innerHTML = out.join("") || `<p>${t("no_data")}</p>`;
  $("faults").innerHTML = device.faults.length ? device.faults.map((f) =>
    `<div class="fault ${esc(f.severity)}"><b>${esc(f.message)}</b><div class="hint">→ ${esc(f.hint)}</div></div>`).join("")
    : `<p>${t("no_faults")}</p>`;
}

function renderAlerts() {
  $("alerts").innerHTML = device.alerts.map((a) => {
    const steps = (a.history || []).filter((h) => h.actor || h.note).map((h) =>
      `<li>${esc(localTime(h.at))} · ${esc(t(h.event))}${h.actor ? " " + t("by") + " " + esc(h.actor) : ""}${h.note ? ": “" + esc(h.note) + "”" : ""}</li>`).join("");
    return `<div class="alert-card ${esc(a.severity)}" data-alert-id="${a.id}">
      <div><span class="sev">${esc(t(a.severity))}</span> · <span class="state">${esc(t(a.state))}</span>${a.silenced ? " · 🔕" : ""}</div>
      <div class="msg">${esc(a.message)}</div><div class="hint">→ ${esc(a.hint)}</div>
      <div class="small">${t("opened")} ${esc(localTime(a.opened_at))}</div>
      ${steps ? `<ul class="steps">${steps}</ul>` : ""}</div>`;
  }).join("") || `<p>${t("no_alerts")}</p>`;
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
  const el = $("reach");
  const from = series.from, to = series.to, span = to - from;
  el.innerHTML = series.reachability.map(([a, b, up]) => {
    const left = ((a - from) / span) * 100, width = Math.max(0.2, ((b - a) / span) * 100);
    return `<span class="${up ? "up" : "down"}" style="left:${left}%;width:${width}%"></span>`;
  }).join("");
  $("reach-legend").innerHTML = `<span class="key up"></span>${t("up")} <span class="key down"></span>${t("down")} <span class="key nodata"></span>${t("nodata")}`;
}

const charts = [];
function renderCharts() {
  charts.splice(0).forEach((c) => c.destroy());
  const box = $("charts");
  box.innerHTML = "";
  const order = ["supplies", "pages", "clients", "power", "ups", "latency", "speed", "probe"];
  const width = Math.max(260, (box.clientWidth || 600) - 16);
  const fmt = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", series.to - series.from > 86400 * 1.5
    ? { timeZone: "Asia/Ho_Chi_Minh", day: "2-digit", month: "2-digit" }
    : { timeZone: "Asia/Ho_Chi_Minh", hour: "2-digit", minute: "2-digit", hour12: false });
  const num = new Intl.NumberFormat(lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 1 });
  let drawn = 0;
  for (const name of order) {
    const lines = series.charts[name];
    if (!lines || !lines.length) continue;
    const title = name === "pages" && series.resolution === "hour" ? t("c_pages_hour") : t("c_" + name);
    const wrap = document.createElement("div");
    wrap.className = "chart";
    wrap.dataset.chart = name;
    wrap.innerHTML = `<h3>${esc(title)} <span class="small">(${series.resolution === "hour" ? t("hourly") : t("every")})</span></h3>`;
    box.appendChild(wrap);
    // each line has its own times: join them on one time axis (gaps stay gaps)
    const data = uPlot.join(lines.map((l) => [l.points.map((p) => p[0]), l.points.map((p) => p[2])]));
    const opts = {
      width, height: 200,
      scales: { x: { time: true } },
      series: [{ label: t("time"), value: (u, v) => (v == null ? "--" : fmt.format(new Date(v * 1e3))) },
        ...lines.map((l, i) => ({ label: l.metric === "pages_per_hour" ? t("c_pages_hour") : l.label,
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
  if (!drawn) box.innerHTML = `<p>${t("no_data")}</p>`;
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
  const r = await fetch(`/api/v1/devices/${encodeURIComponent(CENTER)}/${encodeURIComponent(DEVICE)}/series?range=${range}`, { headers: authHeaders() });
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
  await loadDevice();  // messages and hints come from the server in the chosen language
  applyLanguage();
});
let resizeTimer = null;
window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => series && renderCharts(), 200); });
applyLanguage();
loadDevice().then(loadSeries);
