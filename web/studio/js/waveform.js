/**
 * Stem waveforms: peaks from the analysis API (POST /api/ai/analyze-audio, which also gives chords,
 * tempo and key), or, where that is refused (a visitor without a token) or fails, from the audio
 * itself decoded with WebAudio. Drawn on a canvas at the device's pixel density.
 */

import * as api from "./api.js";

export const POINTS = 800;

/**
 * @typedef {{waveform_peaks: number[], chords: {start_seconds: number, end_seconds: number, label: string}[],
 *   bpm: number, key_signature: string, duration: number}} Analysis
 */

/**
 * Max absolute sample per window, `points` windows over the whole audio.
 * @param {AudioBuffer} buffer
 * @param {number} points
 */
export function peaksOf(buffer, points) {
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, index) => buffer.getChannelData(index));
  const window = Math.max(1, Math.floor(buffer.length / points));
  const peaks = new Array(Math.min(points, buffer.length)).fill(0);
  peaks.forEach((_, index) => {
    let peak = 0;
    for (const samples of channels) {
      for (let i = index * window; i < (index + 1) * window; i++) peak = Math.max(peak, Math.abs(samples[i]));
    }
    peaks[index] = peak;
  });
  return peaks;
}

/** @param {string} blobId @returns {Promise<number[]>} */
async function decodedPeaks(blobId) {
  const bytes = await (await api.blob(`/api/audio/download/${blobId}`)).arrayBuffer();
  // An OfflineAudioContext decodes without needing a user gesture or an audio device.
  const buffer = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(bytes);
  return peaksOf(buffer, POINTS);
}

/**
 * The stem's peaks, and its analysis when the API gave one.
 * @param {string} blobId
 * @returns {Promise<{peaks: number[], analysis: Analysis | null}>}
 */
export async function stemPeaks(blobId) {
  if (api.session()) {
    try {
      const analysis = await api.post(api.url("/api/ai/analyze-audio", { blob_id: blobId, waveform_points: POINTS }));
      return { peaks: analysis.waveform_peaks, analysis };
    } catch {
      // Fall through to decoding in the page.
    }
  }
  return { peaks: await decodedPeaks(blobId), analysis: null };
}

/**
 * Draws peaks (0 to 1) as a mirrored envelope; heights follow the square root of the peak, so quiet
 * passages stay visible while louder stems still look louder.
 * @param {HTMLCanvasElement} canvas
 * @param {number[]} peaks
 */
export function drawWaveform(canvas, peaks) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.fillStyle = getComputedStyle(canvas).color;
  const middle = height / 2;
  const step = width / Math.max(1, peaks.length);
  peaks.forEach((peak, index) => {
    const half = Math.max(0.5, Math.sqrt(Math.min(1, peak)) * middle);
    context.fillRect(index * step, middle - half, Math.max(1, step - 0.5), half * 2);
  });
}
