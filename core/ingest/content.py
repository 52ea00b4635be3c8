"""What makes two uploads the same document: a hash of its collection, text and metadata."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_hash(collection: str, text: str, metadata: dict[str, Any]) -> str:
    """SHA-256 (hex) of the collection, the text and the metadata (key order ignored)."""
    digest = hashlib.sha256()
    digest.update(collection.encode())
    digest.update(b"\0")
    digest.update(json.dumps(metadata, sort_keys=True, ensure_ascii=False, default=str).encode())
    digest.update(b"\0")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def content_id(digest: str) -> str:
    """The id of a document posted without one: the same content always gets the same id, so
    posting it again finds the first copy instead of adding a second."""
    return f"doc-{digest[:32]}"
