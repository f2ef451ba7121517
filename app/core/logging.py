"""JSON log lines, and the request id every line (and every problem body) carries."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from contextvars import ContextVar
from typing import Any

import orjson

# Accepted from clients as-is; anything else is replaced, so a log line or a header can never be
# forged or split through it.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
REQUEST_ID_HEADER = "X-Request-ID"

_request_id: ContextVar[str | None] = ContextVar("druginfo_request_id", default=None)

access_log = logging.getLogger("druginfo.access")

# LogRecord attributes that are not ours to serialize as extra fields.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def current_request_id() -> str | None:
    """The id of the request being handled (None outside a request), for problem bodies and the audit log."""
    return _request_id.get()


def bind_request_id(incoming: str | None) -> str:
    """Adopt the client's `X-Request-ID` if it is safe, else make one; bind it to this context."""
    if incoming is None or not REQUEST_ID_PATTERN.fullmatch(incoming):
        incoming = os.urandom(16).hex()  # 128 random bits like a uuid4, for a fraction of its cost
    _request_id.set(incoming)
    return incoming


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            line["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def log_config(level: str) -> dict[str, Any]:
    """`logging.config.dictConfig` for `druginfo serve`: everything as JSON lines on stderr.

    uvicorn's own access log is switched off (`access_log=False`): `druginfo.access` writes one
    line per request instead, with the route template and request id uvicorn does not know.
    """
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {
            "": {"handlers": ["stderr"], "level": level},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
