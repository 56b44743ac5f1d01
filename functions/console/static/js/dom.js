// Small DOM helpers: elements built with textContent only (never innerHTML), so nothing the
// API returns is ever parsed as markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined));
  return el;
}

// Integer minor units as text ("12990" -> "129.90"): no float ever holds money.
export function money(units) {
  if (units === null || units === undefined) return "—";
  const n = BigInt(units);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

export function age(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function secondsSince(iso) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? null : (Date.now() - at) / 1000;
}

export function when(iso) {
  if (!iso) return "—";
  return String(iso).replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

export function score(value) {
  return typeof value === "number" ? value.toFixed(3) : "—";
}

// A horizontal bar, 0..100, labelled; its width is set through the CSSOM (allowed by the
// page's Content-Security-Policy, unlike style attributes).
export function bar(percent, label, kind = "") {
  const fill = h("span", { class: `fill ${kind}` });
  const clamped = Math.max(0, Math.min(100, Number(percent) || 0));
  fill.style.width = `${clamped}%`;
  return h("div", { class: "bar", role: "img", "aria-label": label }, fill);
}

export function notice(text, kind = "info", attrs = {}) {
  return h("p", { class: `notice ${kind}`, ...attrs }, text);
}

export function unavailable(what) {
  return notice(`${what}: not available on this API yet.`, "unavailable", { "data-state": "unavailable" });
}

export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows),
  );
}

let toastTimer = null;
export function toast(text, kind = "info") {
  const el = document.getElementById("toast");
  el.className = `show ${kind}`;
  el.textContent = text;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.className = ""), 4000);
}
