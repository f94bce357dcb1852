"""Typed Python clients of the BeatFlow gRPC services, async (`AsyncBeatFlow`) and sync (`BeatFlow`)."""

from beatflow_sdk.client import AsyncBeatFlow, BeatFlow, Endpoints

__all__ = ["AsyncBeatFlow", "BeatFlow", "Endpoints"]
