"""The public view of what a job was asked to do: `Job.request`.

The payload column is the handlers' working copy (it also holds cache keys, model revisions, batch
ids and the melody a hum-to-beat job transcribed), so the view is an allow-list per kind, kept here
beside the JobService because any replica answers for any job, whichever engine it runs. A key a
handler adds to its payload stays private until it is added here (and to docs/jobs.md).
"""

from __future__ import annotations

from collections.abc import Callable

GENERATION_FIELDS = ("prompt", "bpm", "mood", "duration_seconds", "key", "engine")
SAMPLING_FIELDS = ("temperature", "top_k", "top_p", "guidance_scale")
SEPARATION_OPTIONS = ("model_name", "segment_seconds", "overlap", "shifts")


def _pick(source: dict, names: tuple[str, ...]) -> dict:
    return {name: source[name] for name in names if name in source}


def _generation(payload: dict) -> dict:
    spec = payload.get("spec", {})
    source = payload.get("source", {})
    extras = {
        "operation": spec.get("operation"),
        "lands_in": payload.get("destination"),
        "rerender_of": payload.get("rerender_of"),
    }
    return {
        **_pick(spec, GENERATION_FIELDS),
        # A string, as proto3 JSON writes int64: a JSON number would round seeds above 2**53.
        "seed": str(spec.get("seed", 0)),
        "sampling": _pick(spec, SAMPLING_FIELDS),
        "repo_id": source.get("repo_id", ""),
        "commit_id": source.get("commit_id", ""),
        # Shown when asked for: the operation, where the result lands, the commit rendered again.
        **{name: value for name, value in extras.items() if value},
    }


def _hum_to_beat(payload: dict) -> dict:
    return {**_generation(payload), "hum_blob_id": payload.get("hum_blob_id", "")}


def _separation(payload: dict) -> dict:
    return {**_pick(payload, ("source_blob_id", "engine")), **_pick(payload.get("options", {}), SEPARATION_OPTIONS)}


def _analysis(payload: dict) -> dict:
    return _pick(payload, ("blob_id", "waveform_points"))


VIEWS: dict[str, Callable[[dict], dict]] = {
    "generator.generate": _generation,
    "generator.hum_to_beat": _hum_to_beat,
    "separator.separate": _separation,
    "separator.analyze": _analysis,
}


def request_view(kind: str, payload: dict) -> dict:
    """The published parameters of a job of `kind`; empty for a kind without a view."""
    view = VIEWS.get(kind)
    return view(payload) if view else {}
