"""Both embeddings engines on their shipped models, through the OpenAI embeddings endpoint."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from core.api.app import create_app
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {watch: false}
engines:
  minilm: {capability: embeddings, engine: sentence_transformers}
  e5: {capability: embeddings, engine: e5}
routes: {embeddings: [minilm, e5]}
"""


@contextlib.asynccontextmanager
async def client_for(tmp_path: Path) -> AsyncIterator[openai.AsyncOpenAI]:
    config = tmp_path / "emb.yaml"
    config.write_text(CONFIG)
    async with running_runtime(config, entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, timeout=60) as http:
            yield openai.AsyncOpenAI(
                base_url="http://voxgate.test/v1", api_key="x", http_client=http, max_retries=0
            )


@pytest.mark.parametrize("model", ["minilm", "e5"])
async def test_similar_texts_are_closer(tmp_path: Path, model: str) -> None:
    texts = [
        "The cat sits on the mat.",
        "A kitten is lying on a rug.",
        "Stock prices fell sharply.",
    ]
    async with client_for(tmp_path) as client:
        result = await client.embeddings.create(model=model, input=texts)
    vectors = np.array([item.embedding for item in result.data])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    similar, different = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > different
    assert result.usage.prompt_tokens > 0


async def test_e5_matches_across_chinese_and_english(tmp_path: Path) -> None:
    texts = ["大熊猫吃竹子", "Giant pandas eat bamboo.", "The stock market closed lower today."]
    async with client_for(tmp_path) as client:
        result = await client.embeddings.create(model="e5", input=texts)
    vectors = np.array([item.embedding for item in result.data])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
