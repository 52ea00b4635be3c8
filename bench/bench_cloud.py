"""The cloud path's own cost: non-streamed chat through the ``openai_chat`` engine, against the
same instant upstream called directly and through LiteLLM's proxy, in the same run.

An OpenAI-compatible upstream that answers at once (``bench/fake_openai.py``) stands behind
both gateways, so whatever they add is their own cost:

- added latency: requests one at a time on a keep-alive connection, the paths taken in turn
  within each round (order rotated), each gateway's time minus the upstream's time in the same
  round (median of those paired differences, and p50 minus p50). LiteLLM gets rounds of its own:
  it goes on working after it has answered, and that work would land in the others' rounds;
- throughput at a fixed concurrency, from ``wrk`` (a C load generator, so the client is not
  the bottleneck) or, without it, from an asyncio client on raw sockets;
- CPU time of the gateway process per request, during the rounds and during the load.

``--baseline`` runs a second voxgate from another checkout (an older commit) beside this one,
for before/after figures from the same run.

    python -m bench.bench_cloud [--rounds 400] [--seconds 6] [--concurrency 16] [--no-litellm]
                                [--baseline OLDER_CHECKOUT]

LiteLLM comes with the ``bench`` extra (``pip install 'voxgate[bench]'``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.processes import stop
from bench.stats import emit, percentile
from tests.support.daemon import Daemon, free_port
from tests.support.plugin_dist import REPO_ROOT

MODEL = "gpt-4o-mini"
BODY = json.dumps(
    {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        "max_tokens": 32,
    }
).encode()
PATH = "/v1/chat/completions"
#: Both gateways check this key on every request, as a deployed gateway would.
KEY = "sk-bench-" + secrets.token_hex(24)

VOXGATE_CONFIG = """\
mode: hybrid
reload: {{watch: false}}
engines:
  openai_chat:
    capability: llm
    engine: openai_chat
    settings: {{base_url: "http://127.0.0.1:{port}/v1", api_key_env: null, model: {model}}}
routes:
  llm: [openai_chat]
aliases:
  {model}: llm
"""

LITELLM_CONFIG = """\
model_list:
  - model_name: {model}
    litellm_params:
      model: openai/{model}
      api_base: http://127.0.0.1:{port}/v1
      api_key: sk-bench-not-a-key
litellm_settings:
  telemetry: false
"""


@dataclass
class Server:
    name: str
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class KeepAlive:
    """A bare HTTP/1.1 client on one keep-alive socket (no library time in the figures)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Length: {len(BODY)}\r\n\r\n"
        ).encode() + BODY
        self.pending = b""

    def post(self) -> tuple[int, bytes]:
        self.sock.sendall(self.request)
        data = self.pending
        while b"\r\n\r\n" not in data:
            data += self._recv()
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(rest) < length:
                rest += self._recv()
            body, self.pending = rest[:length], rest[length:]
            return status, body
        # chunked
        body = b""
        while True:
            while b"\r\n" not in rest:
                rest += self._recv()
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(rest) < size + 2:
                rest += self._recv()
            body += rest[:size]
            rest = rest[size + 2 :]
            if size == 0:
                self.pending = rest
                return status, body

    def _recv(self) -> bytes:
        block = self.sock.recv(1 << 16)
        if not block:
            raise ConnectionError(f"port {self.port} closed the connection")
        return block

    def close(self) -> None:
        self.sock.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def wait_answering(port: int, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited")
        try:
            client = KeepAlive(port)
            try:
                status, body = client.post()
            finally:
                client.close()
            if status == 200:
                return
            raise RuntimeError(f"port {port} answered {status}: {body[:300]!r}")
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not start")


@contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path, cwd: Path = REPO_ROOT
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        child = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield child
    finally:
        stop(child)


@contextmanager
def servers(workdir: Path, litellm: bool, baseline: Path | None) -> Iterator[list[Server]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO_ROOT)}
    with ExitStack() as stack:
        up_port = free_port()
        upstream = stack.enter_context(
            process(
                [sys.executable, "-m", "bench.fake_openai", str(up_port)],
                env,
                workdir / "upstream.log",
            )
        )
        wait_answering(up_port, upstream)
        found = [Server("upstream", up_port, upstream.pid)]

        config = workdir / "voxgate.yaml"
        config.write_text(VOXGATE_CONFIG.format(port=up_port, model=MODEL))
        daemon_env = {**env, "VOXGATE_DATA_DIR": str(workdir / "data"), "VOXGATE_API_KEYS": KEY}
        daemon = Daemon(config, daemon_env, log=workdir / "voxgate.log")
        stack.callback(daemon.stop)
        wait_answering(daemon.port, daemon.process)
        found.append(Server("voxgate", daemon.port, daemon.process.pid))

        if baseline is not None:
            # Another checkout of voxgate (an older commit), same config: before/after in one run.
            base_port = free_port()
            serve = ["serve", "--config", str(config), "--port", str(base_port)]
            older = stack.enter_context(
                process(
                    [sys.executable, "-m", "core.cli.main", *serve],
                    {**daemon_env, "PYTHONPATH": str(baseline)},
                    workdir / "baseline.log",
                    cwd=baseline,
                )
            )
            wait_answering(base_port, older)
            found.append(Server("voxgate@baseline", base_port, older.pid))

        if litellm:
            lite_config = workdir / "litellm.yaml"
            lite_config.write_text(LITELLM_CONFIG.format(port=up_port, model=MODEL))
            lite_port = free_port()
            lite_env = {
                **env,
                "LITELLM_TELEMETRY": "False",
                "LITELLM_MASTER_KEY": KEY,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "DISABLE_SCHEMA_UPDATE": "true",
            }
            proxy = stack.enter_context(
                process(
                    [
                        sys.executable,
                        "-m",
                        "litellm.proxy.proxy_cli",
                        "--config",
                        str(lite_config),
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(lite_port),
                        "--num_workers",
                        "1",
                    ],
                    lite_env,
                    workdir / "litellm.log",
                )
            )
            try:
                wait_answering(lite_port, proxy)
            except RuntimeError:
                emit((workdir / "litellm.log").read_text(errors="replace")[-3000:])
                raise
            found.append(Server("litellm", lite_port, proxy.pid))
        yield found


