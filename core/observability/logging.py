"""structlog set-up: JSON lines when not on a terminal, key-value events, no secrets."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Literal

import structlog

# Words that make a key secret. Whole words, so counts like ``completion_tokens`` or
# ``max_tokens`` stay readable while ``token``, ``control_token`` or ``api_key`` are hidden.
_SECRET_WORDS = frozenset(
    {"token", "password", "passwd", "secret", "authorization", "apikey", "credential", "cookie"}
)
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")


def is_secret_key(key: str) -> bool:
    folded = key.lower()
    if "api_key" in folded or "api-key" in folded:
        return True
    words = _WORD_SPLIT.split(folded)
    return any(word in _SECRET_WORDS or word.rstrip("s") == "credential" for word in words)


def _redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if is_secret_key(key):
            event[key] = "***"
    return event


def _current_stderr_logger(*_names: Any) -> structlog.PrintLogger:
    # sys.stderr is looked up per event rather than captured once, so a stream swapped after
    # configuration (a test's capture, a redirected service) never leaves a closed file behind.
    return structlog.PrintLogger(sys.stderr)


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stdlib handler writing to whatever sys.stderr is when a record arrives."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(
    level: str = "info", fmt: Literal["auto", "json", "console"] = "auto"
) -> None:
    """Configure structlog and route stdlib logging (uvicorn, libraries) through it."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_current_stderr_logger,
        cache_logger_on_first_use=False,
    )
    handler = _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("uvicorn.access", "httpx", "httpcore", "watchfiles"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
