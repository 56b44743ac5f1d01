// One case: claimed on opening, reasons, features against the storefront's normal, the
// customer's timeline, linked accounts, notes, and the decision (then the next case).

import { ApiError, get, post, segment } from "./api.js";
import { bar, clear, h, money, notice, score, table, toast, unavailable, when } from "./dom.js";
import { nextAfter, queue } from "./queue.js";

const CLOSE_REASONS = ["legitimate", "refund_abuse", "account_farming", "velocity", "other"];

function reasons(list) {
  if (!list || !list.length) return notice("No reasons were recorded.");
  // The API gives the reasons strongest first, without weights: the bars show the rank.
  return h(
    "ol",
    { class: "reasons", "data-testid": "reasons" },
    list.map((text, i) => h("li", {}, bar(100 - (i * 60) / Math.max(1, list.length), `reason ${i + 1}`, "reason"), h("span", {}, text))),
  );
}

function features(list) {
  if (!Array.isArray(list)) return unavailable("Features against the storefront's normal");
  if (!list.length) return notice("No features recorded for this purchase.");
  return table(
    ["Feature", "Value", "Percentile among this storefront's recent purchases"],
    list.map((f) =>
      h(
        "tr",
        {},
        h("td", {}, f.name),
        h("td", { class: "num" }, String(f.value)),
        h(
          "td",
          { class: "pct" },
          f.percentile === null || f.percentile === undefined
            ? "too few purchases to compare"
            : [bar(f.percentile, `percentile ${f.percentile}`, f.percentile >= 95 ? "high" : ""), ` ${Math.round(f.percentile)}th`],
        ),
      ),
    ),
    { "data-testid": "features" },
  );
}

function timeline(customer) {
  const entries = (customer && (customer.recent || customer.recent_entries)) || null;
  if (!entries) return unavailable("The customer's timeline");
  if (!entries.length) return notice("No earlier activity.");
  return table(
    ["When", "What", "Change", "Order"],
    entries.map((e) => h("tr", {}, h("td", {}, when(e.occurred_at || e.at)), h("td", {}, e.kind), h("td", { class: "num" }, change(e)), h("td", {}, e.order_id || "—"))),
    { "data-testid": "timeline" },
  );
}

// A ledger entry's effect: its amount, or the balances it moved ("held +18.50").
function change(entry) {
  if (entry.amount !== undefined) return money(entry.amount);
  const moved = Object.entries(entry.changes || {}).filter(([, units]) => units);
  return moved.map(([balance, units]) => `${balance} ${units > 0 ? "+" : ""}${money(units)}`).join(", ") || "—";
}

function linked(list) {
  if (!Array.isArray(list)) return unavailable("Linked accounts");
  if (!list.length) return notice("No accounts share a device or payment with this customer.");
  return h(
    "ul",
    { class: "linked", "data-testid": "linked" },
    list.map((l) =>
      h("li", {}, h("strong", {}, l.customer_id), ` via ${l.via}: `, (l.cases || []).map((c) => `${c.order_id} (${c.state}, ${score(c.score)})`).join(", ") || "no cases"),
    ),
  );
}

// The customer's other cases, newest first: a link to each, its state and score.
function earlier(list) {
  if (!Array.isArray(list)) return unavailable("Earlier cases");
  if (!list.length) return notice("No other cases for this customer.");
  return h(
    "ul",
    { class: "linked", "data-testid": "earlier-cases" },
    list.map((c) =>
      h("li", {}, h("a", { href: `#/case/${encodeURIComponent(c.order_id)}` }, c.order_id), ` ${c.state}, risk ${score(c.score)}`),
    ),
  );
}

function balance(customer) {
  const b = customer && customer.balance;
  if (!b) return null;
  const history =
    customer.orders === undefined
      ? null
      : h("p", { class: "balance", "data-testid": "history" }, `${customer.orders} orders (${money(customer.ordered)}), ${customer.refunds} refunds (${money(customer.refunded)})`);
  return [h("p", { class: "balance" }, ["pending", "available", "held", "reserved", "debt"].map((k) => h("span", {}, `${k} ${money(b[k])}`))), history];
}

