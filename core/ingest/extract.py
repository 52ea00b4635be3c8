"""Text out of uploaded files: plain text, Markdown, HTML, PDF and JSON records.

The file's content decides, then its name: a PDF is recognised by its magic bytes whatever it is
called. Anything unreadable raises :class:`UnreadableDocument` (HTTP 415) with the reason.
"""

from __future__ import annotations

import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any


class UnreadableDocument(Exception):
    """The upload is not a document voxgate can extract text from."""


class DocumentTooLarge(UnreadableDocument):
    """The upload holds more than one may: too many JSON records, or a PDF whose text takes
    too much work to extract (HTTP 413)."""


#: Records one upload may hold. Each becomes a document its job keeps (ids included, in the
#: finished job too): 25 MB of tiny records were two million documents, about 750 MB held.
MAX_RECORDS = 10_000
#: Content-stream operators read from one PDF, in all its pages. A page's stream may be shared
#: by many pages, so a file of a few kilobytes could keep a thread parsing for hours; a long book
#: is a few thousand operators a page.
MAX_PDF_OPERATORS = 1_000_000


@dataclass(frozen=True)
class ExtractedDocument:
    text: str
    id: str | None = None
    title: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".rst", ".csv", ".log", ""})
_MARKDOWN_TITLE = re.compile(r"^#\s+(.+)$", re.MULTILINE)
#: ``<meta charset="...">`` or ``<meta http-equiv="Content-Type" content="...; charset=...">``.
_HTML_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


class _HtmlText(HTMLParser):
    """Visible text of an HTML page, with block elements as line breaks."""

    _SKIP = frozenset({"script", "style", "noscript", "template", "svg", "head"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: str | None = None
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            # ``</head>`` may be left out (HTML allows it): the body ends whatever was skipped.
            self._skipping = 0
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title = (self.title or "") + data.strip()
        elif not self._skipping:
            self.parts.append(data)


def _decode(data: bytes, declared: str | None = None) -> str:
    """The text of ``data``: UTF-8, UTF-16, or the encoding the file itself declares."""
    for encoding in ("utf-8-sig", "utf-16", *([declared] if declared else [])):
        try:
            text = data.decode(encoding)
        except (UnicodeError, LookupError):  # LookupError: a declared name no codec has
            continue
        controls = sum(
            1 for ch in text if ch not in "\n\r\t" and unicodedata.category(ch)[0] == "C"
        )
        if controls <= len(text) // 100:  # binary data decodes into control characters
            return text
    raise UnreadableDocument("the file is not UTF-8 text")


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _visible(document: ExtractedDocument, what: str) -> ExtractedDocument:
    # Refused here, as the file's fault, rather than by the store once its job has started.
    if not document.text.strip():
        raise UnreadableDocument(f"{what} has no text to store")
    return document


def _html(data: bytes) -> ExtractedDocument:
    # Pages saved from older sites are often windows-1252, said so in a meta tag.
    declared = _HTML_CHARSET.search(data[:4096])
    parser = _HtmlText()
    parser.feed(_decode(data, declared.group(1).decode() if declared else None))
    parser.close()
    text = _tidy("".join(parser.parts))
    return _visible(ExtractedDocument(text, title=parser.title or None), "the page")


def _pdf(data: bytes) -> ExtractedDocument:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise UnreadableDocument("PDF files need the rag_chroma extra (pypdf)") from None
    operators = 0

    def count(*_: Any) -> None:
        nonlocal operators
        operators += 1
        if operators > MAX_PDF_OPERATORS:
            raise DocumentTooLarge(
                f"the PDF holds more than {MAX_PDF_OPERATORS} drawing operators; split it"
            )

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text(visitor_operand_before=count) or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableDocument(f"could not read the PDF: {exc}") from None
    text = _tidy("\n\n".join(pages))
    if not text:
        raise UnreadableDocument("the PDF has no extractable text (scanned pages need OCR)")
    return ExtractedDocument(
        text, title=str(title) if title else None, metadata={"pages": len(pages)}
    )


def _records(data: bytes) -> list[ExtractedDocument]:
    try:
        parsed: Any = json.loads(_decode(data))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UnreadableDocument(f"not valid JSON: {exc}") from None
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items:
        raise UnreadableDocument("the JSON file holds no records")
    if len(items) > MAX_RECORDS:
        raise DocumentTooLarge(
            f"the JSON file holds {len(items)} records; at most {MAX_RECORDS} per upload"
        )
    documents = []
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise UnreadableDocument(f"JSON record {number} is not an object")
        text = item.get("text", item.get("content"))
        if not isinstance(text, str) or not text.strip():
            raise UnreadableDocument(f"JSON record {number} has no 'text' (or 'content') string")
        metadata = item.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise UnreadableDocument(f"JSON record {number}: metadata must be an object")
        extra = {k: v for k, v in item.items() if k not in ("id", "text", "content", "metadata")}
        record_id = item.get("id")
        documents.append(
            ExtractedDocument(
                text,
                id=str(record_id) if record_id is not None else None,
                title=item.get("title") if isinstance(item.get("title"), str) else None,
                metadata={**extra, **metadata},
            )
        )
    return documents


def extract_documents(data: bytes, filename: str | None = None) -> list[ExtractedDocument]:
    """Every document in an upload (a JSON file may hold many records)."""
    if not data.strip():
        raise UnreadableDocument("the file is empty")
    suffix = PurePath(filename or "").suffix.lower()
    head = data[:1024].lstrip().lower()
    if data.startswith(b"%PDF-"):
        return [_pdf(data)]
    if suffix in (".html", ".htm") or head.startswith((b"<!doctype html", b"<html")):
        return [_html(data)]
    if suffix == ".json" or (suffix not in TEXT_SUFFIXES and head[:1] in (b"{", b"[")):
        return _records(data)
    if suffix in TEXT_SUFFIXES:
        text = _decode(data)
        title_match = _MARKDOWN_TITLE.search(text) if suffix in (".md", ".markdown") else None
        title = title_match.group(1).strip() if title_match else None
        return [_visible(ExtractedDocument(text, title=title), "the file")]
    raise UnreadableDocument(
        f"cannot read {suffix} files: send .txt, .md, .html, .pdf or .json (records)"
    )
