/**
 * A button that plays one version of a stem between two times (a conflict's side, a diff's range).
 *
 * The audio is loaded only when first played, with the token in its URL (`api.mediaUrl`: a media element
 * cannot send it), and stops at the end of the range.
 */

import { h } from "../dom.js";
import { timeRange } from "./forms.js";

/** Clips playing now: starting one stops the others, so two versions are never heard on top of each other. */
const playing = new Set();

/**
 * @param {typeof import("../api.js")} api
 * @param {string} label e.g. "theirs"
 * @param {string} url the audio's URL (a media fragment `#t=` is ignored: start and end say the range)
 * @param {number} start seconds
 * @param {number} end seconds
 */
export function clipButton(api, label, url, start, end) {
  const text = `Play ${label} (${timeRange(start, end)})`;
  const button = h("button", { type: "button", class: "clip", "aria-pressed": "false" }, text);
  const audio = /** @type {HTMLAudioElement} */ (h("audio", { preload: "none", "data-clip": label }));
  let loaded = false;

  const stop = () => {
    audio.pause();
    playing.delete(stop);
    button.textContent = text;
    button.setAttribute("aria-pressed", "false");
  };

  audio.addEventListener("timeupdate", () => {
    if (audio.currentTime >= end) stop();
  });
  audio.addEventListener("ended", stop);
  button.addEventListener("click", async () => {
    if (!audio.paused) {
      stop();
      return;
    }
    playing.forEach((other) => other());
    try {
      if (!loaded) {
        button.setAttribute("aria-busy", "true");
        audio.src = api.mediaUrl(url.split("#")[0]);
        const ready = new Promise((resolve, reject) => {
          audio.addEventListener("loadedmetadata", resolve, { once: true });
          audio.addEventListener("error", () => reject(new Error("the browser cannot play it")), { once: true });
        });
        audio.load(); // preload is "none": nothing is fetched until asked
        await ready;
        loaded = true;
      }
      audio.currentTime = start;
      await audio.play();
      playing.add(stop);
      button.textContent = `Stop ${label}`;
      button.setAttribute("aria-pressed", "true");
    } catch (error) {
      button.textContent = `${text}: ${error.message}`;
    } finally {
      button.removeAttribute("aria-busy");
    }
  });
  return h("span", { class: "clip-player" }, [button, audio]);
}
