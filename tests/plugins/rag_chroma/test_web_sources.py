"""Web results as sources on a real daemon: the shipped SmolLM2, Whisper and hibari, a real
Chroma store, and a loopback SearXNG whose results point at loopback pages the daemon reads
(allowed_networks opens loopback for this test only). Answers cite web pages by url beside the
local documents, through /v1/rag/query, the chat rag block (openai client) and a spoken turn."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.plugins.rag_chroma.conftest import answering_engines, chroma, minilm, rag_query
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import serving
from tests.support.plugin_dist import bundled_plugins_env
from tests.support.search_servers import Hit, PageServer, SearxngServer
from tests.support.wer import normalized_words

SECTIONS = {
    # Shared CI machines: a busy CPU is not what is tested here.
    "policy": {"timeout": "120s"},
    "web_search": {
        "top_k": 2,
        "max_top_k": 3,
        "fetch_pages": True,
        "allowed_networks": ["127.0.0.0/8"],
    },
    "aliases": {"gpt-4o-mini": "llm"},
}
HERON_PAGE = (
    b"<html><head><title>Wenlow marsh herons</title></head><body>"
    b"<p>The Wenlow marsh keeps forty grey heron nests.</p>"
    b"<p>The herons come back to the marsh every March.</p></body></html>"
)
BEES = "Honey bees live in colonies ruled by a single queen."


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with PageServer() as site:
        site.pages["/robots.txt"] = (200, {"content-type": "text/plain"}, b"User-agent: *\n")
        site.pages["/herons"] = (200, {"content-type": "text/html"}, HERON_PAGE)
        yield site


@pytest.fixture(scope="module")
def searxng(pages: PageServer) -> Iterator[SearxngServer]:
    hits = [
        Hit(pages.url + "/herons", "Herons of the Wenlow marsh", "Forty grey heron nests."),
        Hit(pages.url + "/missing", "Marsh walks", "Paths around the marsh."),
    ]
    with SearxngServer(hits) as server:
        yield server


@pytest.fixture(scope="module")
def daemon(
    onnx_cache: Path, searxng: SearxngServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("web-sources")
    engines = {
        "minilm": minilm(onnx_cache, preload=True),
        "docs": chroma({"path": str(folder / "chroma")}, preload=True),
        **answering_engines(),
        "web": engine_entry("search", "searxng", {"url": searxng.url}, preload=False),
    }
    config = daemon_config(engines, sections=SECTIONS)
    env = bundled_plugins_env(folder, ["search_searxng"])
    with serving(folder, config, env=env) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            bees = {"id": "bees", "text": BEES, "collection": "nature"}
            assert client.post("/v1/rag/documents", json=bees).status_code == 201
        yield url


def _web(citations: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in citations if c.get("source") == "web"]


def test_rag_query_cites_web_pages_beside_documents(
    http: httpx.Client, pages: PageServer, searxng: SearxngServer
) -> None:
    body = {
        "question": "How many heron nests are in the marsh?",
        "collection": "nature",
        "top_k": 1,
        "web_search": True,
        "generate": True,
        "max_tokens": 24,
    }
    result = rag_query(http, body)
    assert result["web_engine"] == "web" and result["answer"]
    local, web = result["data"][0], result["data"][1]
    assert local["index"] == 1 and local["document_id"] == "bees" and "url" not in local
    assert web["index"] == 2 and web["url"] == pages.url + "/herons"
    assert web["title"] == "Herons of the Wenlow marsh" and web["page"] is True
    assert "forty grey heron nests" in web["text"]  # the page's own text, read by the daemon
    # The second result's page is missing (404): its snippet stands in.
    [missing] = [c for c in _web(result["data"]) if c["url"].endswith("/missing")]
    assert missing["text"] == "Paths around the marsh." and missing["page"] is False
    assert searxng.queries[-1]["q"] == body["question"]


def test_chat_rag_block_returns_web_citations(daemon: str, pages: PageServer) -> None:
    with openai.OpenAI(base_url=daemon + "/v1", api_key="unused", max_retries=0) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "When do the herons come back?"}],
            max_tokens=24,
            extra_body={"rag": {"collection": "nature", "web_search": True, "web_top_k": 1}},
        )
        with pytest.raises(openai.BadRequestError, match="at most 3"):
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "herons?"}],
                extra_body={"rag": {"web_search": True, "web_top_k": 4}},
            )
    citations = (completion.model_extra or {})["citations"]
    [web] = _web(citations)
    assert web["url"] == pages.url + "/herons" and "March" in web["text"]
    assert completion.choices[0].message.content


def test_a_spoken_answer_cites_a_web_page(http: httpx.Client, pages: PageServer) -> None:
    spoken = http.post(
        "/v1/audio/speech",
        json={
            "input": "How many heron nests does the marsh keep?",
            "voice": "heart",
            "response_format": "wav",
        },
    )
    assert spoken.status_code == 200, spoken.text
    rag = {"collection": "nature", "top_k": 1, "web_search": True, "web_top_k": 1}
    turn = http.post(
        "/v1/conversation",
        files={"file": ("question.wav", spoken.content, "audio/wav")},
        data={"rag": json.dumps(rag), "max_tokens": "32", "response_format": "wav"},
    )
    assert turn.status_code == 200, turn.text
    body = turn.json()
    assert {"nests", "marsh"} <= set(normalized_words(body["transcript"]["text"]))
    assert body["engines"]["search"] == "web" and body["engines"]["rag"] == "docs"
    [web] = _web(body["citations"])
    assert web["url"] == pages.url + "/herons" and web["index"] == 2
    assert "forty grey heron nests" in web["text"]
    # The reply was spoken: its audio, transcribed again, says (roughly) the reply's words.
    reply = body["reply"]["text"]
    audio = base64.b64decode(body["audio"]["data"])
    heard = http.post(
        "/v1/audio/transcriptions",
        files={"file": ("reply.wav", audio, "audio/wav")},
        data={"model": "stt"},
    )
    assert heard.status_code == 200, heard.text
    overlap = set(normalized_words(heard.json()["text"])) & set(normalized_words(reply))
    assert reply.strip() and overlap


def test_bad_web_values_in_a_spoken_turn_are_400s(http: httpx.Client) -> None:
    for rag, words in (
        ({"web_search": "yes"}, "valid boolean"),
        ({"web_search": True, "web_top_k": 9}, "at most 3"),
    ):
        turn = http.post(
            "/v1/conversation",
            files={"file": ("q.wav", b"RIFF", "audio/wav")},
            data={"rag": json.dumps(rag)},
        )
        assert turn.status_code == 400, turn.text
        assert words in turn.json()["error"]["message"]
