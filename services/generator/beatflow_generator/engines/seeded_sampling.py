"""Token sampling with one torch.Generator per batch item, for the MusicGen engines.

transformers' sampling draws from torch's global generator, so in a batch every item's tokens
depend on the whole batch. Here `generate` runs greedy and a logits processor placed after
classifier-free guidance does each item's sampling instead (temperature, top-k, top-p, then a
draw from the item's own generator) and leaves only the drawn token: item k of a batch is the
tokens its seed gives alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from beatflow_generator.spec import GenerationSpec

DEFAULTS = {"temperature": 1.0, "top_k": 250, "top_p": 0.0, "guidance_scale": 3.0}


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_k: int
    top_p: float

    @classmethod
    def of(cls, spec: GenerationSpec) -> Sampling:
        return cls(
            temperature=spec.temperature or DEFAULTS["temperature"],
            top_k=spec.top_k or DEFAULTS["top_k"],
            top_p=spec.top_p or DEFAULTS["top_p"],
        )


def guidance_scale(spec: GenerationSpec) -> float:
    return spec.guidance_scale or DEFAULTS["guidance_scale"]


class SeededSampler(LogitsProcessor):
    """Draws each item's next tokens (one row per codebook) with the item's own generator."""

    def __init__(self, specs: list[GenerationSpec], rows_per_item: int):
        self._settings = [Sampling.of(spec) for spec in specs]
        self._generators = [torch.Generator().manual_seed(spec.seed % 2**63) for spec in specs]
        self._rows = rows_per_item

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        chosen = torch.full_like(scores, -float("inf"))
        for item, (settings, generator) in enumerate(zip(self._settings, self._generators, strict=True)):
            rows = slice(item * self._rows, (item + 1) * self._rows)
            probabilities = _distribution(scores[rows].float(), settings)
            tokens = torch.multinomial(probabilities.cpu(), 1, generator=generator).to(scores.device)
            chosen[rows] = chosen[rows].scatter(1, tokens, 0.0)
        return chosen


def _distribution(logits: torch.Tensor, settings: Sampling) -> torch.Tensor:
    """Temperature, then top-k, then top-p (nucleus), as transformers' sampling orders them."""
    logits = logits / settings.temperature
    if 0 < settings.top_k < logits.shape[-1]:
        threshold = torch.topk(logits, settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < threshold, -float("inf"))
    if 0 < settings.top_p < 1:
        ordered, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative - ordered.softmax(dim=-1) >= settings.top_p  # keeps the token that crosses top_p
        logits = logits.masked_fill(drop.scatter(1, order, drop), -float("inf"))
    return logits.softmax(dim=-1)


class _GuidanceFirst(LogitsProcessorList):
    """Keeps the sampler last: `generate` appends classifier-free guidance to the list it is given."""

    def append(self, processor) -> None:
        self.insert(len(self) - 1, processor)


def generate_options(sampler: SeededSampler, specs: list[GenerationSpec]) -> dict:
    """Keyword arguments for one MusicGen `generate` call: greedy over `sampler`'s choice (reused
    across the windows of one piece, so its generators run on), with the shared guidance scale."""
    scales = {guidance_scale(spec) for spec in specs}
    if len(scales) != 1:
        raise ValueError("a batch shares one guidance scale")
    return {"do_sample": False, "guidance_scale": scales.pop(), "logits_processor": _GuidanceFirst([sampler])}
