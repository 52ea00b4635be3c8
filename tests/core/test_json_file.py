"""JSON objects kept in files: read back as written, anything else reads as nothing."""

from __future__ import annotations

from pathlib import Path

from core.json_file import read_json_object, write_json_object


def test_an_object_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_json_object(path, {"name": "größe", "files": [1, 2]})
    assert read_json_object(path) == {"name": "größe", "files": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_missing_damaged_or_non_object_file_reads_as_none(tmp_path: Path) -> None:
    assert read_json_object(tmp_path / "missing.json") is None
    (tmp_path / "damaged.json").write_text("{not json", encoding="utf-8")
    assert read_json_object(tmp_path / "damaged.json") is None
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    assert read_json_object(tmp_path / "list.json") is None


def test_writing_replaces_the_earlier_object(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    write_json_object(path, {"version": 1})
    write_json_object(path, {"version": 2})
    assert read_json_object(path) == {"version": 2}
