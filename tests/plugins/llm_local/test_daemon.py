"""The engine served by a real daemon process, called with the official ``openai`` client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.plugins.llm_local.served_models import smollm2_and_tiny_config
from tests.support.configs import engine_entry
from tests.support.daemon import serving


@dataclass(frozen=True)
class Daemon:
    url: str
    folder: Path

    def log_events(self) -> list[dict[str, Any]]:
        port = self.url.rsplit(":", 1)[1]
        lines = (self.folder / f"daemon-{port}.log").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.fixture(scope="module")
def daemon(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("llm-daemon")
    missing = {"model": str(folder / "no-such-model.gguf")}
    broken = engine_entry("llm", "llama_cpp", missing, preload=False)
    config = smollm2_and_tiny_config(
        tiny_gguf, n_ctx=32768, log_format="json", more_engines={"broken": broken}
    )
    with serving(folder, config) as url:
        yield Daemon(url, folder)


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=daemon.url + "/v1", api_key="unused", max_retries=0) as api:
        yield api


def test_streaming_chat_with_usage_through_an_openai_alias(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "What is the capital of France? Answer in one sentence."}
        ],
        temperature=0,
        max_tokens=48,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    finish: list[str] = []
    usage: list[Any] = []
    for chunk in stream:
        if chunk.usage is not None:
            usage.append(chunk.usage)
        for choice in chunk.choices:
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert "Paris" in "".join(pieces)
    assert len(pieces) >= 5, "the reply should arrive in many chunks"
    assert finish in (["stop"], ["length"])
    assert len(usage) == 1
    assert usage[0].prompt_tokens > 10
    assert 0 < usage[0].completion_tokens <= 48
    assert usage[0].total_tokens == usage[0].prompt_tokens + usage[0].completion_tokens


def test_a_whole_reply_names_the_engine(client: openai.OpenAI) -> None:
    response = client.chat.completions.with_raw_response.create(
        model="smollm2",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello."},
        ],
        temperature=0,
        max_tokens=64,
    )
    assert response.headers["x-voxgate-engine"] == "smollm2"
    completion = response.parse()
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_max_tokens_and_stop_reach_the_engine(client: openai.OpenAI) -> None:
    def reply(**fields: Any) -> tuple[str, str, int]:
        completion = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Go"}], temperature=0, **fields
        )
        assert completion.usage is not None
        choice = completion.choices[0]
        return (
            choice.message.content or "",
            choice.finish_reason,
            completion.usage.completion_tokens,
        )

    full, finish, tokens = reply(max_tokens=30)
    assert (len(full), finish, tokens) == (30, "length", 30)
    stop = full[10:13]
    cut, finish, _ = reply(max_tokens=30, stop=[stop])
    assert (cut, finish) == (full[: full.index(stop)], "stop")


def test_a_client_that_leaves_mid_stream_frees_the_model(
    client: openai.OpenAI, daemon: Daemon
) -> None:
    asked = 30_000
    with client.chat.completions.with_streaming_response.create(
        model="tiny",
        messages=[{"role": "user", "content": "Write forever"}],
        temperature=0,
        max_tokens=asked,
        stream=True,
    ) as response:
        lines = response.iter_lines()
        received = [line for line, _ in zip(lines, range(6), strict=False)]
    assert any("content" in line for line in received)
    # Wait (bounded) until the daemon has noticed the disconnect, the generation thread has
    # stopped and the engine's slot is free.
    deadline = time.monotonic() + 60
    while True:
        cancelled = [e for e in daemon.log_events() if e["event"] == "llm.generation_cancelled"]
        if cancelled and not _engine_status(daemon, "tiny")["active"]:
            break
        assert time.monotonic() < deadline, "the generation kept running after the client left"
        time.sleep(0.05)
    assert len(cancelled) == 1
    assert cancelled[0]["engine"] == "tiny"
    assert cancelled[0]["completion_tokens"] < asked
    completion = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Next"}], temperature=0, max_tokens=8
    )
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 8


def test_a_missing_model_is_a_clear_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as error:
        client.chat.completions.create(
            model="broken", messages=[{"role": "user", "content": "Hi"}], max_tokens=4
        )
    assert error.value.status_code == 503
    assert "no-such-model.gguf" in error.value.message
    assert "GGUF model not found" in error.value.message


def test_hostile_schemas_are_refused_and_the_daemon_keeps_serving(client: openai.OpenAI) -> None:
    # Before they were refused, the first crashed the process in llama.cpp's grammar parser and
    # the second escaped as a 503.
    huge_string: Any = {
        "type": "object",
        "properties": {"a": {"type": "string", "maxLength": 10**6}},
    }
    wrong_kind: Any = {"type": "object", "properties": {"a": {"type": "array", "items": 5}}}
    for parameters in (huge_string, wrong_kind):
        with pytest.raises(openai.BadRequestError) as error:
            client.chat.completions.create(
                model="tiny",
                messages=[{"role": "user", "content": "Hi"}],
                tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}],
                tool_choice="required",
                max_tokens=4,
            )
        assert "the parameters of function 'f'" in error.value.message
    completion = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_longer_than_the_context_is_context_length_exceeded(
    client: openai.OpenAI, stream: bool
) -> None:
    # The code OpenAI answers with, which clients check to trim the history and ask again.
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello " * 3000}],
            max_tokens=2,
            stream=stream,
        )
    assert error.value.code == "context_length_exceeded"
    assert error.value.param == "messages"
    assert "n_ctx" in error.value.message


def _engine_status(daemon: Daemon, name: str) -> dict[str, Any]:
    status = httpx.get(daemon.url + "/control/status", timeout=10).json()
    engines = status["engines"]
    if isinstance(engines, dict):
        return dict(engines[name])
    return dict(next(e for e in engines if e["name"] == name))
