"""Local retrieval and web search run side by side: both answers, or the first failure as it is
with the other call cancelled (no orphaned task, no exception group for the error handler)."""

from __future__ import annotations

import asyncio

import pytest

from core.api.sources import side_by_side
from core.engines.retrieval import Citation
from core.routing.errors import NoEngineAvailable
from core.websearch.search import WebFound


async def _local(delay: float = 0) -> tuple[list[Citation], dict[str, str]]:
    await asyncio.sleep(delay)
    return [Citation("bees", 0, 0, 4, "bees", 1.0)], {"x-voxgate-engine": "docs"}


async def test_both_answers_come_back() -> None:
    async def web() -> WebFound:
        return WebFound([], "web")

    (citations, headers), found = await side_by_side(_local(), web())
    assert citations[0].document_id == "bees" and found.engine == "web"
    assert headers == {"x-voxgate-engine": "docs"}


async def test_a_failure_cancels_the_other_and_is_raised_as_it_is() -> None:
    cancelled = asyncio.Event()

    async def slow_local() -> tuple[list[Citation], dict[str, str]]:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("not reached")

    async def failing_web() -> WebFound:
        raise NoEngineAvailable("no search engine is configured for mode 'local'")

    with pytest.raises(NoEngineAvailable, match="no search engine"):
        await side_by_side(slow_local(), failing_web())
    assert cancelled.is_set()
