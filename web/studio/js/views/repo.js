/**
 * #/repo/{id} and #/repo/{id}/commit/{commitId}: a repository's history as a graph, one commit's stems
 * with waveforms, mute/solo/gain and the player, its tempo, key and chords, and the tool panels.
 *
 * Panel contract. The panels live in ../panels/ (create.js, change.js, diff.js, comments.js), each exporting
 * `mountX(el, ctx)` (mountCreate, mountChange, mountDiff, mountComments). This view renders
 * `<section id="panels">` with one element per panel and calls each mount function once per render of the
 * view (every navigation re-renders it); a mount may return a promise, and its errors stay in its panel.
 *
 * @typedef {object} PanelContext
 * @property {typeof import("../api.js")} api the REST/WebSocket client (get, post, patch, del, upload, blob,
 *   send, url, watchJob, session, ...)
 * @property {Repository} repo the repository as GET /api/repositories/{id} returns it
 * @property {Commit | null} commit the commit shown (GET /api/vcs/commit/{id}); null in an empty repository
 * @property {string} branch the branch being worked on: of the branches whose head is the commit shown, the one
 *   picked in the branch menu, else the default branch, else any; with none, the picked branch, else the default
 * @property {() => Promise<void>} refresh reloads the history and the commit shown (the default branch's head when the
 *   address names no commit); to show another commit, navigate to it
 * @property {import("../player.js").Player | null} player the commit's player (seek, play, pause, audio); null
 *   without a commit
 * @property {(hash: string) => void} navigate e.g. navigate(`#/repo/${repo.repo_id}/commit/${commitId}`)
 */

/**
 * @typedef {{repo_id: string, name: string, owner_id: string, owner_username: string, description: string,
 *   is_public: boolean, genre: string, default_branch: string,
 *   forked_from?: {repo_id: string, owner_username: string, repo_name: string, commit_id: string}}} Repository
 * @typedef {{name: string, blob_id: string, audio: {duration_seconds: number}}} Stem
 * @typedef {{commit_id: string, parent_ids: string[], author_username: string, message: string, bpm: number,
 *   key_signature: string, stems: Stem[], create_time: string, render_url: string}} Commit
 */

import * as api from "../api.js";
import { commitGraph } from "../graph.js";
import { formatTime, h, shortId } from "../dom.js";
import { mountChange } from "../panels/change.js";
import { mountComments } from "../panels/comments.js";
import { mountCreate } from "../panels/create.js";
import { mountDiff } from "../panels/diff.js";
import { createPlayer } from "../player.js";
import { drawWaveform, stemPeaks } from "../waveform.js";

const HISTORY_PAGE = 200;
const PANELS = [
  ["create", mountCreate],
  ["change", mountChange],
  ["diff", mountDiff],
  ["comments", mountComments],
];
// Stems whose analysis names the chords, best first; else the first stem's.
const HARMONIC_STEMS = ["chords", "keys", "piano", "guitar", "pad", "other", "melody", "lead", "bass"];
/** The branch picked in the menu, per repository, for this tab. */
const pickedBranch = new Map();

/** "C:maj" -> "C", "A:min" -> "Am", "G:7" -> "G7"; "N" (no chord) -> "". */
function chordName(label) {
  if (label === "N" || label === "X") return "";
  const [root, quality = "maj"] = label.split(":");
  return root + ({ maj: "", min: "m" }[quality] ?? quality);
}

/** Consecutive spans of one chord joined, no-chord spans dropped. */
function chordSpans(chords) {
  const spans = [];
  for (const chord of chords) {
    const name = chordName(chord.label);
    const last = spans.at(-1);
    if (last && last.name === name) last.end = chord.end_seconds;
    else if (name) spans.push({ name, start: chord.start_seconds, end: chord.end_seconds });
  }
  return spans;
}

/** @param {Repository} repo */
function heading(repo) {
  const origin = repo.forked_from?.repo_id
    ? h("p", { class: "fork-origin" }, [
        "Forked from ",
        h("a", { href: `#/repo/${repo.forked_from.repo_id}/commit/${repo.forked_from.commit_id}` },
          `${repo.forked_from.owner_username}/${repo.forked_from.repo_name}`),
        ` at ${shortId(repo.forked_from.commit_id)}`,
      ])
    : null;
  return h("header", { class: "repo-head" }, [
    h("h1", {}, `${repo.owner_username}/${repo.name}`),
    h("span", { class: "badge" }, repo.is_public ? "public" : "private"),
    repo.genre ? h("span", { class: "badge" }, repo.genre) : null,
    repo.description ? h("p", {}, repo.description) : null,
    origin,
  ]);
}

