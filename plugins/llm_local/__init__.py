"""Offline chat with llama.cpp (llama-cpp-python): any GGUF model, SmolLM2-135M-Instruct by default.

Registers the ``llama_cpp`` LLM engine. Importing this module stays cheap: llama_cpp is imported
only when the engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import LLMEngine
from core.hookspecs import hookimpl
from plugins.llm_local.engine import LlamaCppEngine


@hookimpl
def voxgate_llm_engines() -> Mapping[str, type[LLMEngine]]:
    return {"llama_cpp": LlamaCppEngine}
