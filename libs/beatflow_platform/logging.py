"""Structured logging: one JSON object per line, carrying the request id of the call in progress.

Uses structlog over the standard library so that library loggers (grpc, psycopg) end up in
the same stream and format.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog
from structlog.types import EventDict, WrappedLogger

_SHARED_PROCESSORS: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
]


# Credentials that may ride in a logged URL or message (a WebSocket's `?token=`, a header
# echoed in an error): masked in every line, whoever logs it.
_SECRET_PATTERNS = (
    (re.compile(r"([?&](?:token|access_token|refresh_token|password)=)[^&\s\"']+", re.IGNORECASE), r"\1[REDACTED]"),
    (re.compile(r"(Bearer\s+)[\w.~+/-]+=*", re.IGNORECASE), r"\1[REDACTED]"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]+"), "[REDACTED JWT]"),
)
# What every match of a pattern above starts with: one search finds the (rare) values that need masking, where
# three substitutions on every value of every line cost more than the rest of the line's formatting.
_MAYBE_SECRET = re.compile(r"(?i:[?&](?:token|access_token|refresh_token|password)=|bearer\s)|\beyJ")


def redact_secrets(text: str) -> str:
    if _MAYBE_SECRET.search(text) is None:
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redactor(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    return {key: redact_secrets(value) if isinstance(value, str) else value for key, value in event.items()}


def _service_adder(service: str) -> structlog.types.Processor:
    def add_service(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add_service


# The processors of every structlog logger, one list updated in place: a logger is built once, on its first line
# (building one per line cost more than a dropped line), and still follows a later configure_logging.
_PROCESSORS: list[structlog.types.Processor] = []


def configure_logging(level: str = "INFO", *, json: bool = True, service: str = "") -> None:
    """Route structlog and stdlib logging to stderr in one format. Safe to call again."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    processors = [*_SHARED_PROCESSORS, _service_adder(service)] if service else list(_SHARED_PROCESSORS)
    # Below the level, a line is dropped before it is built (the standard library would drop it after).
    _PROCESSORS[:] = [
        structlog.stdlib.filter_by_level,
        *processors,
        structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
    ]
    structlog.configure(
        processors=_PROCESSORS,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=processors,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _redactor, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
