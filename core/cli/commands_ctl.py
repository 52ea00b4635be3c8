"""``voxgate ctl status|reload``: talk to a running daemon's control endpoint.

``reload --fleet`` reloads every daemon sharing the state store (each reads its own file)."""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx

from core.cli.output import emit_json, fail, say, usage_error


def default_url() -> str:
    return os.environ.get("VOXGATE_URL", "http://127.0.0.1:8765")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ctl", help="control a running daemon")
    parser.add_argument(
        "--url", default=None, help="daemon URL (default: $VOXGATE_URL or http://127.0.0.1:8765)"
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON answer")
    sub = parser.add_subparsers(dest="ctl_command", metavar="ACTION", required=True)
    sub.add_parser("status", help="engines, routes and the last reload").set_defaults(
        handler=status_command
    )
    reload = sub.add_parser("reload", help="re-read the config file now")
    reload.add_argument(
        "--fleet",
        action="store_true",
        help="also make every daemon sharing this one's state store reload its own file",
    )
    reload.set_defaults(handler=reload_command)


def _client(args: argparse.Namespace) -> httpx.Client:
    headers = {}
    token = os.environ.get("VOXGATE_CONTROL_TOKEN")
    if token:
        headers["x-voxgate-control-token"] = token
    return httpx.Client(base_url=args.url or default_url(), headers=headers, timeout=60)


def status_command(args: argparse.Namespace) -> int:
    try:
        with _client(args) as client:
            response = client.get("/control/status")
    except httpx.InvalidURL as exc:
        return usage_error(f"invalid daemon URL: {exc}")
    except httpx.HTTPError as exc:
        return fail(f"cannot reach the daemon: {exc}")
    if response.status_code != 200:
        return fail(f"status failed ({response.status_code}): {response.text[:300]}")
    try:
        data = response.json()
    except ValueError:
        return fail(f"{args.url or default_url()} answered, but not as a voxgate daemon does")
    if args.json:
        emit_json(data)
        return 0
    say(f"mode {data['mode']}  config {data['config']['file']}  generation {data['generation']}")
    for capability, route in data["routes"].items():
        chain = " -> ".join(f"{c['engine']}[{c['state']}]" for c in route["chain"]) or "(none)"
        say(f"  {capability:<11} {'ready' if route['ready'] else 'NOT READY':<9} {chain}")
    for name, engine in data["engines"].items():
        error = f"  last error: {engine['last_error']}" if engine["last_error"] else ""
        say(f"  engine {name:<18} {engine['state']:<14} served {engine['served']}{error}")
    for failure in data["plugins"]["failed"]:
        say(f"  plugin FAILED {failure['plugin']}: {failure['error']}")
    state = data.get("state") or {}
    if state.get("backend", "memory") != "memory":
        error = f"  last error: {state['last_error']}" if state.get("last_error") else ""
        say(f"  state {state['backend']} {state['url']}: {state['state']}{error}")
    last = data.get("last_reload")
    if last:
        say(f"  last reload: {'ok' if last['ok'] else 'FAILED'} ({last['trigger']})")
    return 0


def reload_command(args: argparse.Namespace) -> int:
    try:
        with _client(args) as client:
            response = client.post(
                "/control/reload", params={"fleet": "true"} if args.fleet else {}
            )
    except httpx.InvalidURL as exc:
        return usage_error(f"invalid daemon URL: {exc}")
    except httpx.HTTPError as exc:
        return fail(f"cannot reach the daemon: {exc}")
    data = _reload_answer(response)
    if data is None:
        # Not the answer of a reload (a wrong URL or control token): show what the server said.
        return fail(f"reload failed ({response.status_code}): {response.text[:300]}")
    if args.json:
        emit_json(data)
    elif data.get("ok"):
        say(
            f"reloaded: generation {data['generation']}, added {data['added']}, "
            f"changed {data['changed']}, removed {data['removed']}"
        )
        if data.get("needs_restart"):
            say(f"  take effect at the next start: {', '.join(data['needs_restart'])}")
    else:
        issues = (data.get("error") or {}).get("issues", [])
        for issue in issues:
            say(f"  line {issue.get('line')}: {issue['path']}: {issue['message']}")
        fail("reload failed; the previous configuration keeps serving")
    fleet_ok = _fleet_ok(data.get("fleet"), quiet=args.json)
    return 0 if data.get("ok") and fleet_ok else 1


def _reload_answer(response: httpx.Response) -> dict[str, Any] | None:
    """The body of a reload that ran (200) or was refused for its config (422), else None."""
    if response.status_code not in (200, 422):
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) and "ok" in data else None


def _fleet_ok(fleet: dict[str, Any] | None, *, quiet: bool) -> bool:
    """Print what the other daemons said about a fleet reload; False if any failed or did not
    answer."""
    if fleet is None:
        return True
    daemons: dict[str, dict[str, Any]] = fleet.get("daemons", {})
    if not quiet:
        if fleet.get("error"):
            say(f"fleet: {fleet['error']}")
        elif fleet.get("backend") == "memory":
            say("fleet: this daemon keeps its state in memory, so it has no fleet to reload")
        else:
            say(f"fleet: {fleet.get('reached', 0)} other daemon(s) asked to reload")
        for name, answer in sorted(daemons.items()):
            if answer.get("ok"):
                say(f"  {name}: generation {answer['generation']}")
                continue
            issues = (answer.get("error") or {}).get("issues") or [{}]
            first = issues[0]
            say(f"  {name}: FAILED {first.get('path', '')}: {first.get('message', '')}")
        if fleet.get("pending"):
            say(f"  {fleet['pending']} daemon(s) did not answer in time")
    failed = [name for name, answer in daemons.items() if not answer.get("ok")]
    return not failed and not fleet.get("pending") and not fleet.get("error")
