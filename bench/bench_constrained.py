"""Constrained decoding: what holding SmolLM2-135M to a JSON-schema grammar costs per token,
against free decoding of the same prompt, in one run.

Three paths through voxgate's ``llama_cpp`` model, in process (no HTTP):

1. free: no grammar (the engine's usual greedy pick);
2. grammar: held to the grammar llama.cpp builds from a JSON schema, with voxgate's pick: the
   unconstrained pick first, checked against the grammar, the grammar run over the whole
   vocabulary only when it rejects that token (plugins/llm_local/samplers.py);
3. library grammar: the same grammar through llama-cpp-python's own sampler chain, which runs
   the grammar over all 49,152 candidates at every step (what voxgate would cost without 2).

Each round asks for a new person record (a schema with strings, an integer, an enum array and
a nullable field), and every path decodes it from the same cached prompt, greedy, paths taking
turns at going first. The figure is decode time per token, (last token - first token) /
(tokens - 1), so prompt evaluation and reply length do not enter it; ratios are paired per round
(each path against free decoding in the same round) and their median is reported with the ratio
of the medians.

    python -m bench.bench_constrained [--rounds 12] [--max-tokens 96] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import emit, ms
from core.engines.llm import ChatMessage, ChatRequest
from core.observability.logging import configure_logging
from plugins.llm_local import grammars, samplers
from plugins.llm_local.engine import LlamaCppEngine
from plugins.llm_local.loaded_model import LoadedModel
from plugins.llm_local.sampling import sampling_for
from tests.plugins.llm_local.support import build_engine

PEOPLE = [
    "a lighthouse keeper",
    "a retired astronaut",
    "a baker in Lyon",
    "a young chess champion",
    "a beekeeper",
    "a marine biologist",
    "a jazz drummer",
    "a mountain guide",
    "a bookshop owner",
    "a train driver",
    "a potter",
    "a night-shift nurse",
    "a glassblower",
    "a tea merchant",
]
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer"},
        "city": {"type": "string", "maxLength": 40},
        "hobbies": {
            "type": "array",
            "items": {"enum": ["reading", "hiking", "cooking", "music", "chess", "painting"]},
            "maxItems": 3,
        },
        "nickname": {"type": ["string", "null"], "maxLength": 20},
        "biography": {"type": "string", "maxLength": 200},
    },
    "required": ["name", "age", "city", "hobbies", "nickname", "biography"],
    "additionalProperties": False,
}
PATHS = ("free", "grammar", "library grammar")


def decode(
    model: LoadedModel, prompt: list[int], request: ChatRequest, grammar: str | None, limit: int
) -> tuple[int, float]:
    """Tokens decoded and seconds from the first token to the last."""
    sampling = sampling_for(LlamaCppEngine.Settings(), request)  # type: ignore[arg-type]
    stamps: list[float] = []
    for token in model.generate(prompt, sampling, grammar):
        if token is None:
            break
        stamps.append(time.perf_counter())
        if len(stamps) >= limit:
            break
    return len(stamps), (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")


def library_decode(
    model: LoadedModel, prompt: list[int], request: ChatRequest, grammar: str, limit: int
) -> tuple[int, float]:
    del model.llama._init_sampler  # the instance's override: llama-cpp-python's chain again
    try:
        return decode(model, prompt, request, grammar, limit)
    finally:
        samplers.install(model.llama)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_logging("warning", "console")
    grammar = grammars.schema_grammar(SCHEMA, strict=True, what="bench schema")

    with tempfile.TemporaryDirectory() as folder:
        engine = build_engine({"n_threads": args.threads}, Path(folder))
        asyncio.run(engine.load())
        model = engine._model
        assert model is not None
        per_token: dict[str, list[float]] = {path: [] for path in PATHS}
        tokens: dict[str, list[int]] = {path: [] for path in PATHS}
        ratios: dict[str, list[float]] = {path: [] for path in PATHS[1:]}
        for index in range(args.rounds + 1):  # round 0 warms up and is not counted
            who = PEOPLE[index % len(PEOPLE)]
            request = ChatRequest(
                messages=(
                    ChatMessage("user", f"Describe {who} as a JSON record: name, age, city, "),
                ),
                temperature=0,
                max_tokens=args.max_tokens,
            )
            rendered = model.template.render(request.messages)
            prompt = model.tokenize(rendered.text, rendered.add_bos)
            order = PATHS[index % 3 :] + PATHS[: index % 3]
            this_round: dict[str, float] = {}
            for path in order:
                if path == "library grammar":
                    count, seconds = library_decode(
                        model, prompt, request, grammar, args.max_tokens
                    )
                else:
                    held = grammar if path == "grammar" else None
                    count, seconds = decode(model, prompt, request, held, args.max_tokens)
                if count > 1:
                    this_round[path] = seconds / (count - 1)
                    if index:
                        tokens[path].append(count)
            if index and len(this_round) == len(PATHS):
                for path in PATHS:
                    per_token[path].append(this_round[path])
                for path in PATHS[1:]:
                    ratios[path].append(this_round[path] / this_round["free"])
        asyncio.run(engine.close())

    emit(
        f"constrained decoding, SmolLM2-135M Q4_1, greedy, {args.threads} threads, "
        f"{len(per_token['free'])} rounds, up to {args.max_tokens} tokens"
    )
    emit(f"{'path':<17} {'per token p50':>14} {'tokens p50':>11} {'ratio p50':>10} {'p50/p50':>8}")
    free = statistics.median(per_token["free"])
    for path in PATHS:
        median = statistics.median(per_token[path])
        paired = f"{statistics.median(ratios[path]):.2f}x" if path in ratios else "1.00x"
        emit(
            f"{path:<17} {ms(median):>14} {statistics.median(tokens[path]):>11.0f} "
            f"{paired:>10} {median / free:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
