/**
 * The studio's shell: a hash router over the views, the account bar and one status line.
 *
 * Routes: #/signin, #/repos, #/repo/{id}, #/repo/{id}/commit/{commitId}. Signed-out visitors go to
 * #/signin except for a repository view (public repositories are readable without a token).
 */

import * as api from "./api.js";
import { h } from "./dom.js";
import { renderRepo } from "./views/repo.js";
import { renderRepos } from "./views/repos.js";
import { renderSignIn } from "./views/signin.js";

const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const account = /** @type {HTMLElement} */ (document.getElementById("account"));
const statusLine = /** @type {HTMLElement} */ (document.getElementById("status"));

/** Views clean up (stop audio, close sockets) through the function they return. */
/** @type {(() => void) | void} */
let leaveView;
/** Counts navigations, so that a view that finishes loading after the next navigation is dropped. */
let turn = 0;

/** @param {string} hash e.g. "#/repos" */
function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** Shows a message in the page's live region (read out by screen readers). */
function announce(message, isError = false) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

function renderAccount() {
  const current = api.session();
  if (!current) {
    account.replaceChildren(location.hash.startsWith("#/signin") ? "" : h("a", { href: "#/signin" }, "Sign in"));
    return;
  }
  const signOut = h("button", { type: "button" }, "Sign out");
  // Signing out ends the session even when the server cannot be told; onSignedOut then leads to #/signin.
  signOut.addEventListener("click", () => api.signOut().catch(() => {}));
  account.replaceChildren(h("span", {}, current.user.username), signOut);
}

/** @returns {{view: string, repoId?: string, commitId?: string}} */
function parse(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "repo" && parts[1]) return { view: "repo", repoId: parts[1], commitId: parts[3] };
  if (parts[0] === "signin") return { view: "signin" };
  return { view: "repos" };
}

async function route() {
  if (typeof leaveView === "function") leaveView();
  leaveView = undefined;
  const mine = ++turn;
  const hash = location.hash;
  const place = parse(hash);
  if (place.view !== "repo" && place.view !== "signin" && !api.session()) {
    navigate("#/signin");
    return;
  }
  renderAccount();
  announce("");
  const context = { navigate, announce };
  // Views render into a detached element, shown only if no other navigation happened meanwhile.
  const view = h("div", { class: "view" });
  // Until the new view replaces it, the old one stays on screen: say so to assistive technology (and tests).
  main.setAttribute("aria-busy", "true");
  let leave;
  try {
    if (place.view === "signin") leave = renderSignIn(view, context);
    else if (place.view === "repos") leave = await renderRepos(view, context);
    else leave = await renderRepo(view, { ...context, repoId: place.repoId, commitId: place.commitId });
  } catch (error) {
    if (mine === turn) announce(error.message, true);
  }
  if (mine !== turn) {
    if (typeof leave === "function") leave();
    return;
  }
  leaveView = leave;
  main.replaceChildren(view);
  main.dataset.shows = hash;
  main.removeAttribute("aria-busy");
  document.title = `${main.querySelector("h1")?.textContent || "BeatFlow"} · BeatFlow Studio`;
  /** @type {HTMLElement} */ (main.querySelector("[autofocus]") || main).focus({ preventScroll: true });
}

api.onSignedOut(() => navigate("#/signin"));
window.addEventListener("hashchange", route);
route();
