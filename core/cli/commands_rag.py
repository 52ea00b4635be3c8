"""``voxgate rag add | ask | list | delete | stats``: manage and search documents from a shell.

Thin clients of ``/v1/rag/*`` on a running daemon (or ``--local``). ``add`` takes files and
folders (searched recursively for readable documents), uploads them one by one and reports each
as it goes, so a folder of hundreds of files shows its progress and a bad file does not stop the
rest. Each file becomes an ingestion job the command follows: a bar on a terminal, a line now and
then otherwise; interrupted, it cancels the job it was following.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx

from core.cli.gateway_client import (
    add_client_arguments,
    error_message,
    gateway_client,
    report_error,
    run_client,
)
from core.cli.output import emit_json, fail, say

#: What ``add`` picks up when given a folder (a named file is always sent).
DOCUMENT_SUFFIXES = frozenset(
    {".txt", ".md", ".markdown", ".rst", ".html", ".htm", ".pdf", ".json", ".csv", ".log"}
)


def register(subparsers: Any) -> None:
    rag = subparsers.add_parser("rag", help="add, search and remove documents for retrieval")
    commands = rag.add_subparsers(dest="rag_command", metavar="COMMAND", required=True)

    add = commands.add_parser("add", help="ingest files and folders (txt, md, html, pdf, json)")
    add.add_argument("paths", nargs="+", type=Path, help="files or folders (searched recursively)")
    add.add_argument("--id", default=None, help="document id (one file only; default: file name)")
    add.add_argument("--metadata", default=None, help='JSON object, e.g. \'{"author": "Ann"}\'')
    _common(add)
    add.set_defaults(handler=run_client(add_command))

    ask = commands.add_parser("ask", help="retrieve the passages that answer a question")
    ask.add_argument("question")
    ask.add_argument("--top-k", type=int, default=4)
    ask.add_argument("--mode", choices=("hybrid", "dense", "keyword"), default="hybrid")
    ask.add_argument("--answer", action="store_true", help="also answer from them (llm route)")
    ask.add_argument("--json", action="store_true", help="print the raw response")
    _common(ask)
    ask.set_defaults(handler=run_client(ask_command))

    listing = commands.add_parser("list", help="list the documents of a collection")
    listing.add_argument("--json", action="store_true")
    _common(listing)
    listing.set_defaults(handler=run_client(list_command))

    delete = commands.add_parser("delete", help="remove documents and all their chunks")
    delete.add_argument("ids", nargs="+")
    _common(delete)
    delete.set_defaults(handler=run_client(delete_command))

    stats = commands.add_parser("stats", help="documents and chunks per collection")
    _common(stats)
    stats.set_defaults(handler=run_client(stats_command))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--collection", default="default")
    parser.add_argument("--model", default=None, help="retrieval engine or alias (default: rag)")
    add_client_arguments(parser)


def document_path(doc_id: str) -> str:
    """The URL path of a document: an id such as ``notes/../a.md`` or ``a?b`` is one segment
    (left as it is, the client would resolve the dots or cut the id at the ``?``)."""
    return "/v1/rag/documents/" + urllib.parse.quote(doc_id, safe="")


def documents_under(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Files to send, in a stable order, and the paths that do not exist."""
    found: list[Path] = []
    missing: list[str] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and p.suffix.lower() in DOCUMENT_SUFFIXES
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            missing.append(str(path))
    return list(dict.fromkeys(found)), missing


async def add_command(args: argparse.Namespace) -> int:
    files, missing = documents_under(args.paths)
    if missing:
        return fail(f"no such file or folder: {', '.join(missing)}")
    if not files:
        return fail("no readable documents found (txt, md, html, pdf, json)")
    if args.id and len(files) > 1:
        return fail("--id names one document: give a single file")
    if args.metadata is not None:
        try:
            if not isinstance(json.loads(args.metadata), dict):
                raise ValueError
        except ValueError:
            return fail("--metadata must be a JSON object")
    failed = chunks = 0
    started = time.perf_counter()
    async with gateway_client(args) as client:
        for number, path in enumerate(files, 1):
            fields = {"collection": args.collection}
            if args.id:
                fields["id"] = args.id
            if args.metadata:
                fields["metadata"] = args.metadata
            if args.model:
                fields["model"] = args.model
            response = await client.post(
                "/v1/rag/documents",
                params={"async": "true"},
                files={"file": (path.name, path.read_bytes())},
                data=fields,
            )
            prefix = f"[{number}/{len(files)}] {path}"
            if response.status_code == 202:
                response = await follow_job(client, response.json(), prefix)
            if response.status_code != 201:
                failed += 1
                sys.stderr.write(f"{prefix}: failed: {error_message(response)}\n")
                continue
            body = response.json()
            added = body.get("data", [body])
            count = sum(int(doc.get("chunks", 0)) for doc in added)
            chunks += count
            ids = ", ".join(str(doc.get("id")) for doc in added[:3])
            more = f" (+{len(added) - 3} more)" if len(added) > 3 else ""
            sys.stderr.write(f"{prefix}: {count} chunks as {ids}{more}\n")
    seconds = time.perf_counter() - started
    say(
        f"added {len(files) - failed} of {len(files)} files to {args.collection!r}: "
        f"{chunks} chunks in {seconds:.1f} s"
    )
    return 1 if failed else 0


