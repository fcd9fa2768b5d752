// hcc-fleet public status view: each center up or down, nothing else (auth.public_status).
"use strict";

const TEXT = {
  en: { title: "Service-center status", signin: "Sign in", up: "up", down: "down", other_lang: "Tiếng Việt" },
};
TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)
let lang = localStorage.getItem("hcc-lang") || "vi";
let centers = [];
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);

function render() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("other_lang");
  fill($("centers"), centers.map((c) => h("div", { class: "center " + (c.up ? "up" : "down"), dataset: { center: c.center } },
    h("div", { class: "name" }, c.name), h("div", { class: "meta" }, t(c.up ? "up" : "down")))));
}
async function load() {
  const r = await fetch("/api/v1/status");
  if (r.ok) { centers = await r.json(); render(); }
}
$("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("hcc-lang", lang); render(); });
render();
load();
setInterval(load, 30000);
