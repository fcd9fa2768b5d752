// hcc-fleet pages' shared helpers: HTML escaping and times in the centers' zone, said so.
"use strict";

function esc(s) {
  return String(s === null || s === undefined ? "" : s)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function localTime(iso) {
  if (!iso) return "";
  // the centers' time, said so (the CLI and the API speak UTC, with their Z); `lang` is the page's
  return new Date(iso).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
    { timeZone: "Asia/Ho_Chi_Minh", hour12: false, timeZoneName: "short" });
}