def added_latency(
    found: list[Server], rounds: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds per request on each path, one request per path per round, order rotated; and
    each server's CPU seconds per request over those rounds."""
    clients = {s.name: KeepAlive(s.port) for s in found}
    times: dict[str, list[float]] = {s.name: [] for s in found}
    names = list(clients)
    try:
        for _ in range(30):  # warm up every path
            for client in clients.values():
                client.post()
        cpu0 = {s.name: cpu_seconds(s.pid) for s in found}
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                t0 = time.perf_counter()
                status, _ = clients[name].post()
                times[name].append(time.perf_counter() - t0)
                if status != 200:
                    raise RuntimeError(f"{name} answered {status}")
        # The upstream also answers the gateways' requests: one per path per round.
        cpu = {
            s.name: (cpu_seconds(s.pid) - cpu0[s.name])
            / (rounds * (len(found) if s.name == "upstream" else 1))
            for s in found
        }
    finally:
        for client in clients.values():
            client.close()
    return times, cpu


@dataclass
class Load:
    requests: int
    seconds: float
    errors: int
    cpu: float

    def __add__(self, other: Load) -> Load:
        return Load(
            self.requests + other.requests,
            self.seconds + other.seconds,
            self.errors + other.errors,
            self.cpu + other.cpu,
        )

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_per_request(self) -> float:
        return self.cpu / max(1, self.requests)


def wrk_load(server: Server, seconds: float, concurrency: int, workdir: Path) -> Load:
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(BODY.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {KEY}"\n'
    )
    cpu0 = cpu_seconds(server.pid)
    started = time.perf_counter()
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            server.url + PATH,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(server.pid) - cpu0
    requests = errors = 0
    for line in out.splitlines():
        words = line.split()
        if "requests in" in line:
            requests = int(words[0])
        elif line.strip().startswith("Non-2xx"):
            errors += int(words[-1])
        elif line.strip().startswith("Socket errors"):
            errors += sum(int(w.rstrip(",")) for w in words[3::2])
    duration = next(
        (
            float(w.rstrip("s,"))
            for line in out.splitlines()
            if "requests in" in line
            for w in [line.split()[3]]
        ),
        elapsed,
    )
    return Load(requests, duration, errors, cpu)


async def _async_load(port: int, seconds: float, concurrency: int) -> tuple[int, int]:
    request = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {KEY}\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    deadline = time.perf_counter() + seconds
    done = errors = 0

    async def worker() -> None:
        nonlocal done, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done += 1
            errors += not head.startswith(b"HTTP/1.1 200")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, errors


def socket_load(server: Server, seconds: float, concurrency: int, _workdir: Path) -> Load:
    cpu0 = cpu_seconds(server.pid)
    started = time.perf_counter()
    done, errors = asyncio.run(_async_load(server.port, seconds, concurrency))
    return Load(done, time.perf_counter() - started, errors, cpu_seconds(server.pid) - cpu0)


def report(
    groups: list[tuple[dict[str, list[float]], dict[str, float]]],
    loads: dict[str, Load],
    concurrency: int,
) -> None:
    added: dict[str, float] = {}
    for times, serial_cpu in groups:
        up = times["upstream"]
        names = ", ".join(name for name in times if name != "upstream")
        emit(
            f"added latency of {names}: {len(up)} rounds, one request at a time (keep-alive, "
            "paired per round with the upstream alone):"
        )
        emit(f"  upstream alone         p50 {percentile(up, 50) * 1e3:7.3f} ms")
        for name, values in times.items():
            if name == "upstream":
                continue
            paired = statistics.median(v - u for v, u in zip(values, up, strict=True))
            added[name] = paired
            emit(
                f"  {name:<22} p50 {percentile(values, 50) * 1e3:7.3f} ms  added p50 "
                f"{(percentile(values, 50) - percentile(up, 50)) * 1e3:+.3f} ms, paired "
                f"{paired * 1e3:+.3f} ms  p90 {percentile(values, 90) * 1e3:.3f} ms  "
                f"CPU {serial_cpu[name] * 1e3:.3f} ms per request"
            )
    emit(f"throughput at concurrency {concurrency} (blocks in turn):")
    for name, load in loads.items():
        emit(
            f"  {name:<22} {load.rate:8.1f} req/s  CPU {load.cpu_per_request * 1e3:6.3f} ms per "
            f"request  ({load.requests} requests, {load.errors} errors)"
        )
    for peer in ("litellm", "voxgate@baseline"):
        if peer not in added:
            continue
        vox, other = loads["voxgate"], loads[peer]
        emit(f"voxgate / {peer}, same run:")
        emit(f"  added latency (paired p50)  x{added['voxgate'] / added[peer]:.3f}")
        emit(f"  throughput                  x{vox.rate / other.rate:.2f}")
        emit(f"  CPU per request             x{vox.cpu_per_request / other.cpu_per_request:.3f}")
    if "voxgate" in added:
        emit(
            f"goal: added p50 <= +1.5 ms (paired {added['voxgate'] * 1e3:+.3f} ms), >= 600 req/s "
            f"per process ({loads['voxgate'].rate:.0f} req/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=6.0, help="throughput time per server")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--blocks", type=int, default=3, help="throughput blocks per server")
    parser.add_argument("--no-litellm", action="store_true", help="voxgate and upstream only")
    parser.add_argument(
        "--baseline", type=Path, help="a checkout of an older voxgate to run beside this one"
    )
    parser.add_argument("--socket-client", action="store_true", help="load without wrk")
    args = parser.parse_args()
    litellm = not args.no_litellm
    if litellm and importlib.util.find_spec("litellm") is None:
        emit("LiteLLM is not installed: pip install 'voxgate[bench]'")
        litellm = False
    load: Callable[[Server, float, int, Path], Load] = (
        socket_load if args.socket_client or shutil.which("wrk") is None else wrk_load
    )
    with tempfile.TemporaryDirectory() as tmp, servers(Path(tmp), litellm, args.baseline) as found:
        # LiteLLM goes on working after it has answered (logging callbacks): taken in turn with
        # the others, that work would land in their rounds. It gets rounds of its own.
        ours = [s for s in found if s.name != "litellm"]
        groups = [added_latency(ours, args.rounds)]
        if litellm:
            theirs = [s for s in found if s.name in ("upstream", "litellm")]
            groups.append(added_latency(theirs, args.rounds))
        # Short blocks in turn (upstream, voxgate, litellm, upstream, ...) so that the machine's
        # drift hits every server alike; each server's blocks are added up.
        loads: dict[str, Load] = {}
        for _ in range(args.blocks):
            for server in found:
                block = load(server, args.seconds / args.blocks, args.concurrency, Path(tmp))
                time.sleep(1.0)  # work a server does after answering stays out of the next block
                loads[server.name] = loads[server.name] + block if server.name in loads else block
        emit(f"load generator: {'wrk' if load is wrk_load else 'asyncio raw sockets'}")
        report(groups, loads, args.concurrency)


if __name__ == "__main__":
    main()