/** The branch to work on (see PanelContext.branch). */
function chooseBranch(repo, branches, commitId) {
  const picked = pickedBranch.get(repo.repo_id);
  const heads = branches.filter((branch) => branch.commit_id === commitId).map((branch) => branch.name);
  if (heads.includes(picked)) return picked;
  if (heads.includes(repo.default_branch)) return repo.default_branch;
  return heads[0] || (branches.some((branch) => branch.name === picked) ? picked : repo.default_branch);
}

/** The branch menu: picking a branch shows its head. */
function branchMenu(repo, branches, branch, navigate) {
  const select = h("select", { id: "branch-menu" },
    branches.map((b) => h("option", { value: b.name, selected: b.name === branch }, b.name)));
  select.addEventListener("change", () => {
    pickedBranch.set(repo.repo_id, select.value);
    const head = branches.find((b) => b.name === select.value);
    navigate(`#/repo/${repo.repo_id}/commit/${head.commit_id}`);
  });
  return h("div", { class: "field inline" }, [h("label", { for: "branch-menu" }, "Branch"), select]);
}

/** Tempo, key and chords: the commit's own, else what the analysis found. */
function facts(commit, analysis) {
  const bpm = commit.bpm || analysis?.bpm_exact || 0;
  const key = commit.key_signature || analysis?.key_signature || "";
  const chords = chordSpans(analysis?.chords || []).map((span) => span.name);
  const analysed = (own) => (own ? "" : " (analysed)");
  return h("dl", { class: "facts" }, [
    h("dt", {}, "BPM"), h("dd", {}, bpm ? `${Math.round(bpm * 10) / 10}${analysed(commit.bpm)}` : "unknown"),
    h("dt", {}, "Key"), h("dd", {}, key ? `${key}${analysed(commit.key_signature)}` : "unknown"),
    h("dt", {}, "Chords"), h("dd", { class: "chords-text" }, chords.length ? chords.join(" · ") : "…"),
    h("dt", {}, "Length"), h("dd", {}, formatTime(commitLength(commit))),
  ]);
}

/** @param {Commit} commit the length of its mix: its longest stem */
const commitLength = (commit) => Math.max(0, ...commit.stems.map((stem) => stem.audio?.duration_seconds || 0));

/** A toggle button (aria-pressed) calling `onChange(pressed)`. */
function toggleButton(text, label, onChange) {
  const button = h("button", { type: "button", class: "toggle", "aria-pressed": "false", "aria-label": label }, text);
  button.addEventListener("click", async () => {
    const pressed = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(pressed));
    await onChange(pressed);
  });
  return button;
}

/** One stem's row: name, mute, solo, gain and its waveform canvas. */
function stemRow(stem, player) {
  const gainId = `gain-${stem.name}`;
  const gain = h("input", { id: gainId, type: "range", min: -60, max: 12, step: 1, value: 0 });
  const shown = h("output", { for: gainId }, "0 dB");
  gain.addEventListener("input", () => {
    shown.textContent = `${gain.value} dB`;
  });
  gain.addEventListener("change", () => player.setGain(stem.name, Number(gain.value)));
  const canvas = h("canvas", { class: "wave", role: "img", "aria-label": `Waveform of ${stem.name}` });
  return h("li", { class: "stem", "data-stem": stem.name }, [
    h("div", { class: "stem-controls" }, [
      h("span", { class: "stem-name" }, stem.name),
      toggleButton("Mute", `Mute ${stem.name}`, (on) => player.setMute(stem.name, on)),
      toggleButton("Solo", `Solo ${stem.name}`, (on) => player.setSolo(stem.name, on)),
      h("label", { for: gainId, class: "gain-label" }, `Gain of ${stem.name}`),
      gain,
      shown,
    ]),
    h("div", { class: "wave-box" }, canvas),
  ]);
}

/** The chord lane under the waveforms (a row of the stems' grid), spans placed by time. */
function chordLane(spans, length) {
  const lane = h("div", { class: "chord-lane" });
  for (const span of spans) {
    const item = h("span", {}, span.name);
    item.style.setProperty("left", `${(100 * span.start) / length}%`);
    item.style.setProperty("width", `${(100 * (span.end - span.start)) / length}%`);
    lane.append(item);
  }
  return h("li", { class: "chord-row", "aria-hidden": "true" }, [h("span", { class: "row-name" }, "chords"), lane]);
}

/**
 * Draws the stems' waveforms as their peaks arrive; fills in tempo, key and chords from the analysis.
 * @param {Commit} commit
 * @param {HTMLElement} section the commit section (stems, facts)
 * @param {AbortSignal} signal set when the view is left
 */
