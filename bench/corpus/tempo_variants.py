"""The same scores performed at other tempi, so that a split shows the errors of the tempi it lacks.

Each piece of the corpus is performed at one tempo drawn from its range, so a split of 86 pieces
meets each kind of music at a few tempi only: the tune split's perfect Acc2 said little about the
test split's misses (a reel read 4:3 off, an air's triplets halved), which appear in the tune
split's own scores once they are played slower or faster. A variant is the piece's arrangement
played `scale` times as fast (the MIDI's times divided by `scale`, so the instruments, voicing and
drums stay), its truth scaled with it: the beat unit stays the beat, only its tempo changes.
"""

from __future__ import annotations

import dataclasses

from bench.corpus import Piece

TEMPO_SCALES = (0.7, 0.85, 1.2, 1.4)
BPM_RANGE = (40.0, 200.0)  # variants outside it are left out: no performer plays a beat that slow or fast


def at_tempo(piece: Piece, scale: float) -> Piece:
    """`piece` played `scale` times as fast, truth included."""
    bpm = round(piece.bpm * scale, 2)
    return dataclasses.replace(
        piece,
        name=f"{piece.name.split('@', 1)[0]}@{bpm:g}bpm",
        bpm=bpm,
        beats=piece.beats / scale,
        downbeats=piece.downbeats / scale,
        chords=[(start / scale, end / scale, label) for start, end, label in piece.chords],
        tempo_scale=round(piece.tempo_scale * scale, 6),
    )


def tempo_variants(pieces: list[Piece], scales: tuple[float, ...] = TEMPO_SCALES) -> list[Piece]:
    """Every piece at every scale whose tempo stays within BPM_RANGE."""
    low, high = BPM_RANGE
    return [at_tempo(piece, scale) for piece in pieces for scale in scales if low <= piece.bpm * scale <= high]
