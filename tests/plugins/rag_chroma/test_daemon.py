"""The /v1/rag API and the chat ``rag`` block on a real daemon process: real embedder, real Chroma
store (embedded, then a Chroma server), the shipped SmolLM2 for answers, the ``openai`` client;
a spoken question grounded through ``/v1/conversation`` with the shipped Whisper and hibari."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.core.ingest.test_extract import tiny_pdf
from tests.plugins.rag_chroma.conftest import (
    answering_engines,
    chroma,
    minilm,
    rag_query,
    store_settings,
)
from tests.support.configs import daemon_config
from tests.support.daemon import serving

BEES = (
    "Honey bees live in colonies ruled by a single queen. Worker bees collect nectar and turn "
    "it into honey inside the hive.\n\nDrones are male bees; their only task is to mate with "
    "a queen from another colony."
)


@pytest.fixture(scope="module", params=["embedded", "server"])
def daemon(
    request: pytest.FixtureRequest, onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp(f"rag-daemon-{request.param}")
    server = request.getfixturevalue("chroma_server") if request.param == "server" else None
    engines = {
        "minilm": minilm(onnx_cache, preload=True),
        "docs": chroma(store_settings(request.param, folder, server), preload=True),
        **answering_engines(),
    }
    config = daemon_config(engines, sections={"aliases": {"gpt-4o-mini": "llm"}})
    with serving(folder, config) as url:
        yield url


@pytest.fixture
def collection(http: httpx.Client, request: pytest.FixtureRequest) -> str:
    """A collection of its own per test, with the bee text and a PDF about volcanoes."""
    name = request.node.name.split("[")[0][-40:].replace("_", "-").strip("-")
    bees = {"id": "bees", "text": BEES, "metadata": {"title": "Bees", "year": 2021}}
    created = http.post("/v1/rag/documents", json={**bees, "collection": name})
    assert created.status_code == 201, created.text
    assert created.headers["x-voxgate-engine"] == "docs"
    pdf = tiny_pdf("Volcanoes erupt when magma rises through the crust")
    upload = http.post(
        "/v1/rag/documents",
        files={"file": ("volcano.pdf", pdf, "application/pdf")},
        data={"collection": name, "metadata": json.dumps({"year": 2019})},
    )
    assert upload.status_code == 201, upload.text
    return name


def test_ingest_list_query_and_cite(http: httpx.Client, collection: str) -> None:
    listed = http.get("/v1/rag/documents", params={"collection": collection}).json()["data"]
    assert {d["id"]: d["chunks"] for d in listed} == {"bees": 1, "volcano.pdf": 1}
    got = http.get("/v1/rag/documents/bees", params={"collection": collection}).json()
    assert got["metadata"] == {"title": "Bees", "year": 2021} and got["chars"] == len(BEES)
    for mode in ("dense", "keyword", "hybrid"):
        body = {"question": "What do drones do?", "collection": collection, "mode": mode}
        first = rag_query(http, body)["data"][0]
        assert first["index"] == 1 and first["document_id"] == "bees", mode
        assert BEES[first["start"] : first["end"]] == first["text"]
        assert first["title"] == "Bees" and first["metadata"]["year"] == 2021
    recent = http.post(
        "/v1/rag/query",
        json={"question": "erupt", "collection": collection, "filters": {"year": {"$gt": 2020}}},
    )
    assert {h["document_id"] for h in recent.json()["data"]} <= {"bees"}


def test_generate_answers_from_the_chunks(http: httpx.Client, collection: str) -> None:
    body = {
        "question": "Who rules a honey bee colony?",
        "collection": collection,
        "generate": True,
        "max_tokens": 24,
    }
    result = rag_query(http, body)
    assert result["llm_engine"] == "smollm2"
    assert result["answer"].strip()
    assert result["data"][0]["document_id"] == "bees"


def test_chat_completions_ground_replies_and_return_citations(daemon: str, collection: str) -> None:
    with openai.OpenAI(base_url=daemon + "/v1", api_key="unused", max_retries=0) as client:
        messages: list[ChatCompletionMessageParam] = [
            {"role": "user", "content": "What is the only task of drones?"}
        ]
        rag = {"rag": {"collection": collection, "top_k": 1}}
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            max_tokens=24,
            extra_body=rag,
        )
        [cited] = (completion.model_extra or {})["citations"]
        assert cited["document_id"] == "bees" and "Drones" in cited["text"]
        assert completion.choices[0].message.content
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            max_tokens=24,
            stream=True,
            extra_body=rag,
        )
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    extras = [(c.model_extra or {}).get("citations") for c in chunks]
    assert extras[-1] and extras[-1][0]["document_id"] == "bees"  # the last event, after text
    assert not any(extras[:-1])


def test_delete_stats_and_errors(http: httpx.Client, collection: str) -> None:
    stats = http.get("/v1/rag/stats", params={"collection": collection}).json()
    assert stats["collections"][collection] == {
        "documents": 2,
        "chunks": 2,
        "dimensions": 384,
        "embeddings": "minilm",
    }
    params = {"collection": collection}
    assert http.delete("/v1/rag/documents/bees", params=params).status_code == 200
    missing = http.get("/v1/rag/documents/bees", params=params)
    assert missing.status_code == 404 and missing.json()["error"]["param"] == "id"
    body = {"question": "drones", "collection": collection, "mode": "keyword"}
    assert http.post("/v1/rag/query", json=body).json()["data"] == []
    binary = http.post(
        "/v1/rag/documents",
        files={"file": ("scan.png", b"\x89PNG\r\n\x1a\n" + bytes(300), "image/png")},
    )
    assert binary.status_code == 415
    assert binary.json()["error"]["code"] == "unreadable_document"


def test_a_spoken_question_is_answered_from_the_documents(
    http: httpx.Client, collection: str
) -> None:
    spoken = http.post(
        "/v1/audio/speech",
        json={"input": "What do drones do?", "voice": "heart", "response_format": "wav"},
    )
    assert spoken.status_code == 200, spoken.text
    turn = http.post(
        "/v1/conversation",
        files={"file": ("question.wav", spoken.content, "audio/wav")},
        data={
            "rag": json.dumps({"collection": collection, "top_k": 1}),
            "max_tokens": "24",
            "response_format": "none",
        },
    )
    assert turn.status_code == 200, turn.text
    body = turn.json()
    assert "drones" in body["transcript"]["text"].lower()
    assert body["engines"] == {"stt": "whisper", "rag": "docs", "llm": "smollm2"}
    [cited] = body["citations"]
    assert cited["document_id"] == "bees" and "Drones" in cited["text"]
    assert body["reply"]["text"]
