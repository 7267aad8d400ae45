"""Process-wide logging: one JSON object per line (or plain text for humans), secrets scrubbed."""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.observability.redaction import MAX_TRACEBACK, redact, redact_value

# The id of the request being served; set by the request context middleware, read by every log line.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's coloured duplicate of the message
    "taskName",
}
_encode = msgspec.json.Encoder(enc_hook=str).encode


def timestamp(created: float) -> str:
    """A record's time as every JSON line shows it: ISO 8601, milliseconds, UTC."""
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """timestamp, level, logger, message, request_id, plus the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": request_id.get(),
        }
        for key, value in _extra_fields(record):
            if key not in entry:
                entry[key] = redact_value(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info), MAX_TRACEBACK)
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info), MAX_TRACEBACK)
        try:
            return _encode(entry).decode()
        except (TypeError, ValueError, msgspec.EncodeError):
            return _encode({key: str(value) for key, value in entry.items()}).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, extra fields as key=value, with the same scrubbing."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record), MAX_TRACEBACK)
        fields = " ".join(f"{key}={redact_value(key, value)}" for key, value in _extra_fields(record))
        line = f"{line} {fields}" if fields else line
        rid = request_id.get()
        return f"{line} [request {rid}]" if rid else line


def _extra_fields(record: logging.LogRecord) -> list[tuple[str, Any]]:
    """What the call passed as `extra`: the record's attributes logging itself does not set."""
    return [
        (key, value)
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    ]


def logging_config(level: str, fmt: str = "json") -> dict[str, Any]:
    """A dictConfig for the whole process, uvicorn's loggers included (their lines go through ours)."""
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    quiet = max(logging.WARNING, logging.getLevelName(level.upper()))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            **{
                name: {"level": level.upper(), "handlers": [], "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Client libraries chatter at INFO about every reconnect; their warnings are what matters.
            "aiokafka": {"level": logging.getLevelName(quiet)},
        },
    }


def configure_logging(level: str, fmt: str = "json") -> None:
    """Route every logger of this process through one handler in the chosen format."""
    logging.config.dictConfig(logging_config(level, fmt))
    skip_unused_record_fields()


def skip_unused_record_fields() -> None:
    """Neither format shows the caller's file and line, thread or process: logging need not look them
    up for every record."""
    logging._srcfile = None  # the knob the logging HOWTO documents
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
