/**
 * The musical diff of two commits (default: the shown commit's parent against it): tempo and key changes,
 * stems added and removed, and for each changed stem the API's picture of both waveforms with the changed
 * ranges highlighted, each range's loudness change, and both versions playable over the range.
 */

import { field, h, shortId } from "../dom.js";
import { clipButton } from "./clip.js";
import { handleSubmit, timeRange, titledForm, usePanelStyles } from "./forms.js";

const HISTORY_PAGE = 200;
const PICTURE = { width: 960, height: 240 };
const KINDS = { RANGE_KIND_MODIFIED: "changed", RANGE_KIND_INSERTED: "inserted", RANGE_KIND_DELETED: "deleted" };
const CHANGES = { CHANGE_TYPE_ADDED: "added", CHANGE_TYPE_REMOVED: "removed", CHANGE_TYPE_MODIFIED: "changed" };
// Metadata changes shown (generation_params are the engine's provenance, not music).
const FIELDS = { bpm: "Tempo (BPM)", key_signature: "Key" };

/** "+3.0 dB", "-20.0 dB" */
const decibels = (db) => `${db > 0 ? "+" : ""}${db.toFixed(1)} dB`;

/** One changed range: where, what, how much louder or quieter, and both versions over it. */
function rangeItem(api, change, range) {
  const kind = KINDS[range.kind] || "changed";
  const before = range.base_end_seconds > range.base_start_seconds;
  const after = range.head_end_seconds > range.head_start_seconds;
  const where = after ? timeRange(range.head_start_seconds, range.head_end_seconds)
    : timeRange(range.base_start_seconds, range.base_end_seconds);
  return h("li", { class: "diff-range", "data-kind": kind }, [
    h("span", {}, `${where} ${kind}`),
    before && after ? h("span", { class: "loudness" }, ` · ${decibels(range.loudness_change_db)}`) : null,
    h("span", { class: "clips" }, [
      before ? clipButton(api, "before", `/api/audio/download/${change.old_blob_id}`, range.base_start_seconds,
        range.base_end_seconds) : null,
      after ? clipButton(api, "after", `/api/audio/download/${change.new_blob_id}`, range.head_start_seconds,
        range.head_end_seconds) : null,
    ]),
  ]);
}

/** The diff picture of one stem, fetched with the token; its alt text lists the ranges. */
function picture(ctx, diff, change) {
  const ranges = change.ranges.map((range) => timeRange(range.head_start_seconds, range.head_end_seconds));
  const image = /** @type {HTMLImageElement} */ (h("img", {
    class: "diff-picture",
    alt: `Waveforms of ${change.name} before and after; changed: ${ranges.join(", ") || "no range"}`,
    width: PICTURE.width,
    height: PICTURE.height,
  }));
  const query = { base: diff.base_commit_id, head: diff.head_commit_id, stem: change.name, ...PICTURE };
  ctx.api
    .blob(ctx.api.url(`/api/vcs/repos/${ctx.repo.repo_id}/diff/picture`, query))
    .then((png) => (image.src = URL.createObjectURL(png)))
    .catch((error) => image.replaceWith(h("p", { class: "error" }, `No picture: ${error.message}`)));
  return image;
}

/** One stem's change. */
function stemItem(ctx, diff, change) {
  const what = CHANGES[change.change] || "changed";
  const children = [h("h4", {}, `${change.name}: ${what}`)];
  if (change.change === "CHANGE_TYPE_MODIFIED") {
    if (!change.audio_compared) children.push(h("p", { class: "muted" }, "Too long to compare by time range."));
    else if (!change.ranges.length) children.push(h("p", { class: "muted" }, "Same audio, stored differently."));
    else {
      children.push(picture(ctx, diff, change));
      children.push(h("ul", { class: "diff-ranges" }, change.ranges.map((range) => rangeItem(ctx.api, change, range))));
    }
  }
  return h("li", { class: "diff-stem", "data-stem": change.name, "data-change": what }, children);
}

/** The whole diff. */
function diffView(ctx, diff) {
  const metadata = diff.metadata_changes.filter((change) => change.field in FIELDS);
  return h("div", { class: "diff-result", "aria-live": "polite" }, [
    h("p", {}, `From ${shortId(diff.base_commit_id)} to ${shortId(diff.head_commit_id)}`),
    metadata.length
      ? h("ul", { class: "diff-metadata" }, metadata.map((change) =>
          h("li", {}, `${FIELDS[change.field]}: ${change.old_value || "unknown"} → ${change.new_value || "unknown"}`),
        ))
      : h("p", { class: "muted" }, "Same tempo and key."),
    diff.stem_changes.length
      ? h("ul", { class: "diff-stems" }, diff.stem_changes.map((change) => stemItem(ctx, diff, change)))
      : h("p", { class: "muted" }, "No stem changed."),
  ]);
}

/** @param {string} label @param {string} name @param {object[]} commits @param {string} selected */
function commitSelect(label, name, commits, selected) {
  const options = commits.map((commit) => ({
    value: commit.commit_id,
    label: `${shortId(commit.commit_id)} · ${commit.message}`,
  }));
  const control = field(label, { tag: "select", name, options, required: true });
  /** @type {HTMLSelectElement} */ (control.querySelector("select")).value = selected;
  return control;
}

/**
 * @param {HTMLElement} el
 * @param {import("../views/repo.js").PanelContext} ctx
 */
export async function mountDiff(el, ctx) {
  usePanelStyles();
  const heading = h("h2", {}, "Musical diff");
  const history = await ctx.api.get(`/api/vcs/history/${ctx.repo.repo_id}`, { page_size: HISTORY_PAGE });
  const commits = history.nodes.map((node) => node.commit);
  if (!ctx.commit || commits.length < 2) {
    el.replaceChildren(heading, h("p", { class: "muted" }, "Two commits are needed to compare."));
    return;
  }
  const head = ctx.commit.commit_id;
  const base = ctx.commit.parent_ids[0] || commits.find((commit) => commit.commit_id !== head).commit_id;
  const result = h("div", {});
  const form = titledForm("diff-pick", "Compare two commits", [
    commitSelect("Before", "base", commits, base),
    commitSelect("After", "head", commits, head),
    h("button", { type: "submit" }, "Compare"),
  ]);
  handleSubmit(form, async (values) => {
    const diff = await ctx.api.get(`/api/vcs/repos/${ctx.repo.repo_id}/diff`, { base: values.base, head: values.head });
    result.replaceChildren(diffView(ctx, diff));
    const changed = diff.stem_changes.length;
    return `${changed} stem${changed === 1 ? "" : "s"} changed`;
  });
  el.replaceChildren(heading, form, result);
}
