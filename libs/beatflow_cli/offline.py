"""`--offline`: the services' own code run in this process, with no server, for batch work on
local files and for independent checks. Imported only when asked for (it loads the audio stack)."""

from __future__ import annotations

import dataclasses
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


def generate_files(
    *,
    prompt: str,
    bpm: int,
    key: str,
    mood: str,
    duration: float,
    seed: int,
    out: Path,
    operation: dict | None = None,
    source: Path | None = None,
) -> dict:
    """Renders with the procedural engine as the generator service does and writes `mix.wav`, a
    `<stem>.wav` and `<stem>.mid` per stem, and `generation.json` (returned): how the prompt was read,
    the seed, bpm, key, engine, renderer, the whole spec (`spec`, which `source` reads back) and the
    operation's figures (`report`). `operation` ({"kind", "bars", "start_seconds", "end_seconds",
    "stem"}) works on the generation in the earlier `out` folder `source` (a loop may have none: it
    loops a new piece). Raises InvalidArgument for a bad request."""
    from beatflow_audio.theory import Key
    from beatflow_generator.engines.procedural.engine import ProceduralEngine
    from beatflow_generator.spec import Operation, check, check_operation, derive

    engine = ProceduralEngine()
    if source is not None:
        spec = _source_spec(source)
    else:
        try:
            parsed_key = Key.parse(key) if key else None
        except ValueError:
            raise InvalidArgument.for_field("key", "must be a key such as 'A minor' or 'D dorian'") from None
        _check_contract_rules(prompt=prompt, bpm=bpm, mood=mood, duration=duration, engine=engine.name, seed=seed)
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
    if operation is not None:
        asked = Operation(**operation)
        origin = spec if source is not None else None
        check_operation(
            asked,
            source=origin,
            source_seconds=engine.arrangement(spec).seconds,
            stems=engine.stems(spec) if origin else (),
        )
        spec = derive(spec, asked, seed=seed) if origin else dataclasses.replace(spec, operation=asked)
    elif source is not None:
        raise InvalidArgument.for_field("operation", "a source folder is read for an operation on it")
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
        "duration_seconds": round(len(rendering.stems["mix"]) / rendering.sample_rate, 6),
        "stems": sorted(name for name in rendering.stems if name != "mix"),
        "prompt_reading": rendering.prompt_reading,
        "report": rendering.report,
        "spec": spec.as_payload(),
    }
    (out / "generation.json").write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    return document


def _check_contract_rules(*, prompt: str, bpm: int, mood: str, duration: float, engine: str, seed: int) -> None:
    """The contract's rules for GenerationParams, which the generator's interceptor applies to every
    request, applied here where no server runs. Raises InvalidArgument with every violation."""
    from beatflow.generator.v1 import generator_pb2
    from beatflow_platform.grpc import validation

    try:
        params = generator_pb2.GenerationParams(
            prompt=prompt, bpm=bpm, mood=mood, duration_seconds=duration, engine=engine, seed=seed
        )
    except ValueError as error:  # a number the message's integer fields cannot hold
        raise InvalidArgument(f"params: {error}") from None
    validation.check(params)


def _source_spec(folder: Path):
    """The spec in an earlier `generate --offline` folder's generation.json."""
    from beatflow_generator.spec import GenerationSpec

    try:
        return GenerationSpec.from_payload(json.loads((folder / "generation.json").read_text())["spec"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InvalidArgument.for_field(
            "from", f"{folder} holds no generation.json with a spec (write it with generate --offline): {error}"
        ) from None
