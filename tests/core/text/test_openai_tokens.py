"""cl100k_base ids decoded offline, checked against OpenAI's own vocabulary file (the copy that
litellm ships, verified by its published SHA-256)."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
from pathlib import Path

import pytest

from core.text.openai_tokens import CL100K_MAX_ID, TokenInputError, decode_cl100k

#: tiktoken's pinned hash of cl100k_base.tiktoken.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"


def official_ranks() -> dict[int, bytes]:
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    data = (folder / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").read_bytes()
    assert hashlib.sha256(data).hexdigest() == CL100K_SHA256
    ranks = {}
    for line in data.splitlines():
        token, rank = line.split()
        ranks[int(rank)] = base64.b64decode(token)
    return ranks


def test_every_id_decodes_to_the_official_bytes() -> None:
    ranks = official_ranks()
    assert len(ranks) == 100_256
    from core.text import openai_tokens

    encoding = openai_tokens._encoding()
    wrong = [rank for rank, piece in ranks.items() if encoding.decode_bytes([rank]) != piece]
    assert wrong == []


def test_text_split_across_tokens_comes_back_whole() -> None:
    ranks = official_ranks()
    by_bytes = {piece: rank for rank, piece in ranks.items()}
    # "你好" is bytes e4 bd a0 e5 a5 bd; single-byte tokens cut inside each character.
    ids = [by_bytes[bytes([b])] for b in "你好".encode()]
    assert decode_cl100k(ids) == "你好"
    assert decode_cl100k([9906, 1917]) == "Hello world"
    assert decode_cl100k([100257]) == "<|endoftext|>"


@pytest.mark.parametrize("bad", [-1, CL100K_MAX_ID + 1, 100_300, 2**40])
def test_ids_outside_the_vocabulary_are_refused(bad: int) -> None:
    with pytest.raises(TokenInputError, match=str(bad)):
        decode_cl100k([9906, bad])


def test_an_unused_id_inside_the_range_is_refused() -> None:
    with pytest.raises(TokenInputError, match="100270"):
        decode_cl100k([100270])
