"""Structured logging: JSON in production, readable in a terminal.

Confidentiality rule: at info level and above, log case code names, message ids
and counts only, never addresses, names, subjects or bodies.  Exception messages
often quote data (a database error lists its statement's parameters, a parse
error the bytes it choked on), so above debug level a traceback is logged with
its frames and exception types but without the messages (`redact_exc_info`).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from typing import Any

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


# Events at these levels may carry an exception's message (the operator chose debug).
_FULL_EXCEPTION_LEVELS = frozenset({"debug"})


def _exception_of(exc_info: Any) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    if exc_info:
        return sys.exc_info()[1]
    return None


def redacted_traceback(exc: BaseException) -> str:
    """`exc`'s traceback (and its causes') with exception types but no messages."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ if current.__cause__ is not None else (
            None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for item in reversed(chain):
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(item.__traceback__))
        kind = type(item)
        parts.append(f"{kind.__module__}.{kind.__qualname__} (message not logged above "
                     "debug level; it may quote mail)\n")
    return "".join(parts)


def redact_exc_info(logger: Any, method_name: str,
                    event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Processor: render `exc_info` as a traceback without messages above debug level."""
    level = str(event_dict.get("level") or method_name)
    if "exc_info" not in event_dict or level in _FULL_EXCEPTION_LEVELS:
        return event_dict
    exc = _exception_of(event_dict.pop("exc_info"))
    if exc is not None:
        event_dict["exception"] = redacted_traceback(exc)
    return event_dict


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Set up structlog; `fmt` is json, console, or auto (console on a TTY)."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_exc_info,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str) -> Any:
    """A bound logger tagged with the component name."""
    # Initial values, not .bind(): binding would build the logger now, before configure().
    return structlog.get_logger(component=name)
