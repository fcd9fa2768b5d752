// hcc-fleet audit page (admins): every write, newest first, who, from where, before and after;
// built as DOM nodes from the data (never as HTML).
"use strict";

const TEXT = {
  en: { back: "← Dashboard", title: "Audit trail", csv: "Download CSV", at: "At",
        account: "Account", from: "From", action: "Operation", target: "Target", before: "Before",
        after: "After", other_lang: "Tiếng Việt", none: "Nothing recorded yet." },
};
TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)
let lang = localStorage.getItem("hcc-lang") || "vi";
let rows = [];
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);
const json = (v) => (v === null || v === undefined ? "" : JSON.stringify(v));

function render() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("other_lang");
  const body = rows.slice().reverse().map((r) => h("tr", { dataset: { action: r.action } },
    h("td", null, localTime(r.at)), h("td", null, r.account, " (", r.via, ")"), h("td", null, r.peer),
    h("td", null, r.action), h("td", null, r.center ? r.center + " · " : "", r.target),
    h("td", null, json(r.before)), h("td", null, json(r.after))));
  fill($("audit").querySelector("tbody"), body.length ? body : h("tr", null, h("td", { colspan: 7 }, t("none"))));
}

async function load() {
  const r = await fetch("/api/v1/audit?limit=1000");
  if (!r.ok) { $("message").textContent = `HTTP ${r.status}`; return; }
  rows = await r.json();
  render();
}
$("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("hcc-lang", lang); render(); });
render();
load();
