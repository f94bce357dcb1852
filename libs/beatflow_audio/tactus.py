"""Which metrical level of a tracked pulse a listener taps: the beat, half of it or twice it.

The tracked tempo is one level of a hierarchy (bars, beats, subdivisions); which of them is "the beat"
is partly a convention. The choice here compares two neighbouring levels at a time, a slow one S and a
fast one F = 2 S, by a logistic model of five cues:

- how fast the pair is (the geometric mean of S and F in octaves from 100 bpm): listeners prefer
  beat periods of 500-700 ms (Fraisse 1982, Parncutt 1994, Moelants 2002), so a slow pair favours F
  and a fast one S;
- whether the points of F between S's beats are struck as hard as S's beats (the share of onset
  strength there): chorales' passing eighths are weak against the quarter-note chords, the quarter
  notes of a fiddle tune are as strong as the half-note beats;
- the same share for harmonic change: harmony that changes on every beat of F means F moves the music;
- how much more periodicity the tempogram shows at F's tempo than at S's;
- where drums play, the same share for the bass (the kick): a kick on every beat of F makes F the
  beat, a kick only on S's beats leaves S. Drums also move the choice towards S by themselves (their
  hi-hats fill F's points without making them beats). Without drums the bass is no such guide (a
  cello's or a walking bass's eighths), so the cue is left out there.

The weights were fitted by logistic regression on the pairs of neighbouring levels of the tune half of
the bench corpus (`bench.corpus`, renders of music21 scores) whose truth is one of the two, and checked
on the test half. As read off them: without drums, where F's points between S's beats carry as much
onset strength and harmonic change as S's beats (both shares 0.5) and the tempogram favours neither, F
is the beat when it is below about 115 bpm; stronger in-between points or more periodicity at F move
that boundary up.

From the tracked level (halved first while above MAX_TAPPED_BPM) the choice steps down while the slower
level wins, otherwise up while the faster one wins, each step one such comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MIN_TAPPED_BPM, MAX_TAPPED_BPM = 30.0, 200.0  # the tapped beat is chosen within these
MIN_LEVEL_BEATS = 4  # a level with fewer beats in the audio says nothing about its subdivision
MAX_STEPS = 2  # levels stepped down or up: a quarter to four times the starting tempo
REFERENCE_BPM = 100.0
# Logistic weights of (1, pair tempo in octaves from REFERENCE_BPM, onset share between, harmonic-change
# share between, log salience ratio, bass onset share between where drums play, drums play) for "the
# faster level of the pair is the beat".
PAIR_WEIGHTS = np.array([-2.93, -4.38, 1.55, 1.73, 2.42, 5.08, -1.21])


@dataclass(frozen=True)
class Tactus:
    """The tapped level as a factor of the tracked tempo, its runner-up among the neighbouring levels,
    and the probability of the tapped level against the runner-up."""

    factor: float
    alternative_factor: float
    weight: float


@dataclass(frozen=True)
class _Level:
    bpm: float
    beats: np.ndarray  # seconds


@dataclass(frozen=True)
class Envelopes:
    """Frame-wise cues at `frame_rate` frames per second."""

    onset: np.ndarray  # onset strength
    harmony: np.ndarray  # harmonic change
    bass: np.ndarray  # onset strength of the bass
    percussive: bool  # drums play
    frame_rate: float


def choose_tactus(
    envelopes: Envelopes, beat_times: np.ndarray, bpm: float, salience: Callable[[float], float]
) -> Tactus:
    """The level a listener taps, from the beats tracked at `bpm`; `salience(bpm)` is the tempogram's
    periodicity at a tempo."""
    model = _PairModel(envelopes, salience)
    level = _Level(bpm, np.asarray(beat_times, dtype=float))
    while level.bpm > MAX_TAPPED_BPM and (slower := model.slower(level)) is not None:
        level = slower
    for move in (model.slower, model.faster):
        steps = 0
        while steps < MAX_STEPS and (other := move(level)) is not None and model.prefers(other, level):
            level, steps = other, steps + 1
        if steps:
            break
    neighbours = [other for other in (model.slower(level), model.faster(level)) if other is not None]
    rivals = [(other, model.probability(level, other)) for other in neighbours]
    rival, weight = min(rivals, key=lambda rival: rival[1]) if rivals else (level, 1.0)
    return Tactus(level.bpm / bpm, rival.bpm / bpm, weight)


class _PairModel:
    """Neighbouring levels of a beat grid and the logistic model that compares two of them."""

    def __init__(self, envelopes: Envelopes, salience: Callable[[float], float]):
        self.envelopes, self.salience = envelopes, salience

    def slower(self, level: _Level) -> _Level | None:
        """Every other beat, in the phase whose beats carry more onset strength."""
        phases = level.beats[0::2], level.beats[1::2]
        beats = max(phases, key=lambda phase: float(np.median(self._at(self.envelopes.onset, phase))))
        if len(beats) < MIN_LEVEL_BEATS or level.bpm / 2 < MIN_TAPPED_BPM:
            return None
        return _Level(level.bpm / 2, beats)

    def faster(self, level: _Level) -> _Level | None:
        """The beats and the points half-way between them."""
        if 2 * level.bpm > MAX_TAPPED_BPM:
            return None
        return _Level(2 * level.bpm, np.sort(np.concatenate([level.beats, _midpoints(level.beats)])))

    def prefers(self, other: _Level, level: _Level) -> bool:
        return self.probability(other, level) > 0.5

    def probability(self, level: _Level, other: _Level) -> float:
        """Probability that `level` rather than its neighbour `other` is the beat."""
        faster = self.faster_probability(min(level, other, key=lambda candidate: candidate.bpm))
        return faster if level.bpm > other.bpm else 1.0 - faster

    def faster_probability(self, slow: _Level) -> float:
        """Probability that twice the slow level's tempo rather than its own is the beat."""
        return float(1.0 / (1.0 + np.exp(-PAIR_WEIGHTS @ self.pair_cues(slow))))

    def pair_cues(self, slow: _Level) -> np.ndarray:
        """The model's inputs for the pair (slow, twice as fast), read on the slow level's beat grid."""
        on, between = slow.beats[:-1], _midpoints(slow.beats)
        periodicity = np.log((self.salience(2 * slow.bpm) + 1e-3) / (self.salience(slow.bpm) + 1e-3))
        percussive = float(self.envelopes.percussive)
        return np.array(
            [
                1.0,
                np.log2(slow.bpm * np.sqrt(2.0) / REFERENCE_BPM),
                self._share_between(self.envelopes.onset, on, between),
                self._share_between(self.envelopes.harmony, on, between),
                periodicity,
                self._share_between(self.envelopes.bass, on, between) if percussive else 0.0,
                percussive,
            ]
        )

    def _share_between(self, envelope: np.ndarray, on: np.ndarray, between: np.ndarray) -> float:
        """Median strength half-way between beats over that plus the median on the beats, in [0, 1]."""
        at_beats, at_between = float(np.median(self._at(envelope, on))), float(np.median(self._at(envelope, between)))
        return at_between / (at_beats + at_between + 1e-9)

    def _at(self, envelope: np.ndarray, times: np.ndarray) -> np.ndarray:
        return peak_near(envelope, np.floor(np.asarray(times) * self.envelopes.frame_rate).astype(int))


def _midpoints(beats: np.ndarray) -> np.ndarray:
    return beats[:-1] + np.diff(beats) / 2


def peak_near(envelope: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """The envelope's largest value within one frame of each of the frames."""
    return np.max([envelope[np.clip(frames + k, 0, len(envelope) - 1)] for k in (-1, 0, 1)], axis=0)
