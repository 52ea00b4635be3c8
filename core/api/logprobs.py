"""Token log probabilities as OpenAI's chat and Responses APIs both write them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.engines.llm import TokenLogprob


def logprob_items(tokens: Iterable[TokenLogprob]) -> list[dict[str, Any]]:
    """One item per token, with its most likely alternatives."""
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": list(t.bytes),
            "top_logprobs": [
                {"token": top.token, "logprob": top.logprob, "bytes": list(top.bytes)}
                for top in t.top
            ],
        }
        for t in tokens
    ]
