"""Identifiers the API hands out. Blobs and commits are addressed by the sha256 of their content,
written as 64 lowercase hexadecimal digits; the services validate with the same pattern."""

from __future__ import annotations

import re

SHA256_ID = r"^[0-9a-f]{64}$"


def is_sha256_id(value: str) -> bool:
    """Whether `value` has the shape of a blob or commit id (it may still name nothing)."""
    return re.fullmatch(SHA256_ID, value) is not None
