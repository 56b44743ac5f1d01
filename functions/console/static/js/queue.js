// The queue: cases by status and sort, live counts, claimed-by, j/k/a/r/n, cursor paging.

import { ApiError, get } from "./api.js";
import { age, bar, clear, h, money, notice, score, secondsSince, unavailable } from "./dom.js";

export const REFRESH_MS = 5000;
const PAGE_SIZE = 25;

// Kept across pages so the case view knows the order of the queue it came from.
export const queue = {
  status: "open",
  sort: "risk",
  cursors: [null], // the cursor of each page seen; the last one is on screen
  items: [],
  nextCursor: null,
  selected: 0,
  countedOpen: null, // open cases counted from the list when stats are not served
};

export async function loadPage() {
  const page = await get("/v1/reviews", {
    status: queue.status,
    sort: queue.sort,
    limit: PAGE_SIZE,
    cursor: queue.cursors[queue.cursors.length - 1],
  });
  queue.items = page.items || [];
  queue.nextCursor = page.next_cursor || null;
  if (queue.status === "open" && queue.cursors.length === 1) {
    queue.countedOpen = { count: queue.items.length, more: Boolean(queue.nextCursor) };
  }
  return queue.items;
}

export async function loadStats() {
  try {
    return await get("/v1/review-stats");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    return null; // not served yet: the page counts from the list instead
  }
}

function ageOf(item) {
  return item.age_seconds ?? secondsSince(item.occurred_at);
}

function claimedBy(item) {
  return item.claim ? `${item.claim.by}` : "—";
}

function counts(stats) {
  const cells = [];
  if (stats) {
    cells.push(["Open", stats.open, "open-count"]);
    cells.push(["Claimed", stats.claimed, "claimed-count"]);
    cells.push(["Oldest", age(stats.oldest_age_seconds), "oldest-age"]);
    cells.push([`Decided (${stats.days}d)`, stats.decided, "decided-count"]);
  } else if (queue.countedOpen) {
    const { count, more } = queue.countedOpen;
    cells.push(["Open", `${count}${more ? "+" : ""}`, "open-count"]);
  }
  const live = h("span", { class: "live", title: `refreshed every ${REFRESH_MS / 1000}s` }, "live");
  return h(
    "div",
    { class: "counts", "data-testid": "counts" },
    cells.map(([label, value, id]) =>
      h("div", { class: "count" }, h("span", { class: "value", "data-testid": id }, value ?? "—"), h("span", { class: "label" }, label)),
    ),
    live,
    stats ? null : h("span", { class: "hint" }, "(counted from the queue: queue stats not served yet)"),
  );
}

function row(item, index, open) {
  const tr = h(
    "tr",
    {
      class: index === queue.selected ? "selected" : "",
      "aria-selected": String(index === queue.selected),
      dataset: { order: item.order_id },
      onclick: () => open(item.order_id),
    },
    h("td", {}, h("a", { href: `#/case/${encodeURIComponent(item.order_id)}` }, item.order_id)),
    h("td", {}, item.customer_id),
    h("td", { class: "num" }, money(item.amount)),
    h("td", { class: "num" }, money(item.cashback_held ?? item.cashback)),
    h("td", {}, riskCell(item)),
    h("td", { class: "reason" }, (item.reasons || [])[0] || "—"),
    h("td", { class: "num" }, age(ageOf(item))),
    h("td", { "data-testid": "claimed-by" }, claimedBy(item)),
  );
  return tr;
}

// The risk order sorts by priority: the case's score, or the riskier score of its
// customer's later purchase it rose to (shown as "own -> raised").
function riskCell(item) {
  const sortedBy = item.priority ?? item.score ?? 0;
  const text = item.priority_from ? `${score(item.score)} → ${score(item.priority)}` : score(item.score);
  const title = item.priority_from ? `raised by ${item.priority_from}` : `score ${score(item.score)}`;
  return h("span", { class: "score", title, "data-testid": "risk" }, bar(sortedBy * 100, title, "risk"), text);
}

function select(label, id, value, options, onchange) {
  return h(
    "label",
    { class: "field" },
    `${label} `,
    h("select", { id, onchange: (e) => onchange(e.target.value) }, options.map((o) => h("option", { value: o, selected: o === value }, o))),
  );
}

