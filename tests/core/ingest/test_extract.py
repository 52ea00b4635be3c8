"""Text extraction from each supported file type, and clear errors for the rest."""

from __future__ import annotations

import json

import pytest

from core.ingest import extract
from core.ingest.extract import MAX_RECORDS, DocumentTooLarge, UnreadableDocument, extract_documents


def tiny_pdf(text: str, *, pages: int = 1, repeat: int = 1) -> bytes:
    """A PDF with a text object (``repeat`` times), written by hand (valid xref offsets); its
    ``pages`` pages all show the one page object."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET\n".encode() * repeat
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{' '.join(['3 0 R'] * pages)}] /Count {pages} >>".encode(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def test_plain_text_and_markdown_title() -> None:
    [doc] = extract_documents(b"# Owls\n\nOwls hunt at night.", "owls.md")
    assert doc.title == "Owls" and "hunt at night" in doc.text


def test_html_keeps_visible_text_only() -> None:
    page = (
        b"<html><head><title>Bees</title><style>p{}</style></head>"
        b"<body><p>Bees make honey.</p><script>x()</script></body></html>"
    )
    [doc] = extract_documents(page, "bees.html")
    assert doc.title == "Bees"
    assert doc.text == "Bees make honey."


def test_html_without_a_closing_head_tag_keeps_its_body() -> None:
    page = b"<!DOCTYPE html><html><head><title>Bees</title><body><p>Bees make honey.</p></body>"
    [doc] = extract_documents(page, "bees.html")
    assert doc.title == "Bees"
    assert doc.text == "Bees make honey."


@pytest.mark.parametrize(
    "meta",
    [
        b'<meta charset="windows-1252">',
        b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">',
    ],
)
def test_html_in_the_encoding_its_meta_tag_declares(meta: bytes) -> None:
    page = b"<html><head>" + meta + b"</head><body><p>Caf\xe9 cr\xe8me</p></body></html>"
    [doc] = extract_documents(page, "menu.html")
    assert doc.text == "Café crème"


@pytest.mark.parametrize("meta", [b'<meta charset="utf-8">', b'<meta charset="no-such-codec">'])
def test_html_whose_meta_tag_names_the_wrong_encoding_is_refused(meta: bytes) -> None:
    page = b"<html><head>" + meta + b"</head><body><p>Caf\xe9 cr\xe8me</p></body></html>"
    with pytest.raises(UnreadableDocument, match="not UTF-8"):
        extract_documents(page, "menu.html")


def test_pdf_is_recognised_by_content() -> None:
    [doc] = extract_documents(tiny_pdf("Volcanoes erupt lava"), "report.bin")
    assert "Volcanoes erupt lava" in doc.text
    assert doc.metadata["pages"] == 1


def test_json_records_become_documents() -> None:
    records = [
        {"id": "a", "text": "First record.", "author": "Ann"},
        {"id": "b", "content": "Second record.", "metadata": {"year": 2020}},
    ]
    docs = extract_documents(json.dumps(records).encode(), "records.json")
    assert [d.id for d in docs] == ["a", "b"]
    assert docs[0].metadata == {"author": "Ann"} and docs[1].metadata == {"year": 2020}


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"", "x.txt", "empty"),
        (b"\x00\x01\x02\xff\xfe" * 50, "x.txt", "UTF-8"),
        (b"PK\x03\x04zipdata", "x.docx", "cannot read"),
        (b"%PDF-1.4 broken", "x.pdf", "PDF"),
        (b'[{"title": "no text"}]', "x.json", "text"),
        (b"{not json", "x.json", "JSON"),
        (b"[]", "x.json", "no records"),
        # Text the store would find empty once the job had started (a 400 naming 'text').
        (b"<html><head><script>x()</script></head></html>", "x.html", "no text"),
        ("\u3000\u00a0 \n".encode(), "x.txt", "no text"),
    ],
)
def test_unreadable_files_say_why(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(UnreadableDocument, match=reason):
        extract_documents(data, name)


def test_a_records_file_holds_a_bounded_number_of_records() -> None:
    records = [{"text": "a"}] * MAX_RECORDS
    assert len(extract_documents(json.dumps(records).encode(), "r.json")) == MAX_RECORDS
    with pytest.raises(DocumentTooLarge, match=f"at most {MAX_RECORDS}"):
        extract_documents(json.dumps([*records, {"text": "b"}]).encode(), "r.json")


def test_the_work_of_reading_a_pdf_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pages sharing one content stream: a few kilobytes kept a thread parsing for minutes.
    monkeypatch.setattr(extract, "MAX_PDF_OPERATORS", 1000)
    [doc] = extract_documents(tiny_pdf("Owls", pages=10, repeat=20), "owls.pdf")
    assert doc.metadata["pages"] == 10
    with pytest.raises(DocumentTooLarge, match="more than 1000 drawing operators"):
        extract_documents(tiny_pdf("Owls", pages=11, repeat=20), "owls.pdf")