export function renderCase(root, [orderId, action], { go, keyRefused }) {
  let stopped = false;
  let decided = false;
  const path = `/v1/reviews/${segment(orderId)}`;
  const claimBox = h("div", { "data-testid": "claim", class: "claim" });
  const notesBox = h("div", {});
  const decisionBox = h("div", {});
  clear(root, notice(`Opening ${orderId}…`));

  const reason = h("select", { id: "close-reason" }, h("option", { value: "" }, "close reason (optional)"), CLOSE_REASONS.map((r) => h("option", { value: r }, r)));
  const note = h("textarea", { id: "decision-note", rows: 2, maxlength: 1000, placeholder: "Why (kept on the case and in the labels)" });
  const list = h(
    "select",
    { id: "customer-list" },
    h("option", { value: "" }, "customer: no list"),
    h("option", { value: "watch_customer" }, "watch the customer (next purchases to review)"),
    h("option", { value: "deny_customer" }, "deny the customer cashback"),
  );
  const approve = h("button", { type: "button", id: "approve", class: "approve", onclick: () => decide("approve") }, "Approve (a)");
  const reject = h("button", { type: "button", id: "reject", class: "reject", onclick: () => decide("reject") }, "Reject (r)");
  const decisionError = h("p", { class: "notice error", role: "alert", hidden: true, "data-testid": "decision-error" });

  async function decide(decision) {
    if (decided || approve.disabled) return;
    const body = { decision };
    if (reason.value) body.reason = reason.value;
    if (note.value.trim()) body.note = note.value.trim();
    if (list.value) body.customer_list = list.value;
    approve.disabled = reject.disabled = true;
    decisionError.hidden = true;
    try {
      const reply = await post(`${path}/decision`, body);
      decided = true;
      toast(`${decision === "approve" ? "Approved" : "Rejected"} ${orderId}: cashback ${reply.status}`, "ok");
      const next = await nextAfter(orderId);
      if (stopped) return;
      if (next) go(`#/case/${encodeURIComponent(next)}`);
      else {
        toast("The queue is empty.", "ok");
        go("#/queue");
      }
    } catch (error) {
      approve.disabled = reject.disabled = false;
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      if (error instanceof ApiError && error.code === "case_claimed") showClaimed(error.details || {});
      decisionError.hidden = false;
      decisionError.textContent = `Not decided: ${error.message}`;
    }
  }

  function showClaimed(details) {
    approve.disabled = reject.disabled = true;
    const why = h("input", { id: "take-over-reason", placeholder: "why you take it over", maxlength: 500 });
    const button = h("button", { type: "button", id: "take-over" }, "Take over");
    button.addEventListener("click", async () => {
      if (!why.value.trim()) return why.focus();
      await claim(true, why.value.trim());
    });
    clear(
      claimBox,
      h("p", { class: "notice warn", "data-testid": "claimed-by-other" }, `Claimed by ${details.by || "another analyst"} until ${when(details.until)}.`),
      h("div", { class: "inline" }, why, button),
    );
  }

  async function claim(takeOver = false, why = "") {
    try {
      const reply = await post(`${path}/claim`, { take_over: takeOver, reason: why });
      approve.disabled = reject.disabled = false;
      clear(claimBox, h("p", { class: "notice ok", "data-testid": "claimed-by-me" }, `Claimed by you (${reply.claim.by}) until ${when(reply.claim.until)}.`));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      if (error instanceof ApiError && error.code === "case_claimed") showClaimed(error.details || {});
      else if (error instanceof ApiError && error.code === "case_closed") clear(claimBox, notice("This case is closed.", "info"));
      else if (error instanceof ApiError && error.unavailable) clear(claimBox, unavailable("Claims"));
      else clear(claimBox, notice(`Could not claim: ${error.message}`, "error"));
    }
  }

  function notes(list) {
    const text = h("textarea", { id: "note-text", rows: 2, maxlength: 2000, placeholder: "Add a note (n)" });
    const items = h("ul", { class: "notes", "data-testid": "notes" }, (list || []).map(noteItem));
    const status = h("p", { hidden: true });
    const add = h("button", { type: "button", id: "add-note" }, "Add note");
    add.addEventListener("click", async () => {
      if (!text.value.trim()) return text.focus();
      try {
        const created = await post(`${path}/notes`, { text: text.value.trim() });
        items.append(noteItem(created));
        text.value = "";
        status.hidden = true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return keyRefused();
        clear(status, error instanceof ApiError && error.unavailable ? unavailable("Notes") : notice(error.message, "error"));
        status.hidden = false;
      }
    });
    clear(notesBox, Array.isArray(list) ? null : unavailable("Earlier notes"), items, h("div", { class: "inline" }, text, add), status);
  }

  function noteItem(n) {
    return h("li", {}, h("span", { class: "meta" }, `${n.by} · ${when(n.at)}`), h("span", {}, n.text));
  }

  function draw(c) {
    const open = (c.state || c.case_status) === "open";
    clear(
      decisionBox,
      open
        ? h("div", { class: "decision" }, h("div", { class: "inline" }, reason, list), note, h("div", { class: "inline" }, approve, reject), decisionError)
        : notice(`Closed: ${c.decision ? `${c.decision.decision} by ${c.decision.by}${c.decision.reason ? ` (${c.decision.reason})` : ""}` : c.state || c.status}.`, "info", { "data-testid": "closed" }),
    );
    notes(c.notes);
    clear(
      root,
      h(
        "article",
        { class: "case", "data-testid": "case", dataset: { order: c.order_id } },
        h("p", {}, h("a", { href: "#/queue" }, "← Queue (Esc)")),
        h("h1", {}, `Order ${c.order_id}`),
        h(
          "dl",
          { class: "facts" },
          [["Customer", c.customer_id], ["Amount", money(c.amount)], ["Cashback held", money(c.cashback_held ?? c.cashback)], ["Score", score(c.score)], ["Model", c.model_version], ["Status", c.state || c.case_status || c.status], ["At", when(c.occurred_at)]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v ?? "—")]),
        ),
        claimBox,
        h("section", {}, h("h2", {}, "Decision"), decisionBox),
        h("div", { class: "columns" },
          h("section", {}, h("h2", {}, "Why it was held"), reasons(c.reasons), h("h2", {}, "Against the storefront's normal"), features(c.features)),
          h("section", {}, h("h2", {}, "Customer"), balance(c.customer), timeline(c.customer), h("h2", {}, "Earlier cases"), earlier(c.cases), h("h2", {}, "Linked accounts"), linked(c.linked)),
        ),
        h("section", {}, h("h2", {}, "Notes"), notesBox),
      ),
    );
    if (open) claim();
    if (action === "a") approve.focus();
    if (action === "r") reason.focus();
    if (action === "n") document.getElementById("note-text")?.focus();
  }

  get(path)
    .then((c) => !stopped && draw(c))
    .catch((error) => {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      clear(root, h("p", {}, h("a", { href: "#/queue" }, "← Queue")), notice(error.status === 404 ? `No case ${orderId}.` : `Could not open ${orderId}: ${error.message}`, "error"));
    });

  return {
    stop() {
      stopped = true;
    },
    onKey(key) {
      if (key === "a") decide("approve");
      else if (key === "r") decide("reject");
      else if (key === "n") document.getElementById("note-text")?.focus();
      else if (key === "Escape") go("#/queue");
      else if (key === "j" || key === "k") return stepCase(key === "j" ? 1 : -1);
      else return false;
      return true;
    },
  };

  function stepCase(step) {
    const at = queue.items.findIndex((item) => item.order_id === orderId);
    const target = queue.items[at + step];
    if (at >= 0 && target) {
      queue.selected = at + step;
      go(`#/case/${encodeURIComponent(target.order_id)}`);
    }
    return true;
  }
}
