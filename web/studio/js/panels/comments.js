/**
 * Comments pinned to a moment: a stem (or the whole mix) between two times of a commit, in threads.
 *
 * The list is the API's for the shown commit: its own comments, those of earlier commits whose region is
 * unchanged (moved onto this commit's timeline), and those whose region changed since, marked outdated.
 * A new comment's moment starts at the player's playhead and lasts one bar (two seconds without a tempo).
 */

import { field, h, shortId } from "../dom.js";
import { handleSubmit, numberOr, preciseTime, stemSelect, timeRange, titledForm, usePanelStyles } from "./forms.js";

const PAGE_SIZE = 500;
const WHOLE_MIX = { value: "", label: "Whole mix" };

/** Seconds of one bar of four beats at the commit's tempo (two seconds when it is unknown). */
const barSeconds = (commit) => (commit.bpm ? (4 * 60) / commit.bpm : 2);
const tenth = (seconds) => Math.round(seconds * 10) / 10;

/** Where a comment sits on the shown commit's timeline (its own times when outdated). */
function anchor(comment) {
  const moved = !comment.outdated && comment.shown_end_seconds > 0;
  const start = moved ? comment.shown_start_seconds : comment.start_seconds;
  const end = moved ? comment.shown_end_seconds : comment.end_seconds;
  return { start, end: Math.max(start, end) };
}

function commentItem(comment) {
  const when = comment.create_time ? new Date(comment.create_time).toLocaleString() : "";
  return h("li", { class: "comment", "data-comment": comment.comment_id }, [
    h("p", { class: "muted" },
      `${comment.author_username || "someone"} · ${when}${comment.edited ? " · edited" : ""}`),
    h("p", { class: "comment-body" }, comment.deleted ? "(deleted)" : comment.body),
  ]);
}

/** A thread: its moment (playable), the first comment and the replies, and a reply form. */
function threadItem(thread, replies, ctx, reload) {
  const { start, end } = anchor(thread);
  const earlier = thread.commit_id !== ctx.commit.commit_id;
  const seek = h("button", { type: "button", class: "moment" },
    `${thread.stem || "whole mix"} · ${end > start ? timeRange(start, end) : preciseTime(start)}`);
  seek.addEventListener("click", () => {
    ctx.player.seek(start);
    ctx.player.play();
  });
  const reply = titledForm(`reply-${thread.comment_id}`, "Reply", [
    field("Your reply", { tag: "textarea", name: "body", required: true, maxlength: 2000, rows: 1 }),
    h("button", { type: "submit" }, "Reply"),
  ]);
  reply.classList.add("reply");
  handleSubmit(reply, async (values) => {
    await ctx.api.post(`/api/vcs/repos/${ctx.repo.repo_id}/commits/${ctx.commit.commit_id}/comments`, {
      body: values.body,
      parent_id: thread.comment_id,
    });
    await reload();
  });
  return h("li", { class: `thread${thread.outdated ? " outdated" : ""}`, "data-thread": thread.comment_id }, [
    h("p", {}, [
      seek,
      thread.outdated ? h("span", { class: "badge warning" }, "outdated: this moment changed since") : null,
      earlier ? h("span", { class: "badge" }, `from ${shortId(thread.commit_id)}`) : null,
    ]),
    h("ol", { class: "comments" }, [thread, ...replies].map(commentItem)),
    ctx.api.session() ? reply : null,
  ]);
}

/** Fetches and shows the threads. */
async function showThreads(list, ctx, reload) {
  const { comments } = await ctx.api.get(
    `/api/vcs/repos/${ctx.repo.repo_id}/commits/${ctx.commit.commit_id}/comments`, { page_size: PAGE_SIZE });
  const threads = comments.filter((comment) => !comment.parent_id);
  const replies = (thread) => comments.filter((comment) => comment.parent_id === thread.comment_id);
  list.replaceChildren(
    ...(threads.length
      ? threads.map((thread) => threadItem(thread, replies(thread), ctx, reload))
      : [h("li", { class: "muted" }, "No comments yet.")]),
  );
}

/** The form for a new comment; its moment is set from the playhead. */
function newCommentForm(ctx, reload) {
  const start = field("From (seconds)", { name: "start", type: "number", min: 0, step: 0.1, required: true });
  const end = field("To (seconds)", { name: "end", type: "number", min: 0, step: 0.1 }, "Empty or equal: a moment");
  const fromPlayhead = () => {
    const at = tenth(ctx.player.audio.currentTime || 0);
    /** @type {HTMLInputElement} */ (start.querySelector("input")).value = String(at);
    /** @type {HTMLInputElement} */ (end.querySelector("input")).value = String(tenth(at + barSeconds(ctx.commit)));
  };
  const useHead = h("button", { type: "button" }, "Set from the playhead");
  useHead.addEventListener("click", fromPlayhead);
  const form = titledForm("comment-new", "Comment on a moment", [
    stemSelect("Stem", ctx.commit, { name: "stem" }, [WHOLE_MIX]),
    h("div", { class: "field-grid" }, [start, end]),
    useHead,
    field("Comment", { tag: "textarea", name: "body", required: true, maxlength: 2000, rows: 3 }),
    h("button", { type: "submit" }, "Comment"),
  ]);
  fromPlayhead();
  handleSubmit(form, async (values) => {
    const from = numberOr(values.start, 0);
    await ctx.api.post(`/api/vcs/repos/${ctx.repo.repo_id}/commits/${ctx.commit.commit_id}/comments`, {
      body: values.body,
      stem: values.stem,
      start_seconds: from,
      end_seconds: Math.max(from, numberOr(values.end, from)),
    });
    /** @type {HTMLTextAreaElement} */ (form.querySelector("textarea")).value = "";
    await reload();
    return "Comment added";
  });
  return form;
}

/**
 * @param {HTMLElement} el
 * @param {import("../views/repo.js").PanelContext} ctx
 */
export async function mountComments(el, ctx) {
  usePanelStyles();
  const heading = h("h2", {}, "Comments");
  if (!ctx.commit) {
    el.replaceChildren(heading, h("p", { class: "muted" }, "Comments pin to moments of a commit."));
    return;
  }
  const list = h("ol", { class: "threads", "aria-label": "Comment threads" });
  const reload = () => showThreads(list, ctx, reload);
  el.replaceChildren(heading, list);
  if (ctx.api.session()) el.append(newCommentForm(ctx, reload));
  await reload();
}
