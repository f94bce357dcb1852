/**
 * Change: commit a new take of one stem, start a branch, fork the repository, and merge a branch (of this
 * repository, its origin or one of your forks of it) into the current branch, resolving conflicts by
 * (stem, time range).
 */

import { field, h, shortId } from "../dom.js";
import { conflictView } from "./conflicts.js";
import { handleSubmit, showCommit, titledForm, usePanelStyles } from "./forms.js";

const REF_NAME_PATTERN = "[A-Za-z0-9_][A-Za-z0-9_\\-]*([.\\/][A-Za-z0-9_\\-]+)*";

function takeForm(ctx) {
  const stems = (ctx.commit?.stems || []).map((stem) => stem.name);
  const form = titledForm("change-take", `Commit a new take on ${ctx.branch}`, [
    h("datalist", { id: "change-stems" }, stems.map((name) => h("option", { value: name }))),
    field("Stem", { name: "stem", list: "change-stems", value: stems[0] || "", required: true,
      pattern: "[a-z0-9][a-z0-9_\\-]{0,63}" }, "A stem of this commit to replace, or a new stem's name"),
    field("Take", { type: "file", name: "take", accept: "audio/*", required: true }, "WAV, FLAC, OGG or MP3"),
    field("Message", { name: "message", required: true, maxlength: 500, placeholder: "New bass in bars 2-3" }),
    h("button", { type: "submit" }, "Commit the take"),
  ]);
  handleSubmit(form, async (values, say) => {
    say("Uploading the take…");
    const body = new FormData();
    body.append("file", /** @type {File} */ (values.take));
    const take = await ctx.api.upload("/api/audio/upload", body);
    // An edit of the commit shown: only this stem is named; a 409 says when the branch has moved on.
    const commit = await ctx.api.post(`/api/vcs/commit/${ctx.repo.repo_id}`, {
      message: values.message,
      branch: ctx.branch,
      parent_commit_id: ctx.commit?.commit_id || "",
      stems: [{ name: values.stem, blob_id: take.blob_id }],
    });
    showCommit(ctx, commit.commit_id, form);
    return `Committed ${shortId(commit.commit_id)} on ${ctx.branch}`;
  });
  return form;
}

function branchForm(ctx) {
  const form = titledForm("change-branch", "Start a branch here", [
    field("Branch name", { name: "name", required: true, maxlength: 100, pattern: REF_NAME_PATTERN,
      placeholder: "idea/quiet-bass" }, "Letters, digits, '-' and '_', segments joined by '/' or '.'"),
    h("button", { type: "submit" }, "Create branch"),
  ]);
  handleSubmit(form, async (values) => {
    const branch = await ctx.api.post(`/api/vcs/repos/${ctx.repo.repo_id}/branches`, {
      name: values.name,
      start_point: ctx.commit?.commit_id || "",
    });
    await ctx.refresh();
    return `Branch ${branch.name} starts at ${shortId(branch.commit_id)}: pick it in the Branch menu to work on it`;
  });
  return form;
}

function forkForm(ctx) {
  const form = titledForm("change-fork", "Fork this repository", [
    field("Fork name", { name: "fork_name", maxlength: 100, value: `${ctx.repo.name} remix` },
      "Your copy shares this history; merge back from it later"),
    h("button", { type: "submit" }, "Fork"),
  ]);
  handleSubmit(form, async (values) => {
    const fork = await ctx.api.post("/api/vcs/fork", {
      original_repo_id: ctx.repo.repo_id,
      fork_name: values.fork_name,
    });
    ctx.navigate(`#/repo/${fork.repo_id}`);
    return `Forked as ${fork.owner_username}/${fork.name}`;
  });
  return form;
}

