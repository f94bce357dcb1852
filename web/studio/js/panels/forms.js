/** What the panels' forms share: their stylesheet, a submit handler that reports its outcome, stem pickers, times. */

import { field, h } from "../dom.js";

const STYLESHEET = "/studio/js/panels/panels.css";

/** Adds the panels' stylesheet to the page once. */
export function usePanelStyles() {
  if (document.querySelector(`link[href="${STYLESHEET}"]`)) return;
  document.head.append(h("link", { rel: "stylesheet", href: STYLESHEET }));
}

/**
 * A form whose submit runs `action` with its values: the submit button is disabled meanwhile, and the
 * form's status line (role=status, so screen readers hear it) says what happened or what failed.
 * @param {HTMLFormElement} form
 * @param {(values: Record<string, FormDataEntryValue>, say: (message: string) => void) => Promise<string|void>} action
 *   resolves with a message to show (or nothing)
 */
export function handleSubmit(form, action) {
  const status = h("p", { class: "form-status", role: "status" });
  form.append(status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const buttons = [...form.querySelectorAll("button[type=submit]")];
    buttons.forEach((button) => (button.disabled = true));
    status.classList.remove("error");
    const say = (message) => (status.textContent = message);
    say("Working…");
    try {
      say((await action(Object.fromEntries(new FormData(form)), say)) || "");
    } catch (error) {
      status.classList.add("error");
      say(error.message);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
    }
  });
  return status;
}

/**
 * A select of the commit's stems.
 * @param {string} label
 * @param {{stems?: Array<{name: string}>}} commit
 * @param {Record<string, unknown>} [attributes]
 * @param {Array<{value: string, label: string}>} [extra] options before the stems
 */
export function stemSelect(label, commit, attributes = {}, extra = []) {
  const stems = (commit?.stems || []).map((stem) => ({ value: stem.name, label: stem.name }));
  return field(label, { tag: "select", options: [...extra, ...stems], ...attributes });
}

/**
 * Moves the view to a commit the form made, unless the form has left the page meanwhile (a job that ends after
 * the musician moved on does not pull them back).
 * @param {import("../views/repo.js").PanelContext} ctx
 * @param {string} commitId
 * @param {HTMLFormElement} form
 */
export function showCommit(ctx, commitId, form) {
  if (form.isConnected) ctx.navigate(`#/repo/${ctx.repo.repo_id}/commit/${commitId}`);
}

/** A form with a heading that labels it. */
export function titledForm(id, title, children) {
  return /** @type {HTMLFormElement} */ (
    h("form", { class: "card", "aria-labelledby": id }, [h("h3", { id }, title), ...children])
  );
}

/** The number in a form value, or `fallback` when it is empty. */
export const numberOr = (value, fallback) => (value === "" || value === undefined ? fallback : Number(value));

/** "0:02.4": seconds as minutes and seconds to a tenth, for ranges shorter than a second or two. */
export function preciseTime(seconds) {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const minutes = Math.floor(tenths / 600);
  return `${minutes}:${String(((tenths % 600) / 10).toFixed(1)).padStart(4, "0")}`;
}

/** "0:02.4–0:04.8" */
export const timeRange = (start, end) => `${preciseTime(start)}–${preciseTime(end)}`;
