// hcc-fleet dashboard: centers coloured by worst open alert, open alerts with hints, devices;
// live from the Server-Sent Events stream, in Vietnamese or English.
"use strict";

const TEXT = {
  en: { title: "Service-center hardware monitor", filter: "Filter centers, devices…",
        signout: "Sign out", audit: "Audit trail", centers: "Centers", alerts: "Open alerts",
        severity: "Severity", center: "Center", problem: "Problem", since: "Since",
        state: "State", action: "Action", devices: "Devices", ack: "Acknowledge",
        resolve: "Resolve", note: "note", live: "live", offline: "disconnected",
        firing: "firing", acknowledged: "acknowledged", resolved: "resolved", ok: "All good",
        open: "alerts", open_one: "alert", silenced: "silenced", other_lang: "Tiếng Việt", agents_offline: "offline", n_devices: "devices", update_failed: "update failed",
        need_token: "Your session has ended: sign in again.", forbidden: "Your account may not do this.", by: "by", critical: "critical",
        warning: "warning", info: "info", none: "No open alerts.",
        st_ok: "ok", st_warning: "warning", st_critical: "critical",
        st_unreachable: "unreachable", st_pending: "pending", reports: "Reports",
        more: "Show more", shown_of: "Showing {n} of {total} centers" },
};
TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)

let lang = localStorage.getItem("hcc-lang") || "vi";
let centers = [];       // one page of them, worst first, filtered by the server
let centersTotal = 0;   // how many match the filter (the server's X-Total-Count)
const PAGE = 60;        // a city of 10,000 centers is never sent to the browser at once
let centersLimit = PAGE;
let alerts = [];
let me = null;  // who is signed in: name, role, what they may do, the CSRF token for writes
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);



function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("lang").textContent = t("other_lang");
  $("reports").href = `/reports?lang=${lang}`;
  document.title = t("title");
  render();
}

function matches(text) {
  const f = $("filter").value.trim().toLowerCase();
  return !f || text.toLowerCase().includes(f);
}

function render() {
  const shownCenters = centers;  // the server applied the filter to the centers
  $("more").hidden = centers.length >= centersTotal;
  $("shown").textContent = centersTotal > centers.length
    ? t("shown_of").replace("{n}", centers.length.toLocaleString(lang)).replace("{total}", centersTotal.toLocaleString(lang))
    : "";
  fill($("centers"), shownCenters.map((c) => {
    const offline = c.agents.some((a) => a.state !== "online");
    const meta = c.open_alerts ? `${c.open_alerts} ${t(c.open_alerts === 1 ? "open_one" : "open")}` : t("ok");
    // the fleet inventory: which box, which software, how many devices (hover for more)
    // a failed software update (rolled back or refused): its version, the reason on hover
    const boxes = c.agents.map((a) => `${a.agent}${a.software ? " v" + a.software : ""}` +
      `${a.devices != null ? " · " + a.devices + " " + t("n_devices") : ""}` +
      `${a.update && a.update.state !== "ok" && a.update.state !== "staged" &&
         a.update.state !== "installing" ? " · " + t("update_failed") + " " + a.update.version : ""}`).join(", ");
    const details = c.agents.map((a) => [a.agent, a.model, a.os, a.config_version &&
      "config " + a.config_version, a.last_seen,
      a.update && a.update.reason && `${a.update.version}: ${a.update.state}: ${a.update.reason}`]
      .filter(Boolean).join(" · ")).join("\n");
    return h("div", { class: "center " + (c.worst || "ok"), dataset: { center: c.center }, title: details },
      h("div", { class: "name" }, c.name),
      h("div", { class: "meta" }, meta, offline ? " · " + t("agents_offline") : ""),
      h("div", { class: "meta boxes" }, boxes));
  }));
  const shown = alerts.filter((a) => matches(a.center + " " + (a.device || "") + " " + a.message_vi + " " + a.message_en));
  $("count").textContent = String(shown.length);
  const rows = shown.map((a) => {
    const msg = lang === "vi" ? a.message_vi : a.message_en;
    const hint = lang === "vi" ? a.hint_vi : a.hint_en;
    const who = a.acked_by ? ` ${t("by")} ${a.acked_by}` : "";
    return h("tr", { class: a.severity + (a.silenced ? " silenced" : ""),
                     dataset: { alertId: a.id, state: a.state } },
      h("td", { class: "sev" }, t(a.severity)),
      h("td", null, centerName(a.center)),
      h("td", null,
        h("div", { class: "msg" }, a.device ? h("a", { class: "devlink", href: devUrl(a.center, a.device) }, msg) : msg),
        h("div", { class: "hint" }, "→ ", hint)),
      h("td", null, localTime(a.opened_at)),
      h("td", { class: "state" }, t(a.state), who, a.silenced ? " · " + t("silenced") : "",
        a.escalation ? h("div", { class: "hint escalation" }, "↑ ", a.escalation) : null),
      // a viewer gets no buttons (the server refuses them anyway: 403)
      h("td", null, me && me.can.ack ? [h("input", { class: "note", placeholder: t("note") }), " ",
        a.state === "firing" ? [h("button", { class: "ack", dataset: { id: a.id } }, t("ack")), " "] : null,
        h("button", { class: "resolve", dataset: { id: a.id } }, t("resolve"))] : null));
  });
  fill($("alerts").querySelector("tbody"),
       rows.length ? rows : h("tr", null, h("td", { colspan: 6 }, t("none"))));
  fill($("devices"), shownCenters.filter((c) => c.devices.length).map((c) =>
    h("div", { class: "devices", dataset: { center: c.center } }, h("b", null, c.name), ": ",
      c.devices.map((d) => h("a", { class: "d " + d.status, href: devUrl(c.center, d.device),
                                     title: localTime(d.last_seen) },
                              d.name, ": ", t("st_" + d.status))))));
}