#: How often a job is polled, and how often a line of progress is written when not on a terminal.
_POLL_SECONDS = 0.2
_LINE_SECONDS = 2.0


async def follow_job(client: httpx.AsyncClient, job: dict[str, Any], prefix: str) -> httpx.Response:
    """Poll an ingestion job until it ends, showing its progress; the job's documents come back
    as a 201 response (or the job's error as a failed one). Interrupted, the job is cancelled."""
    bar = Progress(prefix)
    try:
        while job["status"] in ("queued", "running"):
            bar.show(int(job["chunks_done"]), int(job["chunks_total"]))
            await asyncio.sleep(_POLL_SECONDS)
            polled = await client.get(f"/v1/rag/jobs/{job['id']}")
            if polled.status_code != 200:
                return polled
            job = polled.json()
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.shield(client.delete(f"/v1/rag/jobs/{job['id']}"))
        raise
    finally:
        bar.done()
    if job["status"] != "succeeded":
        error = job.get("error") or {"message": f"the ingestion job was {job['status']}"}
        return httpx.Response(500, json={"error": error})
    documents = await asyncio.gather(
        *(
            client.get(document_path(doc_id), params={"collection": job["collection"]})
            for doc_id in job["document_ids"]
        )
    )
    data = [d.json() for d in documents if d.status_code == 200]
    return httpx.Response(201, json={"object": "list", "data": data})


class Progress:
    """A bar redrawn in place on a terminal; elsewhere (a log, a pipe) a line every few
    seconds while a job is part-way."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._tty = sys.stderr.isatty()
        self._drawn = False
        self._last_line = 0.0
        self._last: tuple[int, int] | None = None

    def show(self, done: int, total: int) -> None:
        if not 0 < done < total or (done, total) == self._last:
            return
        self._last = (done, total)
        if self._tty:
            width = 30
            filled = width * done // total
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{self._prefix}: [{bar}] {done}/{total} chunks")
            sys.stderr.flush()
            self._drawn = True
        elif time.monotonic() - self._last_line >= _LINE_SECONDS:
            self._last_line = time.monotonic()
            sys.stderr.write(f"{self._prefix}: {done}/{total} chunks ({100 * done // total}%)\n")

    def done(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


async def ask_command(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "question": args.question,
        "collection": args.collection,
        "top_k": args.top_k,
        "mode": args.mode,
        "generate": args.answer,
    }
    if args.model:
        body["model"] = args.model
    async with gateway_client(args) as client:
        response = await client.post("/v1/rag/query", json=body)
    if response.status_code != 200:
        return report_error(response)
    result = response.json()
    if args.json:
        emit_json(result)
        return 0
    if args.answer:
        say(str(result.get("answer", "")).strip())
        say()
    if not result["data"]:
        say(f"nothing in {args.collection!r} matches")
    for hit in result["data"]:
        title = f" {hit['title']}" if hit.get("title") else ""
        where = f"{hit['document_id']}#{hit['chunk_index']} [{hit['start']}:{hit['end']}]"
        say(f"[{hit['index']}]{title} ({where}, score {hit['score']:.3f})")
        say("    " + " ".join(hit["text"].split()))
    return 0


async def list_command(args: argparse.Namespace) -> int:
    documents: list[dict[str, Any]] = []
    async with gateway_client(args) as client:
        while True:
            params = {"collection": args.collection, "limit": 100, "offset": len(documents)}
            response = await client.get("/v1/rag/documents", params=params)
            if response.status_code != 200:
                return report_error(response)
            page = response.json()["data"]
            documents.extend(page)
            if len(page) < 100:
                break
    if args.json:
        emit_json(documents)
        return 0
    for doc in documents:
        title = doc.get("metadata", {}).get("title")
        say(f"{doc['id']}\t{doc['chunks']} chunks\t{doc['chars']} chars\t{title or ''}".rstrip())
    say(f"{len(documents)} documents in {args.collection!r}")
    return 0


async def delete_command(args: argparse.Namespace) -> int:
    missing = 0
    async with gateway_client(args) as client:
        for doc_id in args.ids:
            response = await client.delete(
                document_path(doc_id), params={"collection": args.collection}
            )
            if response.status_code == 200:
                say(f"deleted {doc_id}")
            else:
                missing += 1
                sys.stderr.write(f"{doc_id}: {error_message(response)}\n")
    return 1 if missing else 0


async def stats_command(args: argparse.Namespace) -> int:
    async with gateway_client(args) as client:
        response = await client.get("/v1/rag/stats")
    if response.status_code != 200:
        return report_error(response)
    stats = response.json()
    say(f"store: {stats['store']} at {stats['location']}")
    for name, counts in sorted(stats["collections"].items()):
        say(f"{name}\t{counts['documents']} documents\t{counts['chunks']} chunks")
    return 0
