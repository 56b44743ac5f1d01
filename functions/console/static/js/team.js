// The team: queue size and age, decisions per analyst, approval rate (GET /v1/review-stats).

import { ApiError, get } from "./api.js";
import { age, bar, clear, h, notice, table, unavailable } from "./dom.js";
import { REFRESH_MS } from "./queue.js";

export function renderTeam(root, _params, { keyRefused }) {
  let timer = null;
  let stopped = false;
  const body = h("div", {}, notice("Loading…"));
  clear(root, h("section", { class: "team" }, h("h1", {}, "Team"), body));

  function draw(s) {
    const most = Math.max(1, ...s.by_analyst.map((a) => a.approved + a.rejected));
    const rate = s.approval_rate === null ? "—" : `${(Number(s.approval_rate) * 100).toFixed(1)}%`;
    clear(
      body,
      h(
        "div",
        { class: "counts", "data-testid": "team-counts" },
        [["Open", s.open, "team-open"], ["Claimed", s.claimed, "team-claimed"], ["Oldest open", age(s.oldest_age_seconds), "team-oldest"], [`Decided (${s.days}d)`, s.decided, "team-decided"], ["Approval rate", rate, "team-approval-rate"]].map(([label, value, id]) =>
          h("div", { class: "count" }, h("span", { class: "value", "data-testid": id }, value ?? "—"), h("span", { class: "label" }, label)),
        ),
      ),
      h("h2", {}, "Decisions per analyst"),
      s.by_analyst.length
        ? table(
            ["Analyst", "Approved", "Rejected", ""],
            s.by_analyst.map((a) => h("tr", {}, h("td", {}, a.analyst), h("td", { class: "num" }, a.approved), h("td", { class: "num" }, a.rejected), h("td", {}, bar(((a.approved + a.rejected) * 100) / most, "decisions")))),
            { "data-testid": "by-analyst" },
          )
        : notice("No decisions yet."),
    );
  }

  async function refresh() {
    try {
      const stats = await get("/v1/review-stats");
      if (!stopped) draw(stats);
    } catch (error) {
      if (stopped) return;
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      // An older API without the stats route answers 403 (not allowed) or 404.
      if (error instanceof ApiError && (error.unavailable || error.status === 404 || error.status === 422)) clear(body, unavailable("Team statistics"));
      else clear(body, notice(`Could not load the statistics: ${error.message}`, "error"));
    }
    if (!stopped) timer = setTimeout(refresh, REFRESH_MS);
  }

  refresh();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
