"""What to generate, checked once at the boundary so engines can trust it."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

from beatflow_audio.theory import Key
from beatflow_platform import naming
from beatflow_platform.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True)
class Note:
    """A melody note: start and length in seconds, MIDI pitch."""

    start: float
    length: float
    pitch: int


@dataclass(frozen=True)
class GenerationSpec:
    prompt: str
    bpm: int  # 0: the engine picks from the prompt
    mood: str
    duration_seconds: float
    key: Key | None  # None: the engine derives it from the mood
    engine: str
    seed: int  # never 0 once checked: `check` draws one when none is asked for
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 0.0
    guidance_scale: float = 0.0
    melody: tuple[Note, ...] = field(default=())

    def as_payload(self) -> dict:
        """JSON for the job row (melody notes are added by hum-to-beat jobs themselves)."""
        return {
            "prompt": self.prompt,
            "bpm": self.bpm,
            "mood": self.mood,
            "duration_seconds": self.duration_seconds,
            "key": self.key.name if self.key else "",
            "engine": self.engine,
            "seed": self.seed,
            "temperature": self.temperature,
            "top_k": self.top_k,
            "top_p": self.top_p,
            "guidance_scale": self.guidance_scale,
        }

    @classmethod
    def from_payload(cls, payload: dict) -> GenerationSpec:
        return cls(
            **{**payload, "key": Key.parse(payload["key"]) if payload["key"] else None},
        )


MAX_RANDOM_SEED = 2**31 - 1  # fits every client's integer type, JSON numbers included


def random_seed() -> int:
    return secrets.randbelow(MAX_RANDOM_SEED) + 1


def check(
    *,
    prompt: str,
    bpm: int,
    mood: str,
    duration_seconds: float,
    key: Key | None,
    engine: str,
    seed: int | None,
    engines: dict[str, float],
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 0.0,
    guidance_scale: float = 0.0,
    field_prefix: str = "params",
    require_prompt: bool = True,
) -> GenerationSpec:
    """Validates a request; `engines` maps each available engine to its longest duration. A seed of
    0 or None (none asked for) becomes a random one, which the spec then carries: the job records
    and reports the seed that was used, and a retried job renders the same music."""
    violations = []

    def bad(name: str, description: str) -> None:
        violations.append(FieldViolation(f"{field_prefix}.{name}", description))

    engine = engine or "procedural"
    if engine not in engines:
        bad("engine", f"must be one of {', '.join(sorted(engines))}")
    if require_prompt and not naming.matches(naming.NON_BLANK_TEXT, prompt):
        bad("prompt", "must not be empty")
    if len(prompt) > naming.MAX_PROMPT_LENGTH or "\x00" in prompt:
        bad("prompt", f"must be at most {naming.MAX_PROMPT_LENGTH} characters, none of them NUL")
    if len(mood) > naming.MAX_MOOD_LENGTH or "\x00" in mood:
        bad("mood", f"must be at most {naming.MAX_MOOD_LENGTH} characters, none of them NUL")
    if bpm != 0 and not naming.MIN_GENERATION_BPM <= bpm <= naming.MAX_GENERATION_BPM:
        bad("bpm", f"must be {naming.MIN_GENERATION_BPM} to {naming.MAX_GENERATION_BPM}, or 0 to let the engine choose")
    longest = engines.get(engine, 30.0)
    if not math.isfinite(duration_seconds) or not naming.MIN_GENERATION_SECONDS <= duration_seconds <= longest:
        bad(
            "duration_seconds",
            f"must be {naming.MIN_GENERATION_SECONDS:.0f} to {longest:.0f} seconds for engine {engine!r}",
        )
    if not 0 <= temperature <= 5 or not math.isfinite(temperature):
        bad("sampling.temperature", "must be 0 to 5")
    if not 0 <= top_k <= 2048:
        bad("sampling.top_k", "must be 0 to 2048")
    if not 0 <= top_p <= 1 or not math.isfinite(top_p):
        bad("sampling.top_p", "must be 0 to 1")
    if not 0 <= guidance_scale <= 20 or not math.isfinite(guidance_scale):
        bad("sampling.guidance_scale", "must be 0 to 20")
    if violations:
        raise InvalidArgument("; ".join(f"{v.field}: {v.description}" for v in violations), violations=violations)
    return GenerationSpec(
        prompt=prompt.strip(),
        bpm=bpm,
        mood=mood.strip().lower(),
        duration_seconds=duration_seconds,
        key=key,
        engine=engine,
        seed=seed or random_seed(),
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        guidance_scale=guidance_scale,
    )
