"""``voxgate say | transcribe | chat``: try each capability in one line."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from core.audio.encode import OUTPUT_FORMATS
from core.audio.wav_file import finalize_wav_file
from core.cli.gateway_client import (
    add_client_arguments,
    gateway_client,
    report_error,
    run_client,
    streamed_post,
)
from core.cli.output import fail, say


def register(subparsers: Any) -> None:
    speak = subparsers.add_parser("say", help="speak text into an audio file")
    speak.add_argument("text", help="what to say")
    speak.add_argument("-o", "--output", type=Path, help="audio file to write (default: stdout)")
    speak.add_argument("--voice", default=None, help="voice id or alias (voxgate ctl status)")
    speak.add_argument("--model", default=None, help="route, engine or alias (default: tts)")
    speak.add_argument("--format", choices=OUTPUT_FORMATS, default=None, help="default: from -o")
    speak.add_argument("--speed", type=finite_number, default=1.0)
    speak.add_argument("--instructions", default=None, help="style or emotion, where supported")
    add_client_arguments(speak)
    speak.set_defaults(handler=run_client(say_command))

    listen = subparsers.add_parser("transcribe", help="print the text spoken in an audio file")
    listen.add_argument("file", type=Path, help="audio file (wav, flac, mp3, ogg, m4a, ...)")
    listen.add_argument("--model", default=None, help="route, engine or alias (default: stt)")
    listen.add_argument("--language", default=None, help="e.g. en; default: detect")
    listen.add_argument(
        "--format", choices=("text", "json", "verbose_json", "srt", "vtt"), default="text"
    )
    add_client_arguments(listen)
    listen.set_defaults(handler=run_client(transcribe_command))

    ask = subparsers.add_parser("chat", help="ask the chat model one question")
    ask.add_argument("question")
    ask.add_argument("--model", default=None, help="route, engine or alias (default: llm)")
    ask.add_argument("--system", default=None, help="system prompt")
    ask.add_argument("--max-tokens", type=int, default=None)
    add_client_arguments(ask)
    ask.set_defaults(handler=run_client(chat_command))


def finite_number(text: str) -> float:
    """An option's number; NaN and infinity cannot be sent as JSON."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


async def say_command(args: argparse.Namespace) -> int:
    fmt = args.format or (args.output.suffix.lstrip(".").lower() if args.output else "wav")
    if fmt not in OUTPUT_FORMATS:
        return fail(f"cannot tell the format from {args.output}; pass --format")
    if args.output is None and sys.stdout.isatty():
        return fail("refusing to write audio to a terminal: pass -o FILE")
    body = {
        "input": args.text,
        "voice": args.voice,
        "model": args.model,
        "response_format": fmt,
        "speed": args.speed,
        "instructions": args.instructions,
    }
    body = {k: v for k, v in body.items() if v is not None}
    async with streamed_post(args, "/v1/audio/speech", body) as response:
        if response.status_code != 200:
            return report_error(response)
        out = args.output.open("wb") if args.output else sys.stdout.buffer
        try:
            async for data in response.aiter_bytes():
                out.write(data)
        finally:
            if args.output:
                out.close()
        engine = response.headers.get("x-voxgate-engine", "?")
    if args.output:
        if fmt == "wav":
            finalize_wav_file(args.output)
        sys.stderr.write(f"wrote {args.output} ({fmt}, engine {engine})\n")
    return 0


async def transcribe_command(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        return fail(f"no such file: {args.file}")
    data = {"response_format": args.format}
    if args.model:
        data["model"] = args.model
    if args.language:
        data["language"] = args.language
    files = {"file": (args.file.name, args.file.read_bytes(), "application/octet-stream")}
    async with gateway_client(args) as client:
        response = await client.post("/v1/audio/transcriptions", data=data, files=files)
    if response.status_code != 200:
        return report_error(response)
    if args.format in ("json", "verbose_json"):
        say(json.dumps(response.json(), indent=2, ensure_ascii=False))
    else:
        sys.stdout.write(response.text if response.text.endswith("\n") else response.text + "\n")
    return 0


async def chat_command(args: argparse.Namespace) -> int:
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    messages.append({"role": "user", "content": args.question})
    body: dict[str, Any] = {"messages": messages, "stream": True}
    if args.model:
        body["model"] = args.model
    if args.max_tokens:
        body["max_tokens"] = args.max_tokens
    async with streamed_post(args, "/v1/chat/completions", body) as response:
        if response.status_code != 200:
            return report_error(response)
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                sys.stdout.write("\n")
                return fail(chunk["error"]["message"])
            for choice in chunk.get("choices", []):
                sys.stdout.write(choice.get("delta", {}).get("content") or "")
                sys.stdout.flush()
    sys.stdout.write("\n")
    return 0
