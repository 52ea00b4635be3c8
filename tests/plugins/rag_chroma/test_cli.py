"""`voxgate rag add | ask | list | delete | stats` in process (--local) on the real store and
embedder: folders, progress per file, a bad file reported without stopping the rest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.core.ingest.test_extract import tiny_pdf
from tests.plugins.rag_chroma.conftest import retrieval_config


def cli_config(tmp_path: Path, onnx_cache: Path) -> Path:
    """``tmp_path / "rag.yaml"``: MiniLM and a store in ``tmp_path / "store"``."""
    config = tmp_path / "rag.yaml"
    docs = {"path": str(tmp_path / "store"), "ingest_batch": 16}
    config.write_text(retrieval_config(onnx_cache, docs))
    return config


def voxgate(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", "rag", *args, "--local", "--config", str(config)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=False,
        timeout=180,
    )


def test_add_a_folder_then_ask_list_and_delete(tmp_path: Path, onnx_cache: Path) -> None:
    config = cli_config(tmp_path, onnx_cache)
    library = tmp_path / "library"
    (library / "animals").mkdir(parents=True)
    (library / "animals" / "bees.md").write_text(
        "# Bees\n\nHoney bees live in colonies ruled by a single queen."
    )
    (library / "owls.txt").write_text("Owls hunt small mammals at night with silent flight.")
    (library / "volcano.pdf").write_bytes(tiny_pdf("Volcanoes erupt when magma rises."))
    (library / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (library / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # not a document: skipped
    (library / ".hidden").mkdir()
    (library / ".hidden" / "secret.txt").write_text("never ingested")

    added = voxgate(config, "add", str(library), "--collection", "zoo")
    assert added.returncode == 1, added.stderr  # one file failed
    progress = added.stderr.splitlines()
    assert len(progress) == 4 and progress[0].startswith("[1/4] ")
    assert any("broken.pdf: failed:" in line for line in progress)
    assert any(line.endswith("1 chunks as bees.md") for line in progress)
    assert "added 3 of 4 files to 'zoo'" in added.stdout

    asked = voxgate(config, "ask", "Who rules a bee colony?", "--collection", "zoo", "--top-k", "1")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("[1] Bees (bees.md#0 [")
    assert "single queen" in asked.stdout

    raw = voxgate(config, "ask", "magma", "--collection", "zoo", "--mode", "keyword", "--json")
    assert json.loads(raw.stdout)["data"][0]["document_id"] == "volcano.pdf"

    listed = voxgate(config, "list", "--collection", "zoo")
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()[:-1]] == [
        "bees.md",
        "owls.txt",
        "volcano.pdf",
    ]
    assert listed.stdout.splitlines()[-1] == "3 documents in 'zoo'"

    deleted = voxgate(config, "delete", "owls.txt", "nope.txt", "--collection", "zoo")
    assert deleted.returncode == 1
    assert "deleted owls.txt" in deleted.stdout and "nope.txt: no document" in deleted.stderr
    stats = voxgate(config, "stats")
    assert "zoo\t2 documents\t2 chunks" in stats.stdout


def test_clear_errors_before_anything_is_sent(tmp_path: Path, onnx_cache: Path) -> None:
    config = cli_config(tmp_path, onnx_cache)
    missing = voxgate(config, "add", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "no such file or folder" in missing.stderr
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    two = voxgate(config, "add", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--id", "x")
    assert two.returncode == 1 and "single file" in two.stderr
    bad = voxgate(config, "add", str(tmp_path / "a.txt"), "--metadata", "[1]")
    assert bad.returncode == 1 and "JSON object" in bad.stderr


def test_add_shows_the_progress_of_a_large_file(tmp_path: Path, onnx_cache: Path) -> None:
    config = cli_config(tmp_path, onnx_cache)
    book = tmp_path / "book.txt"
    sentence = "The lighthouse keeper wrote down the weather, the ships and the tides each day. "
    book.write_text("\n\n".join(f"Day {n}. " + sentence * 5 for n in range(200)))

    added = voxgate(config, "add", str(book), "--collection", "library")
    assert added.returncode == 0, added.stderr
    *progress, last = added.stderr.splitlines()
    # Not a terminal: a line now and then while the job is part-way (it moves 16 chunks at a
    # time, polled every 0.2 s), then the file's result.
    assert progress and all(line.startswith(f"[1/1] {book}: ") for line in progress)
    done, totals = zip(
        *(map(int, line.split(": ")[1].split(" ")[0].split("/")) for line in progress),
        strict=True,
    )
    assert list(done) == sorted(done) and done[0] > 0
    total = totals[0]
    assert set(totals) == {total} and done[-1] < total
    assert last == f"[1/1] {book}: {total} chunks as book.txt"
    assert f"{total} chunks in" in added.stdout


def test_ids_with_dots_slashes_and_question_marks(tmp_path: Path, onnx_cache: Path) -> None:
    config = cli_config(tmp_path, onnx_cache)
    owls = tmp_path / "owls.txt"
    owls.write_text("Owls hunt small mammals at night with silent flight.")
    doc_id = "notes/../owls?v=2"
    added = voxgate(config, "add", str(owls), "--id", doc_id, "--collection", "zoo")
    assert added.returncode == 0, added.stderr
    assert added.stderr.rstrip().endswith(f"1 chunks as {doc_id}")
    deleted = voxgate(config, "delete", doc_id, "--collection", "zoo")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout == f"deleted {doc_id}\n"
