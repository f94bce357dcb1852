/**
 * Create: generate from a prompt, hum a melody into the microphone, or split a track into stems.
 *
 * Generation and hum-to-beat land their result as a commit on the current branch (the API's repo_id and
 * branch options); separation returns stems, which this panel commits as an edit of the branch head.
 * Each job's progress comes live from the WebSocket, and the view moves to the new commit when it lands.
 */

import { field, h, shortId } from "../dom.js";
import { handleSubmit, numberOr, showCommit, stemSelect, titledForm, usePanelStyles } from "./forms.js";
import { followJob, jobProgress } from "./jobs.js";
import { startRecording, toWav } from "./recording.js";

// The procedural engine reads the style from the prompt; these are names of the styles it knows
// (beatflow_generator/engines/procedural/styles.py: the API has no list of them).
const STYLES = ["lofi", "hip hop", "trap", "house", "techno", "drum and bass", "reggae", "funk", "jazz", "bossa nova",
  "rock", "pop", "ambient", "cinematic", "string quartet", "afrobeat", "gospel"];
const MOODS = ["neutral", "dark", "sad", "happy", "uplifting", "chill", "dreamy", "epic", "aggressive", "romantic"];
const ENGINES = [{ value: "", label: "Default (procedural)" }, { value: "procedural", label: "Procedural" },
  { value: "musicgen", label: "MusicGen" }];
const DEFAULT_SECONDS = 8;
const MIN_SECONDS = 5;

/** @param {string} id @param {string[]} values */
const suggestions = (id, values) => h("datalist", { id }, values.map((value) => h("option", { value })));

/** The generation settings every creating form shares. */
function settingsFields() {
  return h("div", { class: "field-grid" }, [
    field("Mood", { name: "mood", list: "create-moods", value: "neutral", maxlength: 64 }),
    field("BPM", { name: "bpm", type: "number", min: 60, max: 300, step: 1 }, "Empty: the engine chooses"),
    field("Key", { name: "key", placeholder: "A minor", maxlength: 20 }, "e.g. A minor, F#m; empty: from the mood"),
    field("Seed", { name: "seed", type: "number", step: 1 }, "Empty: a random seed (the result records it)"),
    field("Duration (seconds)", { name: "duration", type: "number", min: MIN_SECONDS, max: 600, step: 1,
      value: DEFAULT_SECONDS, required: true }),
    field("Engine", { tag: "select", name: "engine", options: ENGINES }),
  ]);
}

/** @param {Record<string, FormDataEntryValue>} values */
function settings(values) {
  return {
    mood: String(values.mood || "neutral"),
    bpm: numberOr(values.bpm, 0),
    key: String(values.key || ""),
    seed: numberOr(values.seed, 0),
    duration: numberOr(values.duration, DEFAULT_SECONDS),
    engine: String(values.engine || ""),
  };
}

/** Shows the commit a job landed and says so. */
function landed(ctx, event, form) {
  const commitId = event.result?.detail?.commit_id;
  if (!commitId) return "Done, but the result did not land as a commit";
  showCommit(ctx, commitId, form);
  return `Landed on ${event.result.detail.branch || ctx.branch} as commit ${shortId(commitId)}`;
}

function generateForm(ctx) {
  const progress = jobProgress("Generation progress");
  const form = titledForm("create-generate", "Generate from a prompt", [
    field("Prompt", { tag: "textarea", name: "prompt", required: true, maxlength: 1000, rows: 2,
      placeholder: "warm lofi beat with piano and vinyl crackle" }),
    field("Style", { name: "style", list: "create-styles", maxlength: 40 },
      "Added to the prompt; empty: from the prompt"),
    settingsFields(),
    h("button", { type: "submit" }, "Generate"),
    progress.element,
  ]);
  handleSubmit(form, async (values, say) => {
    const style = String(values.style || "").trim();
    const prompt = String(values.prompt).trim();
    const job = await ctx.api.post("/api/ai/generate", {
      ...settings(values),
      prompt: style && !prompt.toLowerCase().includes(style.toLowerCase()) ? `${style} ${prompt}` : prompt,
      repo_id: ctx.repo.repo_id,
      branch: ctx.branch,
    });
    say("Generating…");
    return landed(ctx, await followJob(ctx.api, job, progress), form);
  });
  return form;
}

