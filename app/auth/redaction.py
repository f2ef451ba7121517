"""Keep API-key secrets out of the logs, whatever logs them (e.g. a key a client put in a URL)."""

from __future__ import annotations

import logging
import re

# The prefix stays (it names the key in logs); the secret part is replaced.
_TOKEN = re.compile(r"\b(dik_[0-9a-f]{8}_)[A-Za-z0-9_-]{43}")
# The server's request lines: a key a client wrongly put in a URL would otherwise be written out.
# (druginfo's own code never logs credentials.)
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return _TOKEN.sub(r"\1<redacted>", text)


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction() -> None:
    """Idempotent: adds the filter once to each logger that may see request lines."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
