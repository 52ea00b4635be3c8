"""A command's outcome: JSON for scripts, a line for people, and the exit status either way."""

from __future__ import annotations

import json

import pytest

from core.cli.output import failure, result


def test_a_result_is_json_for_scripts_and_a_line_for_people(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert result(True, {"ok": True, "path": "/m"}, "model: /m") == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "path": "/m"}
    assert result(False, {"ok": False}, "model: 2 files missing", status=1) == 1
    assert capsys.readouterr().out == "model: 2 files missing\n"


def test_a_failure_goes_to_stdout_as_json_or_to_stderr_as_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert failure(True, {"error": "offline"}, "download failed: offline") == 1
    printed = capsys.readouterr()
    assert (json.loads(printed.out), printed.err) == ({"ok": False, "error": "offline"}, "")
    assert failure(False, {"error": "offline"}, "download failed: offline") == 1
    printed = capsys.readouterr()
    assert (printed.out, printed.err) == ("", "voxgate: download failed: offline\n")
