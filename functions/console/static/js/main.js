// The console's shell: sign-in, hash routing (#/queue, #/case/<order>, #/lists,
// #/settings, #/team), the navigation and the keyboard shortcuts.

import { ApiError, checkKey, session } from "./api.js";
import { clear, h } from "./dom.js";
import { renderCase } from "./case.js";
import { renderLists } from "./lists.js";
import { renderQueue } from "./queue.js";
import { renderSettings } from "./settings.js";
import { renderTeam } from "./team.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const help = document.getElementById("help");
let current = null; // the page on screen: { onKey?, stop? }
let signInNote = null; // { text, kind } shown once on the sign-in page

const PAGES = {
  queue: renderQueue,
  case: renderCase,
  lists: renderLists,
  settings: renderSettings,
  team: renderTeam,
};

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// Any page that meets a refused key ends the session here.
export function keyRefused() {
  session.signOut();
  signInNote = { text: "The API refused this key (revoked or expired). Sign in again.", kind: "error" };
  go("#/signin");
}

function route() {
  if (current && current.stop) current.stop();
  current = null;
  const [name, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (!session.signedIn() || name === "signin") {
    nav.hidden = true;
    current = renderSignIn(main);
    return;
  }
  nav.hidden = false;
  const page = PAGES[name] ? name : "queue";
  for (const link of nav.querySelectorAll("a")) {
    link.classList.toggle("active", link.dataset.page === (page === "case" ? "queue" : page));
  }
  current = PAGES[page](main, rest.map(decodeURIComponent), { go, keyRefused }) || null;
}

function renderSignIn(root) {
  const input = h("input", {
    type: "password",
    id: "key",
    name: "key",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    placeholder: "cbk_…",
  });
  const message = h("p", { id: "sign-in-message", class: `notice ${signInNote ? signInNote.kind : "error"}`, role: "alert" });
  message.hidden = !signInNote;
  message.textContent = signInNote ? signInNote.text : "";
  signInNote = null;
  const button = h("button", { type: "submit", id: "sign-in" }, "Sign in");
  const form = h(
    "form",
    { class: "card sign-in", method: "post", autocomplete: "off" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Use your review API key. It is kept in this tab only, until you sign out."),
    h("label", { for: "key" }, "Review key"),
    input,
    button,
    message,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    button.disabled = true;
    message.hidden = true;
    try {
      await checkKey(key);
      session.key = key;
      input.value = "";
      go("#/queue");
    } catch (error) {
      message.hidden = false;
      message.className = "notice error";
      message.textContent = signInError(error);
    } finally {
      button.disabled = false;
    }
  });
  clear(root, form);
  input.focus();
  return null;
}

function signInError(error) {
  if (!(error instanceof ApiError)) return "Something went wrong; try again.";
  if (error.status === 401) return "That key was not accepted. Check it and try again.";
  if (error.status === 403) return "That key cannot read the review queue (it needs the review scope).";
  if (error.status === 0) return error.message;
  return `The API answered ${error.status}: ${error.message}`;
}

function typing(event) {
  const el = event.target;
  return el instanceof HTMLElement && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape" && typing(event)) {
    event.target.blur();
    return;
  }
  if (typing(event) || !session.signedIn()) return;
  if (event.key === "?") {
    event.preventDefault();
    if (help.open) help.close();
    else help.showModal();
    return;
  }
  if (current && current.onKey && current.onKey(event.key)) event.preventDefault();
});

document.getElementById("sign-out").addEventListener("click", () => {
  session.signOut();
  signInNote = { text: "Signed out. The key is no longer kept in this tab.", kind: "info" };
  go("#/signin");
});
document.getElementById("help-button").addEventListener("click", () => help.showModal());
window.addEventListener("hashchange", route);
route();