function humForm(ctx) {
  const progress = jobProgress("Hum-to-beat progress");
  const record = h("button", { type: "button", "aria-pressed": "false" }, "Record");
  const take = /** @type {HTMLAudioElement} */ (
    h("audio", { controls: true, hidden: true, "aria-label": "Your recording" })
  );
  /** @type {Blob | null} */
  let recorded = null;
  /** @type {{stop: () => Promise<Blob>} | null} */
  let recording = null;
  const form = titledForm("create-hum", "Hum a melody", [
    h("p", { class: "muted" }, "Record a hummed or sung melody; the beat follows it."),
    h("div", { class: "recorder" }, [record, take]),
    settingsFields(),
    h("button", { type: "submit" }, "Make a beat from the recording"),
    progress.element,
  ]);
  const status = handleSubmit(form, async (values, say) => {
    if (!recorded) throw new Error("Record a melody first");
    say("Uploading the recording…");
    const body = new FormData();
    body.append("file_upload", await toWav(recorded), "hum.wav");
    const query = { ...settings(values), repo_id: ctx.repo.repo_id, branch: ctx.branch };
    const job = await ctx.api.upload(ctx.api.url("/api/ai/hum-to-beat", query), body);
    return landed(ctx, await followJob(ctx.api, job, progress), form);
  });
  record.addEventListener("click", async () => {
    try {
      if (!recording) {
        recording = await startRecording();
        record.textContent = "Stop recording";
        record.setAttribute("aria-pressed", "true");
        status.textContent = "Recording…";
        return;
      }
      recorded = await recording.stop();
      recording = null;
      record.textContent = "Record again";
      record.setAttribute("aria-pressed", "false");
      if (take.src) URL.revokeObjectURL(take.src);
      take.src = URL.createObjectURL(recorded);
      take.hidden = false;
      status.textContent = "Recorded: listen, then make a beat from it";
    } catch (error) {
      recording = null;
      status.textContent = `The microphone could not be used: ${error.message}`;
    }
  });
  return form;
}

/** The blob to separate: an uploaded file, or a stem of the current commit. */
async function separationSource(ctx, values) {
  const file = /** @type {File} */ (values.file);
  if (file.size) {
    const body = new FormData();
    body.append("file", file);
    const uploaded = await ctx.api.upload("/api/audio/upload", body);
    return { blobId: uploaded.blob_id, name: file.name };
  }
  const stem = ctx.commit?.stems?.find((candidate) => candidate.name === values.source_stem);
  if (!stem) throw new Error("Choose a file or a stem to separate");
  return { blobId: stem.blob_id, name: stem.name };
}

/** A stem name from a file name or stem name: lowercase letters, digits, '-' and '_'. */
const stemPrefix = (name) =>
  name.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9_-]+/g, "-").replace(/^[-_]+/, "").slice(0, 40) ||
  "split";

function separateForm(ctx, models) {
  const progress = jobProgress("Separation progress");
  const usable = models.filter((model) => model.weights_present);
  const form = titledForm("create-separate", "Split a track into stems", [
    field("Track file", { type: "file", name: "file", accept: "audio/*" }, "WAV, FLAC, OGG or MP3"),
    stemSelect("Or a stem of this commit", ctx.commit, { name: "source_stem" }, [{ value: "", label: "(none)" }]),
    field("Model", { tag: "select", name: "model", options: usable.map((model) => ({
      value: `${model.engine}/${model.model_name}`, label: `${model.model_name}: ${model.stems.join(", ")}` })) }),
    field("Name the stems", { name: "prefix", maxlength: 40, pattern: "[a-z0-9][a-z0-9_-]*" },
      "Prefix of the new stems' names (e.g. take → take-bass); empty: the source's name"),
    h("button", { type: "submit" }, "Separate and commit"),
    progress.element,
  ]);
  handleSubmit(form, async (values, say) => {
    const source = await separationSource(ctx, values);
    const [engine, modelName] = String(values.model || "/").split("/");
    say("Separating…");
    const job = await ctx.api.post("/api/ai/separate-stems", { blob_id: source.blobId, engine, model_name: modelName });
    const done = await followJob(ctx.api, job, progress);
    const prefix = String(values.prefix || "") || stemPrefix(source.name);
    const commit = await ctx.api.post(`/api/vcs/commit/${ctx.repo.repo_id}`, {
      message: `Separate ${source.name} into stems`,
      branch: ctx.branch,
      stems: done.result.artifacts.map((artifact) => ({
        name: `${prefix}-${artifact.name}`,
        blob_id: artifact.blob.blob_id,
      })),
    });
    showCommit(ctx, commit.commit_id, form);
    return `Committed ${done.result.artifacts.length} stems as ${shortId(commit.commit_id)}`;
  });
  return form;
}

/**
 * @param {HTMLElement} el
 * @param {import("../views/repo.js").PanelContext} ctx
 */
export function mountCreate(el, ctx) {
  usePanelStyles();
  const heading = h("h2", {}, "Create");
  if (!ctx.api.session()) {
    el.replaceChildren(heading, h("p", { class: "muted" }, "Sign in to create in this repository."));
    return;
  }
  const separation = h("div", {}, h("p", { class: "muted" }, "Loading the separation models…"));
  el.replaceChildren(
    heading,
    suggestions("create-styles", STYLES),
    suggestions("create-moods", MOODS),
    h("div", { class: "panel-forms" }, [generateForm(ctx), humForm(ctx), separation]),
  );
  ctx.api
    .get("/api/ai/separation-models")
    .then(({ models }) => separation.replaceChildren(separateForm(ctx, models)))
    .catch((error) =>
      separation.replaceChildren(h("p", { class: "error" }, `Separation is unavailable: ${error.message}`)));
}
