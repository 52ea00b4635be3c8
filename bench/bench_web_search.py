"""What web search adds to a retrieval query, through a real daemon.

A daemon with the MiniLM embedder, an embedded Chroma store and the ``searxng`` engine pointed at
a loopback server that answers SearXNG's JSON API at once (so the figure is voxgate's own cost:
the search call, fusion, and with ``fetch_pages`` the page reads from a loopback site with its
robots.txt). Each round asks ``/v1/rag/query`` the same new question three ways, in turn:
local only (the baseline), with ``web_search``, and with ``web_search`` on a second engine that
reads pages; the answer cache is off so every web query searches. Prints p50/p90 and ratios to
the baseline measured in the same rounds.

    python -m bench.bench_web_search [--rounds 60]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import httpx

from bench.stats import emit, ms, summary
from tests.support.daemon import daemon_process
from tests.support.plugin_dist import bundled_plugins_env
from tests.support.search_servers import Hit, PageServer, SearxngServer

CONFIG = """\
reload: {{watch: false}}
logging: {{level: warning}}
web_search: {{top_k: 3, cache_ttl: 0, fetch_pages: {fetch}, allowed_networks: [127.0.0.0/8]}}
engines:
  minilm:
    capability: embeddings
    engine: sentence_transformers
    preload: true
    settings: {{cache_dir: "{cache}"}}
  docs: {{capability: rag, engine: chroma, preload: true, settings: {{path: "{store}"}}}}
  web: {{capability: search, engine: searxng, preload: true, settings: {{url: "{searxng}"}}}}
routes: {{embeddings: [minilm], rag: [docs], search: [web]}}
"""
TOPICS = ("herons", "tides", "reeds", "otters", "eels", "geese", "willows", "moths")


def _timed(client: httpx.Client, body: dict[str, object]) -> float:
    started = time.perf_counter()
    answer = client.post("/v1/rag/query", json=body)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    return elapsed


def _daemon_config(folder: Path, searxng: str, *, fetch: bool) -> Path:
    config = folder / f"ai_backend_{'pages' if fetch else 'snippets'}.yaml"
    config.write_text(
        CONFIG.format(
            fetch=str(fetch).lower(),
            cache=folder / ("onnx_pages" if fetch else "onnx"),
            store=folder / ("chroma_pages" if fetch else "chroma"),
            searxng=searxng,
        ),
        encoding="utf-8",
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        PageServer() as site,
    ):
        folder = Path(tmp)
        site.pages["/robots.txt"] = (200, {"content-type": "text/plain"}, b"User-agent: *\n")
        page = (
            b"<html><body>" + b"<p>Marsh notes about birds and water.</p>" * 40 + b"</body></html>"
        )
        hits = []
        for n, topic in enumerate(TOPICS[:3]):
            site.pages[f"/{topic}"] = (200, {"content-type": "text/html"}, page)
            hits.append(Hit(f"{site.url}/{topic}", f"About {topic}", f"Notes on {topic} {n}."))
        with SearxngServer(hits) as searxng:
            env = bundled_plugins_env(folder, ["search_searxng"])
            snippets = _daemon_config(folder, searxng.url, fetch=False)
            pages = _daemon_config(folder, searxng.url, fetch=True)
            with (
                daemon_process(snippets, env=env) as plain_url,
                daemon_process(pages, env=env) as pages_url,
                httpx.Client(base_url=plain_url, timeout=60) as plain,
                httpx.Client(base_url=pages_url, timeout=60) as reader,
            ):
                for client in (plain, reader):
                    for n, topic in enumerate(TOPICS):
                        text = f"Field note {n}: the {topic} of the marsh were counted in spring."
                        doc = {"id": topic, "text": text}
                        client.post("/v1/rag/documents", json=doc).raise_for_status()
                local: list[float] = []
                web: list[float] = []
                web_pages: list[float] = []
                for warm in range(3):  # first requests load what is lazy on each path
                    body = {"question": f"warm-up {warm}", "top_k": 3}
                    _timed(plain, body)
                    _timed(plain, {**body, "web_search": True})
                    _timed(reader, {**body, "web_search": True})
                for n in range(args.rounds):
                    topic = TOPICS[n % len(TOPICS)]
                    body = {"question": f"How many {topic} were counted? ({n})", "top_k": 3}
                    local.append(_timed(plain, body))
                    web.append(_timed(plain, {**body, "web_search": True}))
                    web_pages.append(_timed(reader, {**body, "web_search": True}))
    base = summary(local)
    emit(f"/v1/rag/query hybrid top_k 3, {args.rounds} rounds, loopback SearXNG answering at once")
    for name, values in (("local only", local), ("+ web", web), ("+ web + pages", web_pages)):
        figures = summary(values)
        emit(
            f"  {name:<14} p50 {ms(figures['p50'])}  p90 {ms(figures['p90'])}  "
            f"x{figures['p50'] / base['p50']:.2f} p50 vs local only "
            f"(+{(figures['p50'] - base['p50']) * 1000:.2f} ms)"
        )


if __name__ == "__main__":
    main()