function devUrl(center, device) {
  return `/devices/${encodeURIComponent(center)}/${encodeURIComponent(device)}`;
}

function centerName(id) {
  const c = centers.find((x) => x.center === id);
  return c ? c.name : id;
}

async function whoAmI() {
  const r = await fetch("/api/v1/session");
  me = r.ok ? await r.json() : null;
  $("who").textContent = me ? `${me.name} · ${me.role}` : "";
  $("signout").hidden = !me || me.via !== "session";
  $("audit").hidden = !me || !me.can.audit;  // the admins' page
}

async function load() {
  const q = $("filter").value.trim();
  const [c, a] = await Promise.all([
    fetch(`/api/v1/centers?limit=${centersLimit}${q ? "&q=" + encodeURIComponent(q) : ""}`),
    fetch("/api/v1/alerts?state=open&limit=1000")]);
  if (c.status === 401 || a.status === 401) { location.assign("/signin?next=/"); return; }
  if (q !== $("filter").value.trim()) return;  // typed on meanwhile: the newer load shows
  if (c.ok) { centers = await c.json(); centersTotal = Number(c.headers.get("X-Total-Count") || centers.length); }
  if (a.ok) alerts = await a.json();
  render();
}

let typing = null;
function filterChanged() {  // the alerts at once; the centers from the server, once typing stops
  centersLimit = PAGE;
  render();
  clearTimeout(typing);
  typing = setTimeout(load, 250);
}

// every write carries the session's CSRF token (the server refuses one without it)
function writeHeaders() {
  return { "Content-Type": "application/json", "X-CSRF-Token": (me && me.csrf) || "" };
}

async function act(id, action, note) {
  const r = await fetch(`/api/v1/alerts/${id}/${action}`, { method: "POST", headers: writeHeaders(), body: JSON.stringify({ note }) });
  $("message").textContent = r.status === 401 ? t("need_token") : r.status === 403 ? t("forbidden") : (r.ok ? "" : `HTTP ${r.status}`);
  if (r.ok) load();
}

let pending = null;
function soon() {  // many changes at once (an outage): one reload
  if (pending) return;
  pending = setTimeout(() => { pending = null; load(); }, 250);
}

function connect() {
  const es = new EventSource("/api/v1/stream");
  // the badge keeps its word key, so a change of language keeps its meaning
  es.onopen = () => { $("live").className = "live"; $("live").dataset.i18n = "live"; $("live").textContent = t("live"); load(); };
  es.addEventListener("alert", soon);
  es.onerror = () => { $("live").className = "live off"; $("live").dataset.i18n = "offline"; $("live").textContent = t("offline"); };
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-id]");
  if (b) act(b.dataset.id, b.classList.contains("ack") ? "ack" : "resolve",
             b.closest("tr").querySelector("input.note").value);
  const c = e.target.closest(".center");
  if (c) { $("filter").value = c.dataset.center; filterChanged(); }
});
$("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("hcc-lang", lang); applyLanguage(); });
$("filter").addEventListener("input", filterChanged);
$("more").addEventListener("click", () => { centersLimit += PAGE; load(); });
$("signout").addEventListener("click", async () => {
  await fetch("/api/v1/session", { method: "DELETE", headers: writeHeaders() });
  location.assign("/signin");
});
applyLanguage();
whoAmI().then(() => { render(); load(); connect(); });
