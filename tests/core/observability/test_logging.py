"""Log events never carry secrets, and counts that merely mention tokens stay readable."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from core.observability.logging import configure_logging, is_secret_key


@pytest.mark.parametrize(
    "key",
    ["api_key", "OPENAI_API_KEY", "token", "control_token", "access-token", "Authorization",
     "password", "client_secret", "credentials", "x-api-key", "cookie"],
)  # fmt: skip
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    ["completion_tokens", "prompt_tokens", "max_tokens", "tokens_per_second", "engine", "keyword"],
)
def test_ordinary_keys_are_not(key: str) -> None:
    assert not is_secret_key(key)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Leave logging as the next test expects it, whatever this one configured."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.configure(**saved)
    root.handlers[:] = handlers
    root.setLevel(level)


def test_events_are_redacted_on_the_way_out(
    capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    configure_logging("info", fmt="json")
    log = structlog.get_logger("voxgate.test")
    log.info("llm.done", completion_tokens=12, api_key="sk-live-123", control_token="abc")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [event] = [line for line in lines if line.get("event") == "llm.done"]
    assert event["completion_tokens"] == 12
    assert event["api_key"] == "***" and event["control_token"] == "***"
    assert "sk-live-123" not in json.dumps(lines)


def test_a_stream_swapped_after_configuration_is_followed(
    monkeypatch: pytest.MonkeyPatch, restored_logging: None
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("info", fmt="json")
    first.close()  # as a test's capture is when the test ends
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    structlog.get_logger("voxgate.test").info("after.swap", n=1)
    logging.getLogger("voxgate.stdlib").warning("stdlib after swap")
    written = second.getvalue()
    assert '"event": "after.swap"' in written and "stdlib after swap" in written