/** Repositories a merge may come from: this one, its origin, and the signed-in user's forks of it. */
async function mergeSources(ctx) {
  const sources = [{ value: ctx.repo.repo_id, label: "this repository" }];
  const origin = ctx.repo.forked_from;
  if (origin?.repo_id) {
    sources.push({ value: origin.repo_id, label: `${origin.owner_username}/${origin.repo_name} (origin)` });
  }
  const { repositories } = await ctx.api.get("/api/repositories", { page_size: 1000 });
  for (const repo of repositories) {
    if (repo.forked_from?.repo_id === ctx.repo.repo_id) {
      sources.push({ value: repo.repo_id, label: `${repo.owner_username}/${repo.name} (fork)` });
    }
  }
  return sources;
}

async function mergeForm(ctx) {
  const sources = await mergeSources(ctx);
  const repoField = field("From repository", { tag: "select", name: "source_repo_id", options: sources });
  const branchField = field("Branch to merge", { tag: "select", name: "source", required: true });
  const repoSelect = /** @type {HTMLSelectElement} */ (repoField.querySelector("select"));
  const branchSelect = /** @type {HTMLSelectElement} */ (branchField.querySelector("select"));
  const conflicts = h("div", { class: "merge-conflicts" });
  /** @type {ReturnType<typeof conflictView> | null} */
  let pending = null;

  async function listBranches() {
    const { branches } = await ctx.api.get(`/api/vcs/repos/${repoSelect.value}/branches`);
    const here = repoSelect.value === ctx.repo.repo_id;
    const names = branches.map((branch) => branch.name).filter((name) => !here || name !== ctx.branch);
    branchSelect.replaceChildren(...names.map((name) => h("option", { value: name }, name)));
  }
  repoSelect.addEventListener("change", () => listBranches());
  await listBranches();

  const submit = h("button", { type: "submit" }, `Merge into ${ctx.branch}`);
  const form = titledForm("change-merge", `Merge into ${ctx.branch}`, [
    repoField,
    branchField,
    field("Message", { name: "message", maxlength: 500 }, "Empty: “Merge <branch> into <target>”"),
    conflicts,
    submit,
  ]);
  // Picking another source starts over.
  const startOver = () => {
    pending = null;
    conflicts.replaceChildren();
    submit.textContent = `Merge into ${ctx.branch}`;
  };
  repoSelect.addEventListener("change", startOver);
  branchSelect.addEventListener("change", startOver);
  handleSubmit(form, async (values) => {
    const choices = pending ? await pending.choices() : { resolutions: [], range_resolutions: [] };
    const merge = await ctx.api.post(`/api/vcs/repos/${ctx.repo.repo_id}/merge`, {
      source: values.source,
      source_repo_id: values.source_repo_id === ctx.repo.repo_id ? "" : values.source_repo_id,
      target_branch: ctx.branch,
      message: values.message,
      ...choices,
    });
    if (merge.outcome === "MERGE_OUTCOME_CONFLICT") {
      pending = conflictView(ctx.api, merge);
      conflicts.replaceChildren(pending.element);
      submit.textContent = "Commit the merge with these choices";
      return "Both sides changed the same places: listen to each and choose, then commit the merge";
    }
    if (merge.outcome === "MERGE_OUTCOME_UP_TO_DATE") return `${ctx.branch} already has everything in ${values.source}`;
    showCommit(ctx, merge.commit.commit_id, form);
    const how = merge.outcome === "MERGE_OUTCOME_FAST_FORWARD" ? "fast-forwarded to" : "merge commit";
    return `Merged ${values.source} into ${ctx.branch}: ${how} ${shortId(merge.commit.commit_id)}`;
  });
  return form;
}

/**
 * @param {HTMLElement} el
 * @param {import("../views/repo.js").PanelContext} ctx
 */
export async function mountChange(el, ctx) {
  usePanelStyles();
  const heading = h("h2", {}, "Change");
  if (!ctx.api.session()) {
    el.replaceChildren(heading, h("p", { class: "muted" }, "Sign in to change, branch, fork or merge."));
    return;
  }
  const forms = h("div", { class: "panel-forms" }, [takeForm(ctx), branchForm(ctx), forkForm(ctx)]);
  el.replaceChildren(heading, forms);
  forms.append(await mergeForm(ctx));
}
