"""Structured logging: one JSON object per line, carrying the request id of the call in progress.

Uses structlog over the standard library so that library loggers (grpc, psycopg) end up in
the same stream and format.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

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


def redact_secrets(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redactor(_logger, _method, event: dict) -> dict:
    return {key: redact_secrets(value) if isinstance(value, str) else value for key, value in event.items()}


def _service_adder(service: str) -> structlog.types.Processor:
    def add_service(_logger, _method, event: dict) -> dict:
        event.setdefault("service", service)
        return event

    return add_service


def configure_logging(level: str = "INFO", *, json: bool = True, service: str = "") -> None:
    """Route structlog and stdlib logging to stderr in one format. Safe to call again."""
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    processors = [*_SHARED_PROCESSORS, _service_adder(service)] if service else list(_SHARED_PROCESSORS)
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
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
