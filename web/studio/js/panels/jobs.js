/**
 * Live progress of a background job (generation, hum-to-beat, separation) as the WebSocket reports it:
 * a <progress> bar and one line saying the stage and percent, or the place in the queue and the ETA.
 */

import { h } from "../dom.js";

/** "3 s", "2 min" */
function roughly(seconds) {
  return seconds < 90 ? `${Math.max(1, Math.round(seconds))} s` : `${Math.round(seconds / 60)} min`;
}

/**
 * One line of text for a job event.
 * @param {string} state "queued", "running", "succeeded", "failed" or "cancelled"
 * @param {{progress?: {fraction?: number, stage?: string, message?: string}, queue_position?: number,
 *   eta_seconds?: number, error?: string|null}} event
 */
export function describeJob(state, event) {
  const eta = event.eta_seconds ? `, about ${roughly(event.eta_seconds)} to go` : "";
  if (state === "queued") {
    const place = event.queue_position ? `number ${event.queue_position} in the queue` : "in the queue";
    return `Queued: ${place}${eta}`;
  }
  if (state === "running") {
    const { fraction = 0, stage = "", message = "" } = event.progress || {};
    const doing = [stage || "starting", message].filter(Boolean).join(": ");
    return `${Math.round(fraction * 100)} % · ${doing}${eta}`;
  }
  if (state === "succeeded") return "Done";
  if (state === "cancelled") return "Cancelled";
  return `Failed: ${event.error?.message || "the job failed"}`;
}

/**
 * A progress view for one job at a time, hidden until a job starts.
 * @param {string} label what the bar measures, e.g. "Generation progress"
 */
export function jobProgress(label) {
  const bar = /** @type {HTMLProgressElement} */ (h("progress", { max: 1, value: 0, "aria-label": label }));
  const line = h("p", { class: "job-status", role: "status" });
  const element = h("div", { class: "job-progress", hidden: true }, [bar, line]);
  return {
    element,
    /** @param {string} state @param {object} event */
    show(state, event) {
      element.hidden = false;
      element.dataset.state = state;
      bar.value = state === "succeeded" ? 1 : event.progress?.fraction || 0;
      line.textContent = describeJob(state, event);
    },
    /** @param {string} message */
    fail(message) {
      element.hidden = false;
      element.dataset.state = "failed";
      line.textContent = message;
    },
  };
}

/**
 * Follows a job until it ends, showing each event; resolves with the job's last event when it succeeded.
 * @param {typeof import("../api.js")} api
 * @param {{task_id?: string, job_id?: string}} job the answer of the call that queued it
 * @param {ReturnType<typeof jobProgress>} progress
 */
export async function followJob(api, job, progress) {
  const watch = api.watchJob(job.job_id || job.task_id, (event) => progress.show(api.jobState(event), event));
  const last = await watch.done;
  if (api.jobState(last) !== "succeeded") throw new Error(describeJob(api.jobState(last), last));
  return last;
}
