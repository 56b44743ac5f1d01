// Risk settings: mode and shares; a switch to enforce is saved only after its backtest (what
// the last 30 days would have held and blocked) is on screen.

import { ApiError, get, post, put } from "./api.js";
import { clear, h, money, notice, table, toast, unavailable } from "./dom.js";

const MODES = ["off", "shadow", "enforce"];

function current(s) {
  const t = s.thresholds || {};
  return h(
    "dl",
    { class: "facts", "data-testid": "settings-current" },
    [
      ["Mode", s.mode],
      ["Review share", s.review_share],
      ["Block share", s.block_share],
      ["Review threshold", t.review],
      ["Block threshold", t.block],
      ["Thresholds from", t.from ? `${t.from} (${t.purchases} purchases, ${t.days} days)` : "—"],
      ["Model", s.model_version],
    ].map(([k, v]) => [h("dt", {}, k), h("dd", { dataset: { field: k } }, v ?? "—")]),
  );
}

function backtest(b) {
  const row = (label, part) => h("tr", {}, h("td", {}, label), h("td", { class: "num" }, part.count), h("td", { class: "num" }, money(part.cashback)));
  return h(
    "div",
    { "data-testid": "backtest" },
    h("p", {}, `The last ${b.days} days (${b.purchases} purchases) under these settings would have:`),
    table(["", "Purchases", "Cashback"], [row("held for review", b.held), row("blocked", b.blocked), row("allowed", b.allowed)]),
  );
}

export function renderSettings(root, _params, { keyRefused }) {
  const body = h("div", {}, notice("Loading the risk settings…"));
  clear(root, h("section", { class: "settings" }, h("h1", {}, "Risk settings"), body));
  let saved = null;
  let previewed = null; // the values whose backtest is on screen

  const mode = h("select", { id: "risk-mode" }, MODES.map((m) => h("option", { value: m }, m)));
  const review = h("input", { id: "review-share", inputmode: "decimal", pattern: "0(\\.\\d+)?|1(\\.0+)?", size: 8 });
  const block = h("input", { id: "block-share", inputmode: "decimal", pattern: "0(\\.\\d+)?|1(\\.0+)?", size: 8 });
  const preview = h("button", { type: "button", id: "run-backtest" }, "Backtest these settings");
  const save = h("button", { type: "submit", id: "save-settings" }, "Save");
  const hint = h("p", { class: "hint", "data-testid": "save-hint" });
  const result = h("div", {});
  const currentBox = h("div", {});
  const values = () => ({ mode: mode.value, review_share: review.value.trim(), block_share: block.value.trim() });
  const same = (a, b) => a && b && a.mode === b.mode && a.review_share === b.review_share && a.block_share === b.block_share;

  function gate() {
    const needs = mode.value === "enforce" && saved.mode !== "enforce" && !same(previewed, values());
    save.disabled = needs;
    hint.textContent = needs ? "Switching to enforce: run the backtest of these settings first." : "";
  }

  const form = h(
    "form",
    { class: "card", id: "settings-form" },
    h("label", {}, "Mode ", mode),
    h("label", {}, "Review share ", review),
    h("label", {}, "Block share ", block),
    h("div", { class: "inline" }, preview, save),
    hint,
  );
  for (const input of [mode, review, block]) input.addEventListener("input", gate);

  preview.addEventListener("click", async () => {
    const asked = values();
    try {
      const reply = await post("/v1/risk/backtest", asked);
      previewed = asked;
      clear(result, backtest(reply));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      clear(result, error instanceof ApiError && error.unavailable ? unavailable("The backtest") : notice(`No backtest: ${error.message}`, "error"));
    }
    gate();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (save.disabled) return;
    try {
      const reply = await put("/v1/risk/settings", values());
      show(reply);
      if (reply.backtest) clear(result, backtest(reply.backtest));
      toast(`Risk settings saved: ${reply.mode}`, "ok");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      clear(result, notice(`Not saved: ${error.message}`, "error", { "data-testid": "settings-error" }));
    }
  });

  function show(s) {
    saved = s;
    mode.value = s.mode;
    review.value = s.review_share;
    block.value = s.block_share;
    clear(currentBox, current(s));
    gate();
  }

  get("/v1/risk/settings")
    .then((s) => {
      clear(body, currentBox, form, result);
      show(s);
    })
    .catch((error) => {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      clear(body, error instanceof ApiError && error.unavailable ? unavailable("Risk settings") : notice(`Could not load the settings: ${error.message}`, "error"));
    });
  return null;
}
