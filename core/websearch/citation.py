"""A web result as a source the model may cite, beside the local chunks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WebCitation:
    url: str
    title: str
    #: The engine's snippet, or the page's own text when pages are fetched.
    text: str
    #: Position in the search engine's ranking (1 is its best).
    rank: int
    #: The search engine that found it.
    engine: str
    #: True when ``text`` is the page's text, False for the engine's snippet.
    page: bool = False
