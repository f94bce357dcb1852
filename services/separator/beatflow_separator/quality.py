"""How clean a split is, without references: each stem's share of the mixture's energy, and how far
the stems are from summing back to the mixture. Accumulated block by block, for any engine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from beatflow.separator.v1 import separator_pb2

# Protobuf JSON cannot carry -inf: an exact sum (or a silent mixture) reports this floor.
RESIDUAL_FLOOR_DB = -120.0


@dataclass(frozen=True)
class Quality:
    energy_share: dict[str, float]
    residual_db: float

    def to_proto(self) -> separator_pb2.SeparationQuality:
        return separator_pb2.SeparationQuality(
            stems=[
                separator_pb2.StemEnergy(stem=name, energy_share=share) for name, share in self.energy_share.items()
            ],
            residual_db=self.residual_db,
        )


class QualityMeter:
    def __init__(self, stems: tuple[str, ...]):
        self._stems = {name: 0.0 for name in stems}
        self._mixture = 0.0
        self._residual = 0.0

    def add(self, mixture: np.ndarray, stems: dict[str, np.ndarray]) -> None:
        """One block: the mixture's frames and every stem's same frames, float [n, channels]."""
        residual = mixture.astype(np.float64)
        for name, samples in stems.items():
            self._stems[name] += float(np.square(samples, dtype=np.float64).sum())
            residual -= samples
        self._mixture += float(np.square(mixture, dtype=np.float64).sum())
        self._residual += float(np.square(residual).sum())

    def result(self) -> Quality:
        if self._mixture == 0.0:
            return Quality({name: 0.0 for name in self._stems}, RESIDUAL_FLOOR_DB)
        shares = {name: energy / self._mixture for name, energy in self._stems.items()}
        ratio = self._residual / self._mixture
        residual_db = 10 * math.log10(ratio) if ratio > 0 else RESIDUAL_FLOOR_DB
        return Quality(shares, max(residual_db, RESIDUAL_FLOOR_DB))
