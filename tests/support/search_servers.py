"""Loopback servers that answer like the web search services do, for offline tests.

- :class:`SearxngServer`: SearXNG's ``GET /search?format=json``.
- :class:`DuckDuckGoProxy`: an HTTP proxy that takes the ``CONNECT html.duckduckgo.com:443`` the
  ddgs library sends, answers TLS with a certificate from a test authority (``ca_path``) and then
  the ``POST /html/`` form the library posts, with a results page in DuckDuckGo's markup.
- :class:`PageServer`: web pages, robots.txt and redirects for the page reader.

Each has a ``behaviour`` the test sets (``ok``, ``429``, ``garbage``, ``slow`` ...) and records
what it was asked. Stalls end when the server closes, so nothing outlives a test.
"""

from __future__ import annotations

import html
import json
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import trustme

Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Hit:
    url: str
    title: str
    snippet: str


WEB_HITS = [
    Hit(
        "https://marsh-birds.example/herons",
        "Grey herons of the Wenlow marsh",
        "The Wenlow marsh keeps forty grey heron nests; the herons return every March.",
    ),
    Hit(
        "https://marsh-birds.example/egrets",
        "Little egrets",
        "Little egrets began nesting beside the herons in 2019.",
    ),
    Hit("https://tides.example/", "Tide tables", "High and low tides for the estuary."),
]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.server.owner.respond(self.command, self.path, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_CONNECT(self) -> None:
        self.server.owner.tunnel(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: _Loopback) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner


class _Loopback:
    """A threaded HTTP server on a free loopback port, closed by ``with`` or :meth:`close`."""

    def __init__(self) -> None:
        self.behaviour = "ok"
        self.requests: list[tuple[str, str, bytes]] = []
        self.closing = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def respond(self, method: str, path: str, body: bytes) -> Reply:
        self.requests.append((method, path, body))
        return self.answer(method, path, body)

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        raise NotImplementedError

    def tunnel(self, handler: _Handler) -> None:
        handler.send_error(405)

    def stall(self) -> Reply:
        """A server that stops answering (until the test is over, at most a minute)."""
        self.closing.wait(60)
        return 503, {}, b""

    def close(self) -> None:
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _json(data: Any) -> Reply:
    return 200, {"content-type": "application/json"}, json.dumps(data).encode()


class SearxngServer(_Loopback):
    """``behaviour``: ok, 429, 403, 500, garbage (not JSON), wrong_shape (no results), slow."""

    def __init__(self, hits: list[Hit] | None = None) -> None:
        super().__init__()
        self.hits = list(WEB_HITS if hits is None else hits)

    @property
    def queries(self) -> list[dict[str, str]]:
        found = []
        for _method, path, _body in self.requests:
            found.append({k: v[0] for k, v in parse_qs(urlsplit(path).query).items()})
        return found

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        if urlsplit(path).path != "/search":
            return 404, {}, b"not found"
        if self.behaviour == "429":
            return 429, {"retry-after": "7"}, b"Too Many Requests"
        if self.behaviour in ("403", "500"):
            return int(self.behaviour), {"content-type": "text/html"}, b"<h1>no</h1>"
        if self.behaviour == "garbage":
            return 200, {"content-type": "application/json"}, b"<html>\x00\xff not json"
        if self.behaviour == "wrong_shape":
            return _json({"error": "results are elsewhere"})
        if self.behaviour == "slow":
            return self.stall()
        query = parse_qs(urlsplit(path).query).get("q", [""])[0]
        results = [
            {
                "url": hit.url,
                "title": hit.title,
                "content": hit.snippet,
                "engine": "bing",
                "engines": ["bing", "brave"],
                "score": 1.0 / rank,
                "category": "general",
            }
            for rank, hit in enumerate(self.hits, 1)
        ]
        results.append({"title": "an infobox without an address", "content": "skipped"})
        return _json(
            {
                "query": query,
                "number_of_results": len(results),
                "results": results,
                "answers": [],
                "corrections": [],
                "infoboxes": [],
                "suggestions": [],
                "unresponsive_engines": [],
            }
        )


def duckduckgo_page(hits: list[Hit]) -> bytes:
    """A results page in the markup of html.duckduckgo.com."""
    items = "".join(
        '<div class="result results_links results_links_deep web-result">'
        '<div class="links_main links_deep result__body">'
        '<h2 class="result__title"><a rel="nofollow" class="result__a" '
        f'href="{html.escape(h.url)}">'
        f"{html.escape(h.title)}</a></h2>"
        '<div class="result__extras"><span class="result__url">'
        f"{html.escape(urlsplit(h.url).netloc)}</span></div>"
        f'<a class="result__snippet" href="{html.escape(h.url)}">{html.escape(h.snippet)}</a>'
        "</div></div>"
        for h in hits
    )
    ad = (
        '<div class="result results_links result--ad"><div class="links_main result__body">'
        '<h2 class="result__title"><a href="https://duckduckgo.com/y.js?ad=1">An ad</a></h2>'
        '<a class="result__snippet" href="https://duckduckgo.com/y.js?ad=1">Buy</a></div></div>'
    )
    return (
        "<!DOCTYPE html><html><head><title>marsh at DuckDuckGo</title></head><body>"
        '<form action="/html/" method="post"><input name="q"></form>'
        f'<div id="links" class="results">{ad}{items}</div></body></html>'
    ).encode()


class DuckDuckGoProxy(_Loopback):
    """``behaviour``: ok, 429, challenge (202), 500, garbage, slow. ``forms`` are the POSTed
    search forms; ``connects`` the CONNECT targets."""

    HOST = "html.duckduckgo.com"

    def __init__(self, folder: Path, hits: list[Hit] | None = None) -> None:
        super().__init__()
        self.hits = list(WEB_HITS if hits is None else hits)
        self.connects: list[str] = []
        authority = trustme.CA()
        self.ca_path = folder / "test-ca.pem"
        authority.cert_pem.write_to_path(str(self.ca_path))
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert(self.HOST).configure_cert(self._tls)
        self._tls.set_alpn_protocols(["http/1.1"])

    @property
    def forms(self) -> list[dict[str, str]]:
        return [
            {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
            for method, _path, body in self.requests
            if method == "POST"
        ]

    def tunnel(self, handler: _Handler) -> None:
        self.connects.append(handler.path)
        if handler.path != f"{self.HOST}:443":
            handler.send_error(403)
            return
        handler.send_response(200, "Connection established")
        handler.end_headers()
        handler.wfile.flush()
        try:
            inner = self._tls.wrap_socket(handler.connection, server_side=True)
        except (ssl.SSLError, OSError):
            handler.close_connection = True
            return
        _Handler(inner, handler.client_address, self._server)
        handler.close_connection = True

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        if (method, urlsplit(path).path) != ("POST", "/html/"):
            return 404, {}, b""
        page = {"content-type": "text/html; charset=utf-8"}
        if self.behaviour == "429":
            return 429, page, b"<html>slow down</html>"
        if self.behaviour == "challenge":
            return 202, page, b"<html><form>are you a robot?</form></html>"
        if self.behaviour == "500":
            return 500, page, b"<html>oops</html>"
        if self.behaviour == "garbage":
            return 200, {"content-type": "application/json"}, b'{"not": "a page"}'
        if self.behaviour == "slow":
            return self.stall()
        return 200, page, duckduckgo_page(self.hits)


class PageServer(_Loopback):
    """Pages by path: ``pages[path] = (status, headers, body)``; ``/robots.txt`` likewise.
    ``behaviour`` slow stalls every page but robots.txt."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, Reply] = {}

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        if self.behaviour == "slow" and path != "/robots.txt":
            return self.stall()
        return self.pages.get(path, (404, {"content-type": "text/plain"}, b"no such page"))
