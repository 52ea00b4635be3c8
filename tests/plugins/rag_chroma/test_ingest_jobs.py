"""Ingestion jobs on a real daemon over loopback (real MiniLM, real embedded Chroma): documents
far past the request timeout still land, progress streams as server-sent events, a cancelled job
leaves nothing visible, the same content posted twice is stored once, bad metadata writes
nothing; and in process, an embedder that fails is not held against the retrieval engine."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.api.app import create_app
from core.routing.breaker import BreakerState
from tests.plugins.rag_chroma.conftest import SMALL_CHUNKS, chroma, minilm, rag_query
from tests.support.configs import daemon_config
from tests.support.daemon import serving
from tests.support.runtime import running_runtime

# fmt: off
WORDS = [
    "river", "stone", "forest", "lantern", "harbor", "meadow", "copper", "violet", "thunder",
    "orchard", "glacier", "canyon", "falcon", "ember", "willow", "saddle", "marble", "compass",
    "beacon", "quarry",
]
# fmt: on


def long_text(paragraphs: int, seed: int, marker: str = "") -> str:
    """Paragraphs of about one chunk each (300 characters) of shuffled common words."""
    rng = random.Random(seed)
    out = []
    for number in range(paragraphs):
        words = [rng.choice(WORDS) for _ in range(40)]
        if marker and number == paragraphs // 2:
            words[5] = marker
        out.append(" ".join(words).capitalize() + ".")
    return "\n\n".join(out)


@pytest.fixture(scope="module")
def daemon(onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ingest-jobs")
    docs = {"path": str(folder / "chroma"), **SMALL_CHUNKS, "ingest_batch": 32}
    engines = {
        "minilm": minilm(onnx_cache, preload=True, precision="int8"),
        "docs": chroma(docs, preload=True),
    }
    # A request timeout far below what these documents take: before jobs, they could not be
    # stored.
    config = daemon_config(engines, sections={"policy": {"timeout": 0.5}})
    with serving(folder, config) as url:
        yield url


def events(http: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    """Every ``rag.job`` event of a job's stream, which ends when the job does."""
    seen = []
    with http.stream("GET", f"/v1/rag/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[len("data: ") :]))
    return seen


def keyword_hits(http: httpx.Client, collection: str, question: str) -> list[dict[str, Any]]:
    body = {"question": question, "collection": collection, "mode": "keyword"}
    hits: list[dict[str, Any]] = rag_query(http, body)["data"]
    return hits


def test_a_large_document_ingests_past_the_request_timeout_with_progress(
    http: httpx.Client,
) -> None:
    text = long_text(400, seed=1, marker="zeppelin")
    posted = http.post(
        "/v1/rag/documents",
        params={"async": "true"},
        json={"id": "atlas", "text": text, "collection": "big", "metadata": {"kind": "test"}},
    )
    assert posted.status_code == 202, posted.text
    job = posted.json()
    assert job["object"] == "rag.job" and job["status"] in ("queued", "running")
    assert posted.headers["location"] == f"/v1/rag/jobs/{job['id']}"

    stream = events(http, job["id"])
    done = [e["chunks_done"] for e in stream]
    assert done == sorted(done)  # progress only moves forward
    assert any(0 < e["chunks_done"] < e["chunks_total"] for e in stream)  # seen part-way
    last = stream[-1]
    assert last["status"] == "succeeded" and last["error"] is None
    assert last["chunks_done"] == last["chunks_total"] >= 300
    assert last["document_id"] == "atlas"

    read = http.get(f"/v1/rag/jobs/{job['id']}").json()
    assert read == last
    listed = http.get("/v1/rag/jobs", params={"collection": "big"}).json()["data"]
    assert job["id"] in [j["id"] for j in listed]
    stored = http.get("/v1/rag/documents/atlas", params={"collection": "big"}).json()
    assert stored["chunks"] == last["chunks_total"]
    assert stored["content_sha256"] == last["content_sha256"] is not None
    hits = keyword_hits(http, "big", "zeppelin")
    assert hits and hits[0]["document_id"] == "atlas" and "zeppelin" in hits[0]["text"]

    # Waiting for the answer (no async) works the same way: the request timeout is not the
    # limit, the job is.
    waited = http.post(
        "/v1/rag/documents",
        json={"id": "tome", "text": long_text(150, seed=2), "collection": "big"},
    )
    assert waited.status_code == 201, waited.text
    assert waited.json()["chunks"] >= 100
    assert waited.headers["x-voxgate-engine"] == "docs"
    assert waited.headers["x-voxgate-job"].startswith("ingest-")


def test_the_same_content_twice_is_stored_once(http: httpx.Client) -> None:
    body = {"text": "Owls hunt small mammals at night.", "collection": "once"}
    first = http.post("/v1/rag/documents", json=body)
    again = http.post("/v1/rag/documents", json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert http.get(f"/v1/rag/jobs/{again.headers['x-voxgate-job']}").json()["unchanged"] == 1
    listed = http.get("/v1/rag/documents", params={"collection": "once"}).json()["data"]
    assert [d["id"] for d in listed] == [first.json()["id"]]
    # Changed metadata is other content: a new document.
    other = http.post("/v1/rag/documents", json={**body, "metadata": {"source": "field notes"}})
    assert other.json()["id"] != first.json()["id"]

    # Posted twice while the first is still running, the second gets the first's job.
    big = {"text": long_text(200, seed=3), "collection": "once"}
    one = http.post("/v1/rag/documents", params={"async": "true"}, json=big).json()
    two = http.post("/v1/rag/documents", params={"async": "true"}, json=big).json()
    assert one["id"] == two["id"]
    assert events(http, one["id"])[-1]["status"] == "succeeded"
    listed = http.get("/v1/rag/documents", params={"collection": "once"}).json()["data"]
    assert len(listed) == 3


def test_a_cancelled_job_leaves_the_previous_version(http: httpx.Client) -> None:
    old = {"id": "log", "text": "The first entry mentions a lighthouse.", "collection": "cancel"}
    assert http.post("/v1/rag/documents", json=old).status_code == 201
    new = {**old, "text": long_text(1500, seed=4, marker="albatross")}
    job = http.post("/v1/rag/documents", params={"async": "true"}, json=new).json()
    with http.stream("GET", f"/v1/rag/jobs/{job['id']}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:])["chunks_done"] > 0:
                break  # some chunks of the new version are written
    cancelled = http.delete(f"/v1/rag/jobs/{job['id']}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert 0 < cancelled.json()["chunks_done"] < cancelled.json()["chunks_total"]

    stored = http.get("/v1/rag/documents/log", params={"collection": "cancel"}).json()
    assert stored["chunks"] == 1
    assert keyword_hits(http, "cancel", "albatross") == []
    assert [h["document_id"] for h in keyword_hits(http, "cancel", "lighthouse")] == ["log"]
    stats = http.get("/v1/rag/stats", params={"collection": "cancel"}).json()
    assert stats["collections"]["cancel"]["chunks"] == 1
    again = http.delete(f"/v1/rag/jobs/{job['id']}")
    assert again.status_code == 409
    assert http.get("/v1/rag/jobs/ingest-nope").status_code == 404


def test_nested_metadata_is_refused_before_anything_is_written(http: httpx.Client) -> None:
    body = {"id": "x", "text": "Anything.", "collection": "strict", "metadata": {"a": {"b": 1}}}
    refused = http.post("/v1/rag/documents", json=body)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "metadata.a"
    records = json.dumps([{"id": "r1", "text": "Fine."}, {"id": "r2", "text": "No.", "tags": [1]}])
    upload = http.post(
        "/v1/rag/documents",
        files={"file": ("records.json", records.encode(), "application/json")},
        data={"collection": "strict"},
    )
    assert upload.status_code == 400, upload.text
    assert http.get("/v1/rag/documents", params={"collection": "strict"}).json()["data"] == []
    assert http.get("/v1/rag/jobs", params={"collection": "strict"}).json()["data"] == []


FAILING = """\
reload: {{watch: false}}
policy: {{breaker: {{failures: 2}}}}
engines:
  broken: {{capability: embeddings, engine: fake, settings: {{fail_file: "{fail_file}"}}}}
  docs: {{capability: rag, engine: chroma, settings: {{path: "{path}"}}}}
routes: {{embeddings: [broken], rag: [docs]}}
"""


async def test_an_embedder_failure_is_not_held_against_the_store(tmp_path: Path) -> None:
    fail_file = tmp_path / "fail"
    fail_file.touch()
    config = tmp_path / "rag.yaml"
    config.write_text(FAILING.format(fail_file=fail_file, path=tmp_path / "chroma"))
    async with running_runtime(config, entry_points=True) as runtime:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://voxgate.localhost"
        ) as client:
            for number in range(4):
                body = {"id": f"d{number}", "text": "Bees make honey.", "collection": "c"}
                failed = await client.post("/v1/rag/documents", json=body)
                assert failed.status_code == 503, failed.text
                assert "fake failure" in failed.json()["error"]["message"]
                job = (await client.get(f"/v1/rag/jobs/{failed.headers['x-voxgate-job']}")).json()
                assert job["status"] == "failed" and job["error"]["type"] == "EngineUnavailable"
            docs = runtime.current.slots["docs"].breaker
            assert docs.state is BreakerState.CLOSED and docs.consecutive_failures == 0
            fail_file.unlink()
            body = {"id": "ok", "text": "Bees make honey.", "collection": "c"}
            stored = await client.post("/v1/rag/documents", json=body)
            assert stored.status_code == 201, stored.text
