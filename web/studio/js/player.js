/**
 * The player: one <audio> element playing a commit's mix as the render endpoint makes it.
 *
 * Mute, solo and gain are the render URL's query parameters (`mute=drums`, `solo=bass`, `gain.keys=-6`):
 * the server mixes, the page only plays. The mix streams with Range requests; a media element cannot send
 * the bearer token, so it rides in the query (`api.mediaUrl`); the URL without it is kept in
 * `data-render-url`. When the mix changes the new render replaces the old at the same position, playing on
 * if it was playing; when the token expires mid-play, it is renewed and the mix loaded again.
 * A playhead (CSS variable --playhead, 0 to 1) is set on the element given as `timeline`.
 */

import * as api from "./api.js";
import { formatTime, h } from "./dom.js";

/** @typedef {{mute: Set<string>, solo: Set<string>, gain: Map<string, number>}} Mix */

/**
 * @typedef {object} Player
 * @property {HTMLElement} element the controls (play/pause, time, position slider) holding the <audio>
 * @property {HTMLAudioElement} audio
 * @property {() => string} renderUrl the render URL of the current commit and mix
 * @property {(name: string, on: boolean) => Promise<void>} setMute
 * @property {(name: string, on: boolean) => Promise<void>} setSolo
 * @property {(name: string, db: number) => Promise<void>} setGain
 * @property {(seconds: number) => void} seek
 * @property {() => Promise<void>} play
 * @property {() => void} pause
 * @property {() => void} destroy stops playback
 */

/** @param {string} commitRenderUrl e.g. /api/vcs/commit/{id}/render @param {string} repoId @param {Mix} mix */
export function mixUrl(commitRenderUrl, repoId, mix) {
  const query = { repo_id: repoId, format: "wav", mute: [...mix.mute].sort(), solo: [...mix.solo].sort() };
  for (const [name, db] of [...mix.gain].sort()) if (db !== 0) query[`gain.${name}`] = db;
  return api.url(commitRenderUrl, query);
}

/** Resolves when the element knows the new source's duration; rejects when it cannot decode it. */
function metadataOf(audio) {
  return new Promise((resolve, reject) => {
    const settle = (event) => {
      audio.removeEventListener("loadedmetadata", settle);
      audio.removeEventListener("error", settle);
      if (event.type === "error") reject(new Error(audio.error?.message || "the browser cannot decode the mix"));
      else resolve(undefined);
    };
    audio.addEventListener("loadedmetadata", settle);
    audio.addEventListener("error", settle);
  });
}

/**
 * @param {{render_url: string}} commit
 * @param {string} repoId
 * @param {HTMLElement} timeline the element whose --playhead follows the audio; clicks on it seek
 * @param {(message: string, isError?: boolean) => void} announce
 * @returns {Player}
 */
export function createPlayer(commit, repoId, timeline, announce) {
  /** @type {Mix} */
  const mix = { mute: new Set(), solo: new Set(), gain: new Map() };
  const audio = /** @type {HTMLAudioElement} */ (h("audio", { preload: "auto" }));
  const toggle = h("button", { type: "button", class: "play", disabled: true }, "Play");
  const position = /** @type {HTMLInputElement} */ (
    h("input", { type: "range", min: 0, max: 0, step: 0.01, value: 0, "aria-label": "Position", disabled: true })
  );
  const clock = h("span", { class: "clock", "aria-live": "off" }, "0:00 / 0:00");
  /** @type {AbortController | null} */
  let loading = null;
  let frame = 0;

  const renderUrl = () => mixUrl(commit.render_url, repoId, mix);

  function showTime() {
    const duration = Number.isFinite(audio.duration) ? audio.duration : 0;
    position.max = String(duration);
    position.value = String(audio.currentTime);
    clock.textContent = `${formatTime(audio.currentTime)} / ${formatTime(duration)}`;
    timeline.style.setProperty("--playhead", String(duration ? audio.currentTime / duration : 0));
  }

  function followPlayhead() {
    showTime();
    frame = audio.paused ? 0 : requestAnimationFrame(followPlayhead);
  }

  /** Fetches the mix for the current settings and swaps it in at the same position. */
  async function load() {
    loading?.abort();
    const controller = new AbortController();
    loading = controller;
    const url = renderUrl();
    audio.dataset.renderUrl = url;
    audio.setAttribute("aria-busy", "true");
    const at = audio.currentTime;
    const wasPlaying = !audio.paused;
    try {
      audio.src = api.mediaUrl(url);
      await metadataOf(audio);
      if (controller.signal.aborted) return;
      audio.currentTime = Math.min(at, audio.duration || 0);
      toggle.disabled = position.disabled = false;
      showTime();
      if (wasPlaying) await audio.play();
    } catch (error) {
      if (!controller.signal.aborted) announce(`The mix could not be played: ${error.message}`, true);
    } finally {
      if (loading === controller) {
        loading = null;
        audio.removeAttribute("aria-busy");
      }
    }
  }

  /** @param {Set<string>} set @param {string} name @param {boolean} on */
  const flip = (set, name, on) => {
    if (on) set.add(name);
    else set.delete(name);
    return load();
  };

  const play = () => audio.play().catch((error) => announce(`The mix could not be played: ${error.message}`, true));
  toggle.addEventListener("click", () => (audio.paused ? play() : audio.pause()));
  position.addEventListener("input", () => {
    audio.currentTime = Number(position.value);
  });
  audio.addEventListener("play", () => {
    toggle.textContent = "Pause";
    cancelAnimationFrame(frame);
    followPlayhead();
  });
  audio.addEventListener("pause", () => {
    toggle.textContent = "Play";
    showTime();
  });
  audio.addEventListener("seeked", showTime);
  // A later range request refused (an access token expires while a long mix plays): renew, load again.
  audio.addEventListener("error", async () => {
    if (!loading && api.session() && (await api.refreshTokens())) load();
  });
  timeline.addEventListener("click", (event) => {
    if (!(event.target instanceof HTMLCanvasElement) || !Number.isFinite(audio.duration)) return;
    const box = event.target.getBoundingClientRect();
    audio.currentTime = ((event.clientX - box.left) / box.width) * audio.duration;
  });

  load();
  return {
    element: h("div", { class: "player", role: "group", "aria-label": "Player" }, [toggle, position, clock, audio]),
    audio,
    renderUrl,
    setMute: (name, on) => flip(mix.mute, name, on),
    setSolo: (name, on) => flip(mix.solo, name, on),
    setGain: (name, db) => {
      mix.gain.set(name, db);
      return load();
    },
    seek: (seconds) => {
      audio.currentTime = seconds;
    },
    play,
    pause: () => audio.pause(),
    destroy: () => {
      loading?.abort();
      cancelAnimationFrame(frame);
      audio.pause();
      audio.removeAttribute("src");
    },
  };
}
