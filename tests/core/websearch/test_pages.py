"""Reading result pages from a loopback site: text out of HTML, robots.txt obeyed, sizes and
times capped, and every address (redirects too) checked before anything is asked."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any
from urllib.robotparser import RobotFileParser

import pytest

from core.config.schema import WebSearchConfig
from core.websearch.cache import TTLCache
from core.websearch.pages import Page, PageReader
from tests.support.search_servers import PageServer

HTML = {"content-type": "text/html; charset=utf-8"}
HERONS = (
    b"<!DOCTYPE html><html><head><title>Herons</title><style>p{color:red}</style></head>"
    b"<body><nav>Home</nav><p>Grey herons nest in colonies.</p>"
    b"<script>track()</script><p>They return every March.</p></body></html>"
)


@pytest.fixture
def site() -> Iterator[PageServer]:
    with PageServer() as server:
        server.pages["/robots.txt"] = (
            200,
            {"content-type": "text/plain"},
            b"User-agent: *\nDisallow: /private/\n\nUser-agent: voxgate-websearch\n"
            b"Disallow: /no-bots/\nDisallow: /private/\n",
        )
        server.pages["/herons"] = (200, HTML, HERONS)
        yield server


def _reader(**settings: Any) -> PageReader:
    config = WebSearchConfig(**{"allowed_networks": ["127.0.0.0/8"], **settings})
    robots: TTLCache[str, RobotFileParser] = TTLCache(60, 16)
    return PageReader(config, robots)


async def _read(reader: PageReader, url: str) -> Page | None:
    [page] = await reader.read_all([url])
    return page


async def test_visible_text_and_title(site: PageServer) -> None:
    reader = _reader()
    page = await _read(reader, site.url + "/herons")
    assert page is not None and page.title == "Herons"
    assert "Grey herons nest in colonies." in page.text and "March" in page.text
    assert "track()" not in page.text and "color" not in page.text
    again = await _read(reader, site.url + "/herons")
    assert again == page
    paths = [path for _m, path, _b in site.requests]
    assert paths == ["/robots.txt", "/herons", "/herons"]  # robots.txt read once per site


async def test_text_and_bytes_are_capped(site: PageServer) -> None:
    site.pages["/long"] = (200, HTML, b"<p>" + b"heron " * 100_000 + b"</p>")
    page = await _read(_reader(max_page_chars=300), site.url + "/long")
    assert page is not None and len(page.text) == 300
    small = await _read(_reader(max_page_bytes=2048, max_page_chars=100_000), site.url + "/long")
    assert small is not None and len(small.text) <= 2048


async def test_robots_txt_is_obeyed(site: PageServer) -> None:
    site.pages["/no-bots/herons"] = (200, HTML, HERONS)
    site.pages["/private/herons"] = (200, HTML, HERONS)
    reader = _reader()
    assert await _read(reader, site.url + "/no-bots/herons") is None
    assert await _read(reader, site.url + "/private/herons") is None
    # Another user agent is not named by the first group: only the * rules apply to it.
    other = _reader(user_agent="heronbot/2")
    assert await _read(other, site.url + "/no-bots/herons") is not None
    asked = [path for _m, path, _b in site.requests]
    assert asked.count("/no-bots/herons") == 1 and "/private/herons" not in asked


async def test_robots_txt_in_a_charset_that_is_not_a_text_encoding_is_still_obeyed(
    site: PageServer,
) -> None:
    site.pages["/robots.txt"] = (
        200,
        {"content-type": "text/plain; charset=rot13"},
        b"User-agent: *\nDisallow: /private/\n",
    )
    site.pages["/private/herons"] = (200, HTML, HERONS)
    reader = _reader()
    assert await _read(reader, site.url + "/private/herons") is None
    assert await _read(reader, site.url + "/herons") is not None


@pytest.mark.parametrize(("status", "readable"), [(404, True), (503, False)])
async def test_missing_robots_allows_and_failing_robots_refuses(
    site: PageServer, status: int, readable: bool
) -> None:
    site.pages["/robots.txt"] = (status, {"content-type": "text/plain"}, b"")
    page = await _read(_reader(), site.url + "/herons")
    assert (page is not None) is readable


async def test_local_addresses_are_never_asked(site: PageServer) -> None:
    """Without allowed_networks a loopback result is refused before any connection."""
    reader = _reader(allowed_networks=[])
    for url in (site.url + "/herons", f"http://localhost:{site.port}/herons"):
        assert await _read(reader, url) is None
    assert site.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",  # refused before it is asked
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "/private/herons",  # robots.txt applies to every hop
        "http://a..example/",  # a name IDNA cannot encode
    ],
)
async def test_redirects_are_checked_hop_by_hop(site: PageServer, target: str) -> None:
    site.pages["/jump"] = (302, {"location": target}, b"")
    site.pages["/private/herons"] = (200, HTML, HERONS)
    assert await _read(_reader(), site.url + "/jump") is None
    assert [path for _m, path, _b in site.requests] == ["/robots.txt", "/jump"]


async def test_redirects_are_followed_a_limited_number_of_times(site: PageServer) -> None:
    site.pages["/a"] = (301, {"location": "/b"}, b"")
    site.pages["/b"] = (307, {"location": site.url + "/herons"}, b"")
    page = await _read(_reader(max_redirects=2), site.url + "/a")
    assert page is not None and page.url == site.url + "/herons"
    assert await _read(_reader(max_redirects=1), site.url + "/a") is None


async def test_media_types_are_read_whatever_their_case(site: PageServer) -> None:
    site.pages["/shouting"] = (200, {"content-type": "Text/HTML; Charset=UTF-8"}, HERONS)
    page = await _read(_reader(), site.url + "/shouting")
    assert page is not None and page.title == "Herons"


async def test_what_is_not_a_page_is_skipped(site: PageServer) -> None:
    site.pages["/photo.jpg"] = (200, {"content-type": "image/jpeg"}, b"\xff\xd8\xff" * 10)
    site.pages["/gone"] = (410, HTML, b"<p>gone</p>")
    reader = _reader()
    assert await reader.read_all([site.url + "/photo.jpg", site.url + "/gone"]) == [None, None]


@pytest.mark.parametrize("charset", ["no-such-charset", "rot13", "base64"])
async def test_a_charset_that_is_not_a_text_encoding_is_read_as_utf8(
    site: PageServer, charset: str
) -> None:
    site.pages["/odd"] = (200, {"content-type": f"text/html; charset={charset}"}, HERONS)
    page = await _read(_reader(), site.url + "/odd")
    assert page is not None and "Grey herons nest in colonies." in page.text


async def test_compressed_bodies_are_not_inflated(site: PageServer) -> None:
    """Pages are asked for uncompressed; a server that compresses anyway (a gzip bomb would
    expand far past max_page_bytes) is skipped."""
    bomb = gzip.compress(b"<p>" + b"a" * 5_000_000 + b"</p>")
    site.pages["/bomb"] = (200, {**HTML, "content-encoding": "gzip"}, bomb)
    reader = _reader(max_page_bytes=4096)
    assert await _read(reader, site.url + "/herons") is not None
    assert await _read(reader, site.url + "/bomb") is None


async def test_a_slow_page_is_skipped(site: PageServer) -> None:
    site.behaviour = "slow"
    assert await _read(_reader(page_timeout=0.3), site.url + "/herons") is None
