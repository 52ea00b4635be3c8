"""Local chunks and web results in one ranking, by position in their own lists."""

from __future__ import annotations

from core.engines.retrieval import Citation
from core.websearch.citation import WebCitation
from core.websearch.fusion import fuse


def test_fusion_interleaves_the_two_rankings_local_first() -> None:
    local = [Citation(f"doc{n}", 0, 0, 1, "x", 1.0 / n) for n in (1, 2, 3)]
    web = [WebCitation(f"https://w{n}.example/", f"w{n}", "y", n, "web") for n in (1, 2)]
    fused = fuse(local, web)
    assert [getattr(s, "document_id", None) or getattr(s, "url", "") for s in fused] == [
        "doc1",
        "https://w1.example/",
        "doc2",
        "https://w2.example/",
        "doc3",
    ]
    assert fuse([], web) == web and fuse(local, []) == local
