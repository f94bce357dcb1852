"""Separation without weights: three median-filter passes, each at the time-frequency resolution
that suits what it takes out of what the passes before it left.

1. Lead voice (~46 ms window): harmonic energy of the vocal band (above the bass) that stands out
   from its background over a few seconds (a running median, which repeating accompaniment
   dominates) and sounds from the centre of a stereo pair -> vocals, the three cues weighed together
   as evidence (`dsp_masks.evidence`). Below the bass cutoff (where a man's voice has its fundamental)
   only where all three cues hold at once (their product), the bin's 2nd and 3rd harmonics pass that
   test too, and the bin is not an overtone of a louder note an octave below (the bass's).
2. Tonal (~93 ms window, below 5 kHz): partials that hold still for a few tenths of a second (the
   horizontal median beats twice the vertical one). Tonal energy below ~250 Hz, and on the
   harmonics of the strongest low fundamental up to 800 Hz, is the bass where it sounds from the
   centre; the rest of it is set aside as "other", so that the next pass does not see it. Below
   ~150 Hz a kick drum's body also holds still for a tenth of a second or more, so there the tonal
   part is split once more, by a median pass of its own: energy that spreads over 80 Hz more than it
   lasts over 0.6 s is the kick (drums), not the bass.
3. Transient (~23 ms window) on what is left (onsets, noise, non-stationary partials): energy
   that spreads across frequency more than it lasts in time -> drums.

Each mask is a Wiener-style share of median-filter estimates, computed on the mono mix of the
pass's input and applied to every channel's STFT; the lead voice's and the bass's are also weighted
by how much of each bin sounds from the centre of a stereo pair (where mixes put both). "other" is
the mixture minus vocals, bass and drums, so the stems sum back to the input exactly. Long input
runs in overlapping blocks (`dsp_blocks`), so memory does not grow with the track.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import librosa
import numpy as np

from beatflow_separator.engines import dsp_blocks
from beatflow_separator.engines import dsp_masks as m
from beatflow_separator.engines.base import Progress, Separation, SeparationOptions

STEMS = ("vocals", "bass", "drums", "other")  # "other" last: it is the residual of the others
REFERENCE_RATE = 44100
VOCAL_BAND_HZ = (180.0, 6000.0)
BASS_CUTOFF_HZ = 250.0
BASS_F0_RANGE_HZ = (35.0, 250.0)
BASS_HARMONICS_TOP_HZ = 800.0
LEAD_KERNEL = 17  # frames and bins of the lead pass's median filters
BACKGROUND_SECONDS = 3.0
# The voice's share of the harmonic part is its Wiener share against this many times the background.
FOREGROUND_MARGIN = 2.0
# Above the bass cutoff the lead's mask is the logistic of LEAD_BIAS plus these weights times the log-odds of
# its cues (harmonic share, foreground share, centre), tuned on the tune halves: cues that agree outvote one
# that does not, where their product had let any one of them veto the bin (on four real-voice tune mixes the
# vocals stem kept 26-44 % of the voice with the product, 48-62 % with the evidence).
LEAD_BIAS = -3.0
LEAD_HARMONIC_WEIGHT = 0.25
LEAD_FOREGROUND_WEIGHT = 0.3
LEAD_CENTRE_WEIGHT = 0.6
# Below the cutoff, where the bass is the rival, the strict test stays: the product of the cues, the centre
# weighting raised to this power (only bins clearly in the centre), as tuned on the tune half. It fades into
# the evidence over the LEAD_EVIDENCE_FROM_HZ edge: at the cutoff's own edge the evidence took a bass line's
# partials (a finger bass alone: 0.41 of it left in the bass stem, 0.39 without the fade).
LEAD_CENTRE_EXPONENT = 3.0
LEAD_EVIDENCE_FROM_HZ = 280.0
# Below BASS_CUTOFF_HZ, down to VOICE_LOW_HZ, a bin is voice as far as these harmonics of it are in the lead's
# mask (the voice's fundamental under its overtones). Tuned on the tune half's real-voice mixes (recorded
# speakers carry a third of their energy below 250 Hz).
VOICE_LOW_HZ = 80.0
VOICE_SUPPORT_HARMONICS = (2, 3)
TONAL_TOP_HZ = 5000.0
TONAL_SECONDS = 0.4
TONAL_SPAN_HZ = 250.0
TONAL_MARGIN = 2.0  # tonal only where the horizontal median beats twice the vertical one
# The kick's share of the tonal part below KICK_TOP_HZ (tuned on the tune half: kick energy had been the
# bass's, 20-35 % of the drums' energy on some excerpts and on the MUSDB18 sample).
KICK_TOP_HZ = 150.0
KICK_SPAN_HZ = 80.0
KICK_SECONDS = 0.6
TRANSIENT_SECONDS = 0.4
TRANSIENT_SPAN_HZ = 300.0
DRUM_MARGIN = 1.0


@dataclass(frozen=True)
class Grid:
    """One STFT resolution at the input's rate."""

    rate: int
    n_fft: int

    @classmethod
    def at(cls, rate: int, window_at_reference: int) -> Grid:
        return cls(rate, int(2 ** round(np.log2(window_at_reference * rate / REFERENCE_RATE))))

    @property
    def hop(self) -> int:
        return self.n_fft // 4

    @property
    def bin_hz(self) -> float:
        return self.rate / self.n_fft

    @property
    def frequencies(self) -> np.ndarray:
        return librosa.fft_frequencies(sr=self.rate, n_fft=self.n_fft).astype(np.float32)[:, None]

    def frames(self, seconds: float) -> float:
        return seconds * self.rate / self.hop

    def bins_below(self, hz: float) -> int:
        return min(self.n_fft // 2 + 1, int(np.ceil(hz / self.bin_hz)))


def lead_voice(spectra: list[np.ndarray], grid: Grid) -> dict[str, np.ndarray]:
    top = grid.bins_below(VOCAL_BAND_HZ[1] * 1.3)
    low_spectra = [spectrum[:top] for spectrum in spectra]
    low = m.mono_magnitude(low_spectra)
    harmonic_share = m.share(m.along_time(low, LEAD_KERNEL), m.along_frequency(low, LEAD_KERNEL))
    harmonic = low * harmonic_share
    foreground_share = m.share(harmonic, m.background(harmonic, grid.frames(BACKGROUND_SECONDS)), FOREGROUND_MARGIN)
    frequencies = grid.frequencies[:top]
    centre = m.centre(low_spectra)
    evidence = m.evidence(
        LEAD_BIAS,
        (harmonic_share, LEAD_HARMONIC_WEIGHT),
        (foreground_share, LEAD_FOREGROUND_WEIGHT),
        (centre, LEAD_CENTRE_WEIGHT),
    )
    strict_lead = harmonic_share * centre**LEAD_CENTRE_EXPONENT * foreground_share
    lead = strict_lead + (evidence - strict_lead) * (1 - m.low_pass(frequencies, LEAD_EVIDENCE_FROM_HZ, 20.0))
    below_cutoff = m.low_pass(frequencies, BASS_CUTOFF_HZ, 15.0)
    above_cutoff = m.band(frequencies, *VOCAL_BAND_HZ) * (1 - below_cutoff)
    vocals = np.zeros(spectra[0].shape, dtype=np.float32)
    vocals[:top] = lead * above_cutoff
    # The voice's fundamental below the cutoff: both terms of the sum stay under 1 - below_cutoff and below_cutoff.
    # A bin with more energy an octave below it is taken for an overtone (a bass note's 2nd harmonic), not a
    # fundamental.
    bins = grid.bins_below(BASS_CUTOFF_HZ * 1.1)
    vocals[:bins] += (
        strict_lead[:bins]
        * m.harmonic_support(strict_lead * above_cutoff, bins, VOICE_SUPPORT_HARMONICS)
        * m.share(low[:bins], low[np.arange(bins) // 2])
        * (below_cutoff * (1 - m.low_pass(frequencies, VOICE_LOW_HZ, 15.0)))[:bins]
    )
    return {"vocals": vocals}


def tonal(spectra: list[np.ndarray], grid: Grid) -> dict[str, np.ndarray]:
    top = grid.bins_below(TONAL_TOP_HZ)
    low_spectra = [spectrum[:top] for spectrum in spectra]
    low = m.mono_magnitude(low_spectra)
    frequencies = grid.frequencies[:top]
    tonal_share = m.share(
        m.along_time(low, grid.frames(TONAL_SECONDS)),
        m.along_frequency(low, TONAL_SPAN_HZ / grid.bin_hz),
        TONAL_MARGIN,
    )
    f0 = m.predominant_f0(low, grid.bin_hz, *BASS_F0_RANGE_HZ)
    bass_share = m.centre(low_spectra) * np.maximum(
        m.low_pass(frequencies, BASS_CUTOFF_HZ, 15.0),
        m.harmonic_comb(f0, top, grid.bin_hz, BASS_HARMONICS_TOP_HZ),
    )
    pitched = tonal_share * (1 - kick(low, grid))
    masks = {name: np.zeros(spectra[0].shape, dtype=np.float32) for name in ("drums", "bass", "other")}
    masks["drums"][:top] = tonal_share - pitched
    masks["bass"][:top] = pitched * bass_share
    masks["other"][:top] = pitched * (1 - bass_share)
    return masks


def kick(magnitude: np.ndarray, grid: Grid) -> np.ndarray:
    """[bins, frames] of `magnitude`: the kick drum's share below KICK_TOP_HZ, 0 above it (where the
    transient pass finds drums)."""
    bins = grid.bins_below(KICK_TOP_HZ * 1.5)  # the filters see a little beyond the edge of the band
    band = magnitude[:bins]
    share = np.zeros(magnitude.shape, dtype=np.float32)
    share[:bins] = m.share(
        m.along_frequency(band, KICK_SPAN_HZ / grid.bin_hz), m.along_time(band, grid.frames(KICK_SECONDS))
    ) * m.low_pass(grid.frequencies[:bins], KICK_TOP_HZ, 10.0)
    return share


def transient(spectra: list[np.ndarray], grid: Grid) -> dict[str, np.ndarray]:
    magnitude = m.mono_magnitude(spectra)
    vertical = m.along_frequency(magnitude, TRANSIENT_SPAN_HZ / grid.bin_hz)
    horizontal = m.along_time(magnitude, grid.frames(TRANSIENT_SECONDS))
    return {"drums": m.share(vertical, horizontal, DRUM_MARGIN)}


# (stage name, window in samples at 44.1 kHz, masks from the channels' STFTs)
PASSES: tuple[tuple[str, int, Callable[[list[np.ndarray], Grid], dict[str, np.ndarray]]], ...] = (
    ("lead voice", 2048, lead_voice),
    ("tonal", 4096, tonal),
    ("transient", 1024, transient),
)


def separate_window(samples: np.ndarray, rate: int) -> dict[str, np.ndarray]:
    """The three passes over one stretch of float32 [frames, channels] audio; the stems sum back to it."""
    length, channels = samples.shape
    stems = {name: np.zeros_like(samples) for name in STEMS[:-1]}
    remaining = samples
    for _, window, masks_of in PASSES:
        grid = Grid.at(rate, window)
        spectra = [librosa.stft(remaining[:, c], n_fft=grid.n_fft, hop_length=grid.hop) for c in range(channels)]
        taken = np.zeros_like(samples)
        for name, mask in masks_of(spectra, grid).items():  # "other" is only set aside here: it is the residual below
            for channel, spectrum in enumerate(spectra):
                part = librosa.istft(spectrum * mask, hop_length=grid.hop, length=length)
                taken[:, channel] += part
                if name in stems:
                    stems[name][:, channel] += part
        remaining = remaining - taken
    stems["other"] = samples - stems["vocals"] - stems["bass"] - stems["drums"]
    return stems


def alignment(rate: int) -> int:
    """Blocks start on multiples of this many frames, so that every pass sees the STFT frames (and the
    background's frame groups) the whole track would give it there."""
    return m.BACKGROUND_DECIMATION * max(Grid.at(rate, window).hop for _, window, _ in PASSES)


class DspSeparator:
    name = "dsp"
    stems = STEMS

    def available(self) -> tuple[bool, str]:
        return True, "built in; needs no weights"

    def separate_blocks(
        self, read: dsp_blocks.ReadMix, frames: int, rate: int, progress: Progress
    ) -> Iterator[dict[str, np.ndarray]]:
        """The stems block by block, in order, holding only one block's window in memory; `read(start, stop)`
        gives float32 [stop - start, channels] of the mixture."""
        plan = dsp_blocks.BlockPlan.of(frames, rate, alignment(rate))
        yield from dsp_blocks.stream(read, plan, lambda window: separate_window(window, rate), progress)
        progress(1.0, "done", "")

    def separate(self, samples: np.ndarray, rate: int, options: SeparationOptions, progress: Progress) -> Separation:
        samples = np.asarray(samples, dtype=np.float32)
        stems = {name: np.empty_like(samples) for name in STEMS}
        position = 0
        for block in self.separate_blocks(lambda start, stop: samples[start:stop], len(samples), rate, progress):
            count = len(block["other"])
            for name, part in block.items():
                stems[name][position : position + count] = part
            position += count
        return Separation(stems, rate, self.name)
