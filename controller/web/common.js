// hcc-fleet pages' shared helpers: building the page from data as DOM nodes (never as HTML) and
// times in the centers' zone, said so.
"use strict";

// h("a", {class: "d ok", href: url, title: name}, "text", childNode, [more]) -> an element.
// Every string becomes a text node or an attribute value: what a box, an operator or a provider
// wrote is shown as written and can never become markup or a script (no innerHTML with data).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (/^on/i.test(key)) throw new Error("no event handler attributes: " + key);
    if (key === "class") el.className = String(value);
    else if (key === "dataset") Object.entries(value).forEach(([k, v]) => { el.dataset[k] = String(v); });
    else if (key === "style") Object.entries(value).forEach(([k, v]) => { el.style[k] = String(v); });
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === "") continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// An element's content replaced by these nodes and texts.
function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

function localTime(iso) {
  if (!iso) return "";
  // the centers' time, said so (the CLI and the API speak UTC, with their Z); `lang` is the page's
  return new Date(iso).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
    { timeZone: "Asia/Ho_Chi_Minh", hour12: false, timeZoneName: "short" });
}
