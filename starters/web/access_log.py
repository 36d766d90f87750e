"""The web service's access log without the secrets some paths carry: the signed link tokens
of `/accept/…`, `/sign/…`, `/listing/…` and the codec capability token of `/codec/…/decode`
are replaced before uvicorn writes the line (a log is read by more people than the links)."""

from __future__ import annotations

import logging
import re

REDACTED = "[token]"
_LINK = re.compile(r"(/(?:accept|sign|listing)/)[^/?#\s]+")
_CODEC = re.compile(r"(/codec/)[^/?#\s]+(?=/)")


def redact_path(path: str) -> str:
    """`path` with its link or codec token replaced by `[token]`."""
    return _CODEC.sub(rf"\1{REDACTED}", _LINK.sub(rf"\1{REDACTED}", path))


class RedactTokens(logging.Filter):
    """Rewrites the path argument of uvicorn's access-log records (client, method, path,
    HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_path(args[2]), *args[3:])
        return True


def redact_access_log(logger_name: str = "uvicorn.access") -> None:
    """Install the filter once on uvicorn's access logger."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
