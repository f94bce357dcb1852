"""Checks of user-supplied names and fields; each failure names the field it is about."""

from __future__ import annotations

import uuid

from beatflow_platform import naming
from beatflow_platform.errors import InvalidArgument


def require(condition: bool, field: str, description: str) -> None:
    if not condition:
        raise InvalidArgument.for_field(field, description)


def username(value: str, field: str = "username") -> str:
    require(naming.matches(naming.USERNAME, value), field, naming.USERNAME_RULE)
    return value


def repository_name(value: str, field: str = "name") -> str:
    """The name as stored: NFC-normalised, then checked (the rule applies to what is stored)."""
    value = naming.normalized_name(value)
    require(naming.matches(naming.REPOSITORY_NAME, value), field, naming.REPOSITORY_NAME_RULE)
    return value


def ref_name(value: str, field: str = "name") -> str:
    require(len(value) <= naming.MAX_REF_LENGTH and naming.matches(naming.REF_NAME, value), field, naming.REF_NAME_RULE)
    return value


def stem_name(value: str, field: str = "stems.name") -> str:
    """Stem names are keys compared as sent, so they must already be NFC ("e\u0301" is refused, "é" is not)."""
    require(naming.matches(naming.STEM_NAME, value), field, naming.STEM_NAME_RULE)
    require(naming.normalized_name(value) == value, field, "must be in Unicode NFC (composed) form")
    return value


def stem_reference(value: str, field: str) -> str:
    """A stem named to find one (not to create it): NFC-normalised as stored names are, then checked, so
    "e\u0301cho" finds the stem "écho"."""
    value = naming.normalized_name(value)
    require(naming.matches(naming.STEM_NAME, value), field, naming.STEM_NAME_RULE)
    return value


def uuid_id(value: str, field: str) -> str:
    """Ids of users and repositories are UUIDs; anything else cannot exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument.for_field(field, "must be a UUID") from None
