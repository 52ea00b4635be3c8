"""An HTTP client for the one-line commands: a running daemon, or an in-process one.

``--local`` starts the runtime inside the command and talks to the same ASGI app over an
in-memory transport, so both ways exercise exactly the code the daemon runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx

from core.cli.config_option import add_config_argument, config_file
from core.cli.output import fail, usage_error
from core.config.errors import ConfigError


def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", default=None, help="daemon URL (default: $VOXGATE_URL or http://127.0.0.1:8765)"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="run the engines in this process instead of calling a daemon",
    )
    add_config_argument(parser, "YAML file for --local (default as for serve)")


@contextlib.asynccontextmanager
async def gateway_client(args: argparse.Namespace) -> AsyncIterator[httpx.AsyncClient]:
    timeout = httpx.Timeout(600.0, connect=5.0)
    headers = {}
    key = os.environ.get("VOXGATE_API_KEY")
    if key:
        headers["authorization"] = f"Bearer {key}"
    if not args.local:
        url = args.url or os.environ.get("VOXGATE_URL", "http://127.0.0.1:8765")
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout) as client:
            yield client
        return

    from core.api.app import create_app
    from core.runtime.runtime import Runtime

    runtime = Runtime(config_file(args))
    await runtime.start()
    try:
        app = create_app(runtime, manage_runtime=False)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 0))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://voxgate.localhost",
            headers=headers,
            timeout=timeout,
        ) as client:
            yield client
    finally:
        await runtime.shutdown(5)


@contextlib.asynccontextmanager
async def streamed_post(
    args: argparse.Namespace, path: str, body: dict[str, Any]
) -> AsyncIterator[httpx.Response]:
    """POST ``body`` as JSON to ``path`` and stream the answer; an error answer is read whole, so
    that report_error can show it."""
    async with (
        gateway_client(args) as client,
        client.stream("POST", path, json=body) as response,
    ):
        if response.status_code != 200:
            await response.aread()
        yield response


def run_client(
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    """A client command as a CLI handler: connection and config problems become one clear line."""

    def run(args: argparse.Namespace) -> int:
        try:
            return asyncio.run(command(args))
        except ConfigError as exc:
            return fail(exc.render())
        except httpx.ConnectError:
            return fail(
                "cannot reach the daemon: start it with `voxgate serve` (or `make run`), "
                "or add --local to run the engines in this process"
            )
        except httpx.InvalidURL as exc:
            return usage_error(f"invalid daemon URL: {exc}")
        except httpx.HTTPError as exc:
            return fail(f"request failed: {exc}")
        except BrokenPipeError:
            raise  # output piped into `head`: main ends quietly
        except OSError as exc:
            # A file to read or write (a missing folder, a directory, no permission).
            return fail(file_problem(exc))

    return run


def file_problem(exc: OSError) -> str:
    """``cannot use out/x.wav: No such file or directory``, without Python's errno prefix."""
    if exc.filename is None:
        return str(exc)
    return f"cannot use {exc.filename}: {exc.strerror or exc}"


def error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text


def report_error(response: httpx.Response) -> int:
    return fail(f"{response.status_code}: {error_message(response)}")
