"""The /v1/rag endpoints and the chat `rag` block over HTTP, on the real store and embedder."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai

from core.api.app import create_app
from tests.core.api.test_conversation import wav_upload
from tests.core.ingest.test_extract import tiny_pdf
from tests.plugins.rag_chroma.conftest import chroma, minilm
from tests.support.configs import daemon_config, engine_entry
from tests.support.fake_plugin import CHAT_REQUESTS
from tests.support.runtime import running_runtime


def fake(capability: str, **settings: object) -> dict[str, Any]:
    """The fake plugin's engine for ``capability``: the test's fixed reply, no model."""
    return engine_entry(capability, "fake", settings, preload=False)


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, onnx_cache: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = tmp_path / "rag.yaml"
    engines = {
        "minilm": minilm(onnx_cache),
        "docs": chroma({"path": str(tmp_path / "chroma")}),
        "brain": fake("llm", reply="The queen rules the hive [1]."),
        "ears": fake("stt", reply="who rules the hive"),
        "mouth": fake("tts"),
    }
    limits = {"limits": {"max_upload_bytes": 200_000}}
    config.write_text(daemon_config(engines, sections=limits))
    async with running_runtime(config, entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://voxgate.localhost", timeout=60
        ) as client:
            yield client


async def test_document_lifecycle_and_query(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as client:
        created = await client.post(
            "/v1/rag/documents",
            json={
                "id": "bees",
                "text": "Honey bees live in colonies ruled by a single queen.",
                "metadata": {"title": "Bees", "author": "Ann"},
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["chunks"] == 1
        assert created.headers["x-voxgate-engine"] == "docs"

        upload = await client.post(
            "/v1/rag/documents",
            files={
                "file": (
                    "volcano.pdf",
                    tiny_pdf("Volcanoes erupt when magma rises"),
                    "application/pdf",
                )
            },
            data={"metadata": json.dumps({"author": "Bo"})},
        )
        assert upload.status_code == 201, upload.text
        assert upload.json()["id"] == "volcano.pdf"
        notes = await client.post(
            "/v1/rag/documents",
            files={"file": ("owls.md", b"# Owls\n\nOwls hunt at night.", "text/markdown")},
            data={"id": "owls", "collection": "animals"},
        )
        assert notes.json()["collection"] == "animals"

        records = [
            {"text": "Moles dig tunnels underground.", "author": "Cy"},
            {"text": "Bats navigate by echolocation.", "metadata": {"year": 2020}},
        ]
        many = await client.post(
            "/v1/rag/documents",
            files={"file": ("night.json", json.dumps(records).encode(), "application/json")},
            data={"collection": "animals"},
        )
        assert many.status_code == 201, many.text
        assert [d["id"] for d in many.json()["data"]] == ["night.json:0", "night.json:1"]
        page = b"<html><head><title>Frogs</title></head><body><p>Frogs croak.</p></body></html>"
        html = await client.post(
            "/v1/rag/documents",
            files={"file": ("frogs.html", page, "text/html")},
            data={"collection": "animals"},
        )
        assert html.json()["metadata"] == {"source": "frogs.html", "title": "Frogs"}
        animals = await client.get("/v1/rag/documents", params={"collection": "animals"})
        assert len(animals.json()["data"]) == 4

        listed = (await client.get("/v1/rag/documents")).json()["data"]
        assert {d["id"] for d in listed} == {"bees", "volcano.pdf"}
        got = (await client.get("/v1/rag/documents/bees")).json()
        assert got["metadata"] == {"title": "Bees", "author": "Ann"}

        query = await client.post(
            "/v1/rag/query", json={"question": "Who rules a bee colony?", "top_k": 2}
        )
        hits = query.json()["data"]
        assert hits[0]["document_id"] == "bees" and hits[0]["index"] == 1
        assert hits[0]["title"] == "Bees"
        filtered = await client.post(
            "/v1/rag/query",
            json={"question": "rules", "filters": {"author": "Bo"}, "mode": "dense"},
        )
        assert {h["document_id"] for h in filtered.json()["data"]} == {"volcano.pdf"}

        answer = await client.post(
            "/v1/rag/query", json={"question": "Who rules a bee colony?", "generate": True}
        )
        assert answer.json()["answer"] == "The queen rules the hive [1]."

        stats = (await client.get("/v1/rag/stats")).json()
        assert stats["collections"]["default"]["documents"] == 2
        assert stats["collections"]["animals"]["documents"] == 4

        assert (await client.delete("/v1/rag/documents/bees")).status_code == 200
        assert (await client.delete("/v1/rag/documents/bees")).status_code == 404
        assert (await client.get("/v1/rag/documents/bees")).status_code == 404


async def test_chat_rag_block_returns_citations(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as http:
        await http.post(
            "/v1/rag/documents",
            json={"id": "bees", "text": "Honey bees live in colonies ruled by a single queen."},
        )
        client = openai.AsyncOpenAI(
            base_url="http://voxgate.localhost/v1",
            api_key="x",
            http_client=http,  # type: ignore[arg-type, unused-ignore]
            max_retries=0,
        )
        completion = await client.chat.completions.create(
            model="llm",
            messages=[{"role": "user", "content": "Who rules the hive?"}],
            extra_body={"rag": {"top_k": 1}},
        )
        citations = completion.model_extra["citations"]  # type: ignore[index]
        assert citations[0]["document_id"] == "bees"
        stream = await client.chat.completions.create(
            model="llm",
            messages=[{"role": "user", "content": "Who rules the hive?"}],
            extra_body={"rag": {"top_k": 1}},
            stream=True,
        )
        chunks = [c async for c in stream]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "The queen rules the hive [1]."
        assert any((c.model_extra or {}).get("citations") for c in chunks)


async def test_bad_rag_requests(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as client:
        cases = [
            (await client.post("/v1/rag/documents", json={"text": ""}), 400),
            (
                await client.post(
                    "/v1/rag/documents", json={"text": "x", "collection": "bad name"}
                ),
                400,
            ),
            (
                await client.post(
                    "/v1/rag/documents", files={"file": ("a.docx", b"PK\x03\x04", "x")}
                ),
                415,
            ),
            (
                await client.post(
                    "/v1/rag/documents", files={"file": ("a.txt", b"x" * 300_000, "text/plain")}
                ),
                413,
            ),
            # Each record is a document its job holds: 25 MB of tiny ones were two million.
            (
                await client.post(
                    "/v1/rag/documents",
                    files={
                        "file": ("many.json", b"[" + b",".join([b'{"text":"a"}'] * 10_001) + b"]")
                    },
                ),
                413,
            ),
            # A page with no visible text failed its job, a 400 naming 'text'.
            (
                await client.post(
                    "/v1/rag/documents",
                    files={"file": ("blank.html", b"<html><script>x()</script></html>")},
                ),
                415,
            ),
            # A records file with no records used to fail with a 500.
            (
                await client.post(
                    "/v1/rag/documents", files={"file": ("none.json", b"[]", "application/json")}
                ),
                415,
            ),
            (await client.post("/v1/rag/query", json={"question": ""}), 400),
            (await client.post("/v1/rag/query", json={"question": "x", "top_k": 0}), 400),
            (await client.post("/v1/rag/query", json={"question": "x", "mode": "fuzzy"}), 400),
            (
                await client.post("/v1/rag/query", json={"question": "x", "filters": {"a": [1]}}),
                400,
            ),
            # More values than the store takes in one statement: the client's 400, not a 503.
            (
                await client.post(
                    "/v1/rag/query",
                    json={"question": "x", "filters": {"n": {"$in": list(range(40_000))}}},
                ),
                400,
            ),
            (await client.get("/v1/rag/documents?limit=x"), 400),
            # Digits int() refuses: a superscript, and more digits than it reads.
            (await client.get("/v1/rag/documents?limit=\u00b2"), 400),
            (await client.get("/v1/rag/documents?offset=" + "9" * 5000), 400),
        ]
        for response, status in cases:
            assert response.status_code == status, response.text
            assert "error" in response.json()


async def test_a_nan_min_score_is_refused(tmp_path: Path, onnx_cache: Path) -> None:
    # NaN compares false with every score: it used to match nothing and answer an empty list.
    question = {"role": "user", "content": "who rules the hive"}
    async with gateway(tmp_path, onnx_cache) as client:
        query = await client.post("/v1/rag/query", json={"question": "x", "min_score": "NaN"})
        chat = await client.post(
            "/v1/chat/completions", json={"messages": [question], "rag": {"min_score": "NaN"}}
        )
    assert query.status_code == 400, query.text
    assert query.json()["error"]["param"] == "min_score"
    assert chat.status_code == 400, chat.text
    assert chat.json()["error"]["param"] == "rag.min_score"


async def test_conversation_rag_grounds_the_spoken_turn(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as client:
        for doc_id, text in [
            ("bees", "Honey bees live in colonies ruled by a single queen."),
            ("tides", "Ocean tides follow the pull of the Moon."),
        ]:
            await client.post(
                "/v1/rag/documents", json={"id": doc_id, "text": text, "collection": "nature"}
            )
        rag = json.dumps({"collection": "nature", "top_k": 1})
        response = await client.post(
            "/v1/conversation", files=wav_upload(), data={"rag": rag, "response_format": "none"}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert [c["document_id"] for c in body["citations"]] == ["bees"]
        assert body["citations"][0]["index"] == 1
        assert body["engines"]["rag"] == "docs"
        assert body["latency_ms"]["stt"] <= body["latency_ms"]["rag"]
        # The model saw the retrieved chunk as a numbered source, before the user's words.
        messages = CHAT_REQUESTS["brain"].messages
        assert [m.role for m in messages] == ["system", "system", "user"]
        assert "[1] Honey bees live in colonies" in messages[1].content
        assert messages[2].content == "who rules the hive"

        # A bare collection name works too; streamed, the citations come before the reply.
        streamed = await client.post(
            "/v1/conversation",
            files=wav_upload(),
            data={"rag": "nature", "stream": "true", "response_format": "none"},
        )
        events = [
            json.loads(line[len("data: ") :])
            for line in streamed.text.splitlines()
            if line.startswith("data: ")
        ]
        kinds = [e.get("type") for e in events]
        assert kinds.index("conversation.citations") < kinds.index("conversation.reply.delta")
        cited = events[kinds.index("conversation.citations")]["citations"]
        assert cited[0]["document_id"] == "bees"
        assert events[-1]["type"] == "conversation.done" and events[-1]["citations"] == cited

        plain = await client.post(
            "/v1/conversation", files=wav_upload(), data={"response_format": "none"}
        )
        assert "citations" not in plain.json()
        assert [m.role for m in CHAT_REQUESTS["brain"].messages] == ["system", "user"]


async def test_conversation_rejects_a_bad_rag_field(tmp_path: Path, onnx_cache: Path) -> None:
    async with gateway(tmp_path, onnx_cache) as client:
        for rag, fragment in [
            ('{"top_k": 0}', "rag.top_k"),
            ('{"collection": "x", "colour": 1}', "rag.colour"),
            ("{not json", "JSON object"),
            ('{"collection": "bad name"}', "collection"),
        ]:
            response = await client.post("/v1/conversation", files=wav_upload(), data={"rag": rag})
            assert response.status_code == 400, (rag, response.text)
            error = response.json()["error"]
            assert error["param"] in ("rag", "collection") and fragment in error["message"]


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth):
        value = {"deeper": value}
    return value


async def test_metadata_that_is_not_flat_is_refused_before_anything_is_written(
    tmp_path: Path, onnx_cache: Path
) -> None:
    async with gateway(tmp_path, onnx_cache) as client:
        bad = [
            {"tags": nested(500)},
            {"tags": ["a", "b"]},
            {"author": None},
            {"_vg_doc": "forged"},
            {"$eq": 1},
            {"#tag": "x"},
        ]
        for metadata in bad:
            response = await client.post(
                "/v1/rag/documents",
                json={"id": "doc", "text": "Bees make honey.", "metadata": metadata},
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"].startswith("metadata")
        upload = await client.post(
            "/v1/rag/documents",
            files={"file": ("notes.txt", b"Bees make honey.", "text/plain")},
            data={"metadata": json.dumps({"tags": {"x": 1}})},
        )
        assert upload.status_code == 400
        # Nothing was stored, and the collection still lists and answers.
        listing = await client.get("/v1/rag/documents")
        assert listing.status_code == 200 and listing.json()["data"] == []
        ok = await client.post(
            "/v1/rag/documents",
            json={"id": "doc", "text": "Bees make honey.", "metadata": {"tags": "bees", "n": 2}},
        )
        assert ok.status_code == 201, ok.text
        assert (await client.get("/v1/rag/documents")).json()["data"][0]["id"] == "doc"


async def test_a_bad_record_in_an_upload_leaves_none_of_its_records_stored(
    tmp_path: Path, onnx_cache: Path
) -> None:
    good = {"id": "owls", "text": "Owls hunt at night."}
    async with gateway(tmp_path, onnx_cache) as client:
        for bad, param in [
            ({"id": "bees#1", "text": "Bees make honey."}, "id"),
            ({"id": "bees", "text": "Bees make honey.", "metadata": {"$eq": 1}}, "metadata.$eq"),
        ]:
            response = await client.post(
                "/v1/rag/documents",
                files={"file": ("notes.json", json.dumps([good, bad]).encode(), "text/plain")},
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == param
        # The good record came first, but nothing of the upload was written.
        assert (await client.get("/v1/rag/documents")).json()["data"] == []


async def test_records_of_one_upload_with_the_same_id_are_refused(
    tmp_path: Path, onnx_cache: Path
) -> None:
    # The second record used to replace the first, and both were listed as stored.
    records = [{"id": "owls", "text": "Owls hunt at night."}, {"id": "owls", "text": "Owls hoot."}]
    async with gateway(tmp_path, onnx_cache) as client:
        response = await client.post(
            "/v1/rag/documents",
            files={"file": ("owls.json", json.dumps(records).encode(), "application/json")},
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == "file" and "records 0 and 1" in error["message"]
        assert (await client.get("/v1/rag/documents")).json()["data"] == []


async def test_a_document_id_with_control_characters_is_refused(
    tmp_path: Path, onnx_cache: Path
) -> None:
    # Stored, a line break in its id made the document unreachable: its URL matched no route.
    async with gateway(tmp_path, onnx_cache) as client:
        for doc_id in ("owls\nnotes", "owls\x00"):
            response = await client.post(
                "/v1/rag/documents", json={"id": doc_id, "text": "Owls hunt at night."}
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == "id"
        assert (await client.get("/v1/rag/documents")).json()["data"] == []
        ok = await client.post("/v1/rag/documents", json={"id": "owls/ü 1", "text": "Owls hoot."})
        assert ok.status_code == 201, ok.text
        assert (await client.delete("/v1/rag/documents/owls/%C3%BC%201")).status_code == 200
