"""The status line systemctl shows, from a runtime's state."""

from __future__ import annotations

from core.runtime.readiness import assess
from core.service import status
from tests.support import WriteConfig
from tests.support.daemon import running_runtime

CHAIN = """\
engines:
  broken: {capability: llm, engine: fake, preload: true, settings: {fail_load: true}}
  backup: {capability: llm, engine: fake, preload: true}
routes: {llm: [broken, backup]}
"""


async def test_a_route_served_by_its_fallback_is_ready_but_names_the_failure(
    write_config: WriteConfig,
) -> None:
    async with running_runtime(write_config(CHAIN)) as runtime:
        line = status.running(runtime, assess(runtime))
        assert line == (
            "Ready: 1/2 engines loaded; routes llm; generation 1; "
            "failing: broken (EngineUnavailable: fake model file missing)"
        )
        await runtime.reload("control")
        assert status.running(runtime, assess(runtime)).endswith("; last reload (control) ok")


def test_start_failure_and_stop_lines() -> None:
    error = ValueError("invalid configuration x.yaml\n  - line 1: mode: bad value\n")
    assert status.start_failed(error) == (
        "Failed to start: invalid configuration x.yaml; line 1: mode: bad value"
    )
    assert status.stopping(None) == "Stopping"
    issues = {"issues": [{"path": "a", "message": "m1"}, {"path": "", "message": "m2"}]}
    assert status.first_issue(issues) == "a: m1 (+1 more)"
