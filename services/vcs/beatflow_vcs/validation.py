"""Checks of user-supplied names and fields; each failure names the field it is about."""

from __future__ import annotations

import re
import uuid

from beatflow_platform.errors import InvalidArgument

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
STEM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Git's check-ref-format rules, simplified: no spaces, control characters, "..", "~^:?*[\",
# no leading '-' or '/', no trailing '/', '.' or ".lock", no "//" or "@{".
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|//|@\{|^[-/.]|[/.]$|\.lock$|/\.")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
MAX_MESSAGE_LENGTH = 4096
MAX_DESCRIPTION_LENGTH = 2000
MAX_GENRE_LENGTH = 64
MAX_REF_LENGTH = 100


def require(condition: bool, field: str, description: str) -> None:
    if not condition:
        raise InvalidArgument.for_field(field, description)


def username(value: str, field: str = "username") -> str:
    require(bool(USERNAME.match(value)), field, "3 to 32 characters: lowercase letters, digits, '-' and '_', not first")
    return value


def email(value: str) -> str:
    require(len(value) <= 254 and bool(EMAIL.match(value)), "email", "must be an email address")
    return value


def password(value: str) -> str:
    require(
        MIN_PASSWORD_LENGTH <= len(value) <= MAX_PASSWORD_LENGTH,
        "password",
        f"must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
    )
    return value


def repository_name(value: str, field: str = "name") -> str:
    require(
        bool(REPOSITORY_NAME.match(value)) and value == value.strip(),
        field,
        "1 to 100 characters: letters, digits, spaces, '.', '-', '_'; starting with a letter or digit",
    )
    return value


def ref_name(value: str, field: str = "name") -> str:
    require(
        0 < len(value) <= MAX_REF_LENGTH and not _REF_FORBIDDEN.search(value),
        field,
        "must be a valid ref name (no spaces, '..', '~^:?*[\\', leading '-' or '.', or trailing '.lock')",
    )
    return value


def stem_name(value: str, field: str = "stems.name") -> str:
    require(bool(STEM_NAME.match(value)), field, "1 to 64 characters: lowercase letters, digits, '-', '_'")
    return value


def bounded_text(value: str, field: str, maximum: int) -> str:
    require(len(value) <= maximum, field, f"must be at most {maximum} characters")
    require("\x00" not in value, field, "must not contain NUL characters")
    return value


def uuid_id(value: str, field: str) -> str:
    """Ids of users and repositories are UUIDs; anything else cannot exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidArgument.for_field(field, "must be a UUID") from None
