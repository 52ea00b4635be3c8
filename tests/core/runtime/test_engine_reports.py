"""What engines report about themselves: health probes in /control/status, and the events they
send through their context (a worker that crashed or restarted) counted in /metrics."""

from __future__ import annotations

from tests.support import WriteConfig
from tests.support.daemon import asgi_client, running_runtime

CONFIG = """\
engines:
  fine: {capability: llm, engine: fake, preload: true}
  sick: {capability: tts, engine: fake, preload: true, settings: {health: sick}}
  stuck: {capability: stt, engine: fake, preload: true, settings: {health: hang}}
  idle: {capability: embeddings, engine: fake}
routes: {llm: [fine], tts: [sick], stt: [stuck], embeddings: [idle]}
"""


async def test_control_status_carries_each_loaded_engine_s_own_probe(
    write_config: WriteConfig,
) -> None:
    async with running_runtime(write_config(CONFIG)) as runtime, asgi_client(runtime) as client:
        health = await runtime.engine_health(timeout=0.2)
        assert health == {
            "fine": {"ok": True, "detail": ""},
            "sick": {"ok": False, "detail": "fake model in a bad way"},
            "stuck": {"ok": False, "detail": "no answer within 0.2 s"},
        }
        status = (await client.get("/control/status")).json()
        assert status["engines"]["fine"]["health"] == {"ok": True, "detail": ""}
        assert status["engines"]["sick"]["health"]["ok"] is False
        # Not loaded, so not probed (a probe never loads a model).
        assert status["engines"]["idle"]["health"] is None
        assert status["engines"]["idle"]["lifecycle"] == "unloaded"


async def test_events_engines_send_are_counted_per_engine(write_config: WriteConfig) -> None:
    async with running_runtime(write_config(CONFIG)) as runtime, asgi_client(runtime) as client:
        context = runtime.current.slots["sick"].engine.context
        context.on_event("worker.crashed", {"worker": "w", "pid": 1})
        context.on_event("worker.crashed", {"worker": "w", "pid": 2})
        context.on_event("worker.restarted", {"worker": "w", "restarts": 1})
        metrics = (await client.get("/metrics")).text
        assert 'voxgate_engine_events_total{engine="sick",event="worker.crashed"} 2.0' in metrics
        assert 'voxgate_engine_events_total{engine="sick",event="worker.restarted"} 1.0' in metrics
