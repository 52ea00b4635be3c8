"""One ranking from two: local chunks and web results, by reciprocal-rank fusion.

Their scores are on different scales (a store's similarity, a search engine's order), so only
positions are compared: each source scores ``1 / (k + its rank in its own list)``. Equal scores
keep the local chunk first, so the two lists interleave from their best down.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.engines.retrieval import Citation
from core.websearch.citation import WebCitation

#: The usual RRF constant: larger values flatten the difference between ranks.
RRF_K = 60

Source = Citation | WebCitation


def fuse(local: Sequence[Citation], web: Sequence[WebCitation]) -> list[Source]:
    scored: list[tuple[float, int, int, Source]] = []
    for rank, chunk in enumerate(local, 1):
        scored.append((1.0 / (RRF_K + rank), 0, rank, chunk))
    for rank, result in enumerate(web, 1):
        scored.append((1.0 / (RRF_K + rank), 1, rank, result))
    scored.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [source for *_, source in scored]
