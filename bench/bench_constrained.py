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
a nullable field), and every path decodes it from the same cached prompt, paths taking turns at
going first: greedy (temperature 0), then sampled at the engine's default temperature (0.2,
seeded per round). Greedy picks that the grammar rejects are looked for among the 32 likeliest
tokens before the whole vocabulary; sampled ones go to the whole vocabulary at once (an exact
shortcut would need the distribution's whole allowed part). The figure is decode time per token,
(last token - first token) / (tokens - 1), so prompt evaluation and reply length do not enter
it; ratios are paired per round (each path against free decoding in the same round and mode)
and their median is reported with the ratio of the medians.

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
from plugins.llm_local.sampling_params import sampling_for
from plugins.llm_local.settings import LlamaCppSettings
from tests.support.engines import build_engine

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
#: Greedy, and the engine's default temperature (settings.py).
TEMPERATURES = (0.0, 0.2)


def decode(
    model: LoadedModel, prompt: list[int], request: ChatRequest, grammar: str | None, limit: int
) -> tuple[int, float]:
    """Tokens decoded and seconds from the first token to the last."""
    sampling = sampling_for(LlamaCppSettings(), request)
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
        engine = build_engine(LlamaCppEngine, {"n_threads": args.threads}, Path(folder), "llm")
        asyncio.run(engine.load())
        model = engine._model
        assert model is not None
        rows = [(temperature, path) for temperature in TEMPERATURES for path in PATHS]
        per_token: dict[tuple[float, str], list[float]] = {row: [] for row in rows}
        tokens: dict[tuple[float, str], list[int]] = {row: [] for row in rows}
        ratios: dict[tuple[float, str], list[float]] = {row: [] for row in rows}
        for index in range(args.rounds + 1):  # round 0 warms up and is not counted
            who = PEOPLE[index % len(PEOPLE)]
            for temperature in TEMPERATURES:
                request = ChatRequest(
                    messages=(
                        ChatMessage("user", f"Describe {who} as a JSON record: name, age, city."),
                    ),
                    temperature=temperature,
                    seed=index,
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
                            tokens[(temperature, path)].append(count)
                if index and len(this_round) == len(PATHS):
                    for path in PATHS:
                        per_token[(temperature, path)].append(this_round[path])
                        ratios[(temperature, path)].append(this_round[path] / this_round["free"])
        asyncio.run(engine.close())

    emit(
        f"constrained decoding, SmolLM2-135M Q4_1, {args.threads} threads, "
        f"{len(per_token[rows[0]])} rounds, up to {args.max_tokens} tokens"
    )
    emit(
        f"{'temperature':<12} {'path':<17} {'per token p50':>14} {'tokens p50':>11} "
        f"{'ratio p50':>10} {'p50/p50':>8}"
    )
    for temperature, path in rows:
        median = statistics.median(per_token[(temperature, path)])
        free = statistics.median(per_token[(temperature, "free")])
        paired = statistics.median(ratios[(temperature, path)])
        emit(
            f"{temperature:<12} {path:<17} {ms(median):>14} "
            f"{statistics.median(tokens[(temperature, path)]):>11.0f} "
            f"{paired:>9.2f}x {median / free:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
