// hcc-fleet sign-in page: name and password to a session cookie (HttpOnly: no script reads it),
// then back to the page asked for; in Vietnamese or English.
"use strict";

const TEXT = {
  en: { title: "Service-center hardware monitor", heading: "Sign in", name: "Account name",
        password: "Password", submit: "Sign in", other_lang: "Tiếng Việt",
        wrong: "Wrong name or password, or the account is locked for a while.",
        busy: "Too many wrong sign-ins from this computer: wait a minute and try again." },
};
TEXT.vi = inVietnamese(TEXT.en);  // the one catalog's words (texts.js)
let lang = localStorage.getItem("hcc-lang") || "vi";
const $ = (id) => document.getElementById(id);
const t = (k) => (TEXT[lang][k] !== undefined ? TEXT[lang][k] : k);

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang").textContent = t("other_lang");
  document.title = "HCC — " + t("heading");
}

// only a path of this site: never a redirect to another one
function next() {
  const n = new URLSearchParams(location.search).get("next") || "/";
  return n.startsWith("/") && !n.startsWith("//") && !n.startsWith("/\\") ? n : "/";
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("message").textContent = "";
  const r = await fetch("/api/v1/session", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("name").value.trim(), password: $("password").value }) });
  $("password").value = "";
  if (r.ok) { location.assign(next()); return; }
  $("message").textContent = r.status === 429 ? t("busy") : r.status === 401 ? t("wrong") : `HTTP ${r.status}`;
});
$("lang").addEventListener("click", () => { lang = lang === "vi" ? "en" : "vi"; localStorage.setItem("hcc-lang", lang); applyLanguage(); });
applyLanguage();
