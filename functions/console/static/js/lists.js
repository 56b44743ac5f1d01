// Allow, deny and watch lists: the entries, add (reason, optional expiry), remove, audit.

import { ApiError, del, get, put, segment } from "./api.js";
import { clear, h, notice, table, toast, unavailable, when } from "./dom.js";

const KINDS = ["allow_customer", "deny_customer", "deny_device", "deny_payment", "watch_customer"];

export function renderLists(root, _params, { keyRefused }) {
  const entries = h("div", {}, notice("Loading the lists…"));
  const audit = h("div", {});
  const kindFilter = h("select", { id: "list-filter", onchange: () => load() }, h("option", { value: "" }, "all kinds"), KINDS.map((k) => h("option", { value: k }, k)));
  const kind = h("select", { id: "list-kind" }, KINDS.map((k) => h("option", { value: k }, k)));
  const value = h("input", { id: "list-value", placeholder: "customer, device or payment id", required: true });
  const reason = h("input", { id: "list-reason", placeholder: "reason", required: true, maxlength: 500 });
  const expires = h("input", { id: "list-expires", type: "datetime-local", title: "optional expiry (UTC)" });
  const formError = h("p", { class: "notice error", role: "alert", hidden: true });
  const form = h(
    "form",
    { class: "inline card", id: "list-add" },
    kind,
    value,
    reason,
    h("label", {}, "expires (UTC) ", expires),
    h("button", { type: "submit" }, "Add"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: reason.value.trim() };
    if (expires.value) body.expires_at = `${expires.value.length === 16 ? `${expires.value}:00` : expires.value}Z`;
    formError.hidden = true;
    try {
      await put(`/v1/lists/${segment(kind.value)}/${segment(value.value.trim())}`, body);
      toast(`Added ${value.value.trim()} to ${kind.value}`, "ok");
      value.value = reason.value = expires.value = "";
      load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      formError.hidden = false;
      formError.textContent = error instanceof ApiError && error.unavailable ? "Lists are not available on this API yet." : `Not added: ${error.message}`;
    }
  });

  async function remove(entry) {
    try {
      await del(`/v1/lists/${segment(entry.kind)}/${segment(entry.value)}`);
      toast(`Removed ${entry.value} from ${entry.kind}`, "ok");
      load();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      toast(`Not removed: ${error.message}`, "error");
    }
  }

  async function load() {
    try {
      const page = await get("/v1/lists", { kind: kindFilter.value, limit: 100 });
      const rows = (page.items || []).map((e) =>
        h(
          "tr",
          { dataset: { kind: e.kind, value: e.value } },
          h("td", {}, e.kind),
          h("td", {}, e.value),
          h("td", {}, e.reason),
          h("td", {}, e.by),
          h("td", {}, when(e.at)),
          h("td", {}, e.expires_at ? when(e.expires_at) : "never"),
          h("td", {}, h("button", { type: "button", class: "link remove", onclick: () => remove(e) }, "Remove")),
        ),
      );
      clear(entries, rows.length ? table(["Kind", "Value", "Reason", "By", "When", "Expires", ""], rows, { "data-testid": "list-entries" }) : notice("No entries.", "info", { "data-testid": "list-empty" }));
      loadAudit();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return keyRefused();
      clear(entries, error instanceof ApiError && error.unavailable ? unavailable("Lists") : notice(`Could not load the lists: ${error.message}`, "error"));
    }
  }

  async function loadAudit() {
    try {
      const page = await get("/v1/lists/audit", { limit: 50 });
      const rows = (page.items || []).map((a) => h("tr", {}, h("td", {}, when(a.at)), h("td", {}, a.action), h("td", {}, a.kind), h("td", {}, a.value), h("td", {}, a.reason || ""), h("td", {}, a.by)));
      clear(audit, table(["When", "Action", "Kind", "Value", "Reason", "By"], rows, { "data-testid": "list-audit" }));
    } catch (error) {
      clear(audit, error instanceof ApiError && error.unavailable ? unavailable("The lists' audit") : notice(error.message, "error"));
    }
  }

  clear(
    root,
    h("section", { class: "lists" }, h("h1", {}, "Lists"), h("p", {}, "Changes take effect on the next purchase and are audited."), form, formError, h("div", { class: "toolbar" }, h("label", {}, "Show ", kindFilter)), entries, h("h2", {}, "Audit"), audit),
  );
  load();
  return null;
}