async function drawStems(commit, section, signal) {
  const results = await Promise.all(
    commit.stems.map(async (stem) => {
      const result = await stemPeaks(stem.blob_id).catch(() => null);
      const canvas = section.querySelector(`[data-stem="${CSS.escape(stem.name)}"] canvas`);
      if (result && !signal.aborted) drawWaveform(canvas, result.peaks);
      return [stem.name, result?.analysis];
    }),
  );
  if (signal.aborted) return;
  const analyses = new Map(results.filter(([, analysis]) => analysis));
  // Stems were analysed in the commit's order, so the first analysis is the first stem's.
  const harmonic = HARMONIC_STEMS.find((name) => analyses.has(name)) || analyses.keys().next().value;
  const analysis = analyses.get(harmonic) || null;
  section.querySelector(".facts").replaceWith(facts(commit, analysis));
  const spans = chordSpans(analysis?.chords || []);
  if (spans.length) section.querySelector(".stems").append(chordLane(spans, commitLength(commit)));
  else section.querySelector(".chords-text").textContent = analysis ? "none found" : "not analysed";
}

/**
 * @param {HTMLElement} main
 * @param {{navigate: (hash: string) => void, announce: (message: string, isError?: boolean) => void,
 *   repoId: string, commitId?: string}} place
 * @returns {Promise<() => void>} leaves the view (stops the player)
 */
export async function renderRepo(main, place) {
  const { navigate, announce, repoId } = place;
  const [repo, history] = await Promise.all([
    api.get(`/api/repositories/${repoId}`),
    api.get(`/api/vcs/history/${repoId}`, { page_size: HISTORY_PAGE }),
  ]);
  const branches = history.branches.map((ref) => ({ name: ref.name, commit_id: ref.commit_id }));
  const defaultHead = branches.find((branch) => branch.name === repo.default_branch)?.commit_id;
  const commitId = place.commitId || defaultHead;
  const commit = commitId ? await api.get(`/api/vcs/commit/${commitId}`, { repo_id: repoId }) : null;
  const branch = chooseBranch(repo, branches, commitId);
  const leaving = new AbortController();

  const historySection = h("section", { class: "history", "aria-labelledby": "history-title" }, [
    h("h2", { id: "history-title" }, "History"),
    branches.length ? branchMenu(repo, branches, branch, navigate) : null,
    history.commits.length
      ? commitGraph(history.commits, {
          selected: commitId,
          forkPoint: repo.forked_from?.repo_id ? repo.forked_from.commit_id : undefined,
          onSelect: (id) => navigate(`#/repo/${repoId}/commit/${id}`),
        })
      : h("p", { class: "muted" }, "No commits yet: create the first one below."),
    history.next_page_token ? h("p", { class: "muted" }, `The newest ${HISTORY_PAGE} commits.`) : null,
  ]);

  let player = null;
  let commitSection = h("section", { class: "commit", "aria-labelledby": "commit-title" }, [
    h("h2", { id: "commit-title" }, "No commit"),
  ]);
  if (commit) {
    const stems = h("ol", { class: "stems", "aria-label": "Stems" });
    player = createPlayer(commit, repoId, stems, announce);
    stems.append(...commit.stems.map((stem) => stemRow(stem, player)));
    commitSection = h("section", { class: "commit", "aria-labelledby": "commit-title" }, [
      h("h2", { id: "commit-title" }, commit.message),
      h("p", { class: "muted" }, [
        h("code", { title: commit.commit_id }, shortId(commit.commit_id)),
        ` by ${commit.author_username || "unknown"}`,
        commit.create_time ? ` · ${new Date(commit.create_time).toLocaleString()}` : "",
        commit.parent_ids.length > 1 ? " · merge" : "",
      ]),
      facts(commit, null),
      player.element,
      stems,
    ]);
  }

  const panels = h("section", { id: "panels", "aria-label": "Tools" },
    PANELS.map(([name]) => h("div", { class: "panel", id: `panel-${name}` })));
  main.replaceChildren(heading(repo), h("div", { class: "repo-layout" }, [historySection, commitSection]), panels);

  const ctx = {
    api,
    repo,
    commit,
    branch,
    player,
    navigate,
    refresh: async () => {
      leave();
      cleanup = await renderRepo(main, place);
    },
  };
  for (const [name, mount] of PANELS) {
    const el = /** @type {HTMLElement} */ (panels.querySelector(`#panel-${name}`));
    Promise.resolve()
      .then(() => mount(el, ctx))
      .catch((error) => el.append(h("p", { class: "error", role: "alert" }, `${name}: ${error.message}`)));
  }
  if (commit) drawStems(commit, commitSection, leaving.signal);

  function leave() {
    leaving.abort();
    player?.destroy();
  }
  let cleanup = leave;
  return () => cleanup();
}
