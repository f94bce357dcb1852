/**
 * Microphone recordings for hum-to-beat. Browsers record compressed audio (Chromium: WebM/Opus), which the
 * API does not decode, so a take is decoded with WebAudio and sent as a 16-bit mono WAV file.
 */

/**
 * Starts recording from the default microphone.
 * @returns {Promise<{stop: () => Promise<Blob>}>} stop ends the recording and gives what was recorded
 */
export async function startRecording() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  /** @type {Blob[]} */
  const parts = [];
  recorder.addEventListener("dataavailable", (event) => parts.push(event.data));
  const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve, { once: true }));
  recorder.start();
  return {
    async stop() {
      recorder.stop();
      await stopped;
      stream.getTracks().forEach((track) => track.stop());
      return new Blob(parts, { type: recorder.mimeType });
    },
  };
}

/**
 * A recording (any format the browser decodes) as a WAV file: mono, 16-bit, at the decoder's rate.
 * @param {Blob} recording
 * @returns {Promise<Blob>}
 */
export async function toWav(recording) {
  const context = new AudioContext();
  try {
    const audio = await context.decodeAudioData(await recording.arrayBuffer());
    return wavFile(mixdown(audio), audio.sampleRate);
  } finally {
    await context.close();
  }
}

/** @param {AudioBuffer} audio @returns {Float32Array} the channels' mean */
function mixdown(audio) {
  const mono = new Float32Array(audio.length);
  for (let channel = 0; channel < audio.numberOfChannels; channel++) {
    const samples = audio.getChannelData(channel);
    for (let i = 0; i < samples.length; i++) mono[i] += samples[i] / audio.numberOfChannels;
  }
  return mono;
}

/** @param {Float32Array} samples @param {number} rate */
function wavFile(samples, rate) {
  const header = 44;
  const view = new DataView(new ArrayBuffer(header + samples.length * 2));
  const text = (offset, value) => [...value].forEach((char, i) => view.setUint8(offset + i, char.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); // PCM format chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true); // bytes per second
  view.setUint16(32, 2, true); // bytes per frame
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, samples.length * 2, true);
  samples.forEach((sample, i) => {
    view.setInt16(header + i * 2, Math.round(Math.max(-1, Math.min(1, sample)) * 32767), true);
  });
  return new Blob([view], { type: "audio/wav" });
}
