"""The daemon config the served tests share: SmolLM2 (the shipped model) behind the ``llm`` route
and ``gpt-4o-mini``, and the tiny random model asked for by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support.configs import daemon_config, engine_entry


def smollm2_and_tiny_config(
    tiny_gguf: Path,
    *,
    n_ctx: int,
    log_format: str | None = None,
    more_engines: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Both models preloaded, the tiny one with a context of ``n_ctx`` tokens."""
    engines = {
        "smollm2": engine_entry("llm", "llama_cpp"),
        "tiny": engine_entry("llm", "llama_cpp", {"model": str(tiny_gguf), "n_ctx": n_ctx}),
        **(more_engines or {}),
    }
    return daemon_config(
        engines,
        log_level="info",
        log_format=log_format,
        routes={"llm": ["smollm2"]},
        sections={"aliases": {"gpt-4o-mini": "llm"}},
    )