export function renderQueue(root, _params, { go, keyRefused }) {
  let timer = null;
  let stopped = false;
  const body = h("div", { class: "queue-body" }, notice("Loading the queue…"));
  const countsBox = h("div", {});
  const open = (orderId) => go(`#/case/${encodeURIComponent(orderId)}`);

  const restart = () => {
    queue.cursors = [null];
    queue.selected = 0;
    refresh(true);
  };
  const toolbar = h(
    "div",
    { class: "toolbar" },
    select("Status", "status-filter", queue.status, ["open", "approved", "rejected", "refunded"], (v) => {
      queue.status = v;
      restart();
    }),
    select("Sort", "sort-by", queue.sort, ["risk", "age", "amount"], (v) => {
      queue.sort = v;
      restart();
    }),
  );
  clear(root, h("section", { class: "queue" }, h("h1", {}, "Review queue"), countsBox, toolbar, body));

  function draw() {
    if (!queue.items.length) {
      clear(body, notice(queue.status === "open" ? "The queue is empty. Nothing waits for a decision." : `No ${queue.status} cases.`, "info", { "data-testid": "empty" }));
      return;
    }
    queue.selected = Math.min(queue.selected, queue.items.length - 1);
    const rows = queue.items.map((item, i) => row(item, i, open));
    const pager = h(
      "div",
      { class: "pager" },
      h("button", { type: "button", id: "page-prev", disabled: queue.cursors.length < 2, onclick: () => page(-1) }, "← Newer page"),
      h("span", {}, `page ${queue.cursors.length}`),
      h("button", { type: "button", id: "page-next", disabled: !queue.nextCursor, onclick: () => page(1) }, "Next page →"),
    );
    clear(
      body,
      h(
        "table",
        { class: "cases", "data-testid": "queue" },
        h("thead", {}, h("tr", {}, ["Order", "Customer", "Amount", "Cashback held", "Score", "Top reason", "Age", "Claimed by"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows),
      ),
      pager,
    );
  }

  function page(step) {
    if (step > 0 && queue.nextCursor) queue.cursors.push(queue.nextCursor);
    if (step < 0 && queue.cursors.length > 1) queue.cursors.pop();
    queue.selected = 0;
    refresh(true);
  }

  async function refresh(loud) {
    const keep = queue.items[queue.selected]?.order_id;
    try {
      const [stats] = await Promise.all([loadStats(), loadPage()]);
      if (stopped) return;
      const at = queue.items.findIndex((item) => item.order_id === keep);
      if (at >= 0) queue.selected = at;
      clear(countsBox, counts(stats));
      draw();
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      if (error instanceof ApiError && (error.unavailable || error.status === 422) && queue.status !== "open") {
        clear(body, unavailable(`Cases with status ${queue.status}`));
      } else if (loud || !queue.items.length) {
        clear(body, notice(`Could not load the queue: ${error.message}`, "error"));
      }
    }
    if (!stopped) {
      clearTimeout(timer);
      timer = setTimeout(() => refresh(false), REFRESH_MS);
    }
  }

  function move(step) {
    if (!queue.items.length) return;
    queue.selected = Math.max(0, Math.min(queue.items.length - 1, queue.selected + step));
    draw();
    body.querySelector("tr.selected")?.scrollIntoView({ block: "nearest" });
  }

  refresh(true);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
    onKey(key) {
      const item = queue.items[queue.selected];
      if (key === "j") move(1);
      else if (key === "k") move(-1);
      else if ((key === "Enter" || key === "o") && item) open(item.order_id);
      else if ((key === "a" || key === "r" || key === "n") && item) go(`#/case/${encodeURIComponent(item.order_id)}/${key}`);
      else return false;
      return true;
    },
  };
}

// The case to open after a decision on `orderId`: the next one of the queue it came from
// that is still open, else the first open one; null when the queue is empty.
export async function nextAfter(orderId) {
  const before = queue.items.map((item) => item.order_id);
  // Decisions are made on open cases: the queue to go on with is the open one.
  queue.status = "open";
  queue.cursors = [null];
  await loadPage();
  const open = new Set(queue.items.map((item) => item.order_id));
  open.delete(orderId);
  const index = before.indexOf(orderId);
  const later = before.slice(index + 1).find((id) => open.has(id));
  const next = later || queue.items.find((item) => item.order_id !== orderId)?.order_id || null;
  queue.selected = Math.max(0, queue.items.findIndex((item) => item.order_id === next));
  return next;
}
