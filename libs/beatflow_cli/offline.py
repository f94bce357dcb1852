"""`--offline`: the services' own code run in this process, with no server, for batch work on
local files and for independent checks. Imported only when asked for (it loads the audio stack)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from beatflow_audio import codec, probe
from beatflow_audio.analysis import analyse
from beatflow_audio.analysis_proto import analysis_document, analysis_to_proto
from beatflow_platform.errors import InvalidArgument


def analyze_file(path: Path, *, waveform_points: int = 100) -> dict:
    """The analysis document the REST API returns for the same audio, plus `file` (the base name).
    Raises beatflow_platform.errors.InvalidArgument for what is not audio."""
    data = path.read_bytes()
    with path.open("rb") as handle:
        description = probe.describe(handle, max_seconds=math.inf)
    samples, rate = codec.decode(data)
    analysis = analyse(samples, rate, peak_points=waveform_points)
    return {"file": path.name, **analysis_document(analysis_to_proto(analysis, description.format))}


def generate_files(*, prompt: str, bpm: int, key: str, mood: str, duration: float, seed: int, out: Path) -> dict:
    """Renders with the procedural engine as the generator service does and writes `mix.wav`, a
    `<stem>.wav` and `<stem>.mid` per stem, and `generation.json` (returned): how the prompt was read,
    the seed, bpm, key, engine and renderer. Raises InvalidArgument for a bad request."""
    from beatflow_audio.theory import Key
    from beatflow_generator.engines.procedural.engine import ProceduralEngine
    from beatflow_generator.spec import check

    engine = ProceduralEngine()
    try:
        parsed_key = Key.parse(key) if key else None
    except ValueError:
        raise InvalidArgument.for_field("key", "must be a key such as 'A minor' or 'D dorian'") from None
    spec = check(
        prompt=prompt,
        bpm=bpm,
        mood=mood,
        duration_seconds=duration,
        key=parsed_key,
        engine=engine.name,
        seed=seed,
        engines={engine.name: engine.max_duration_seconds},
    )
    rendering = engine.render(spec, lambda *_: None)
    out.mkdir(parents=True, exist_ok=True)
    for name, samples in rendering.stems.items():
        (out / f"{name}.wav").write_bytes(codec.encode(samples, rendering.sample_rate, "WAV"))
    for name, midi in rendering.midi.items():
        midi.write(str(out / f"{name}.mid"))
    document = {
        "engine": engine.name,
        "renderer": rendering.renderer,
        "seed": spec.seed,
        "bpm": rendering.bpm,
        "key": rendering.key.name,
        "duration_seconds": spec.duration_seconds,
        "stems": sorted(name for name in rendering.stems if name != "mix"),
        "prompt_reading": rendering.prompt_reading,
    }
    (out / "generation.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document
