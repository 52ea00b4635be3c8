"""How many physical cores this process may use: llama.cpp decodes fastest with one thread per
core (hyper-threads only contend for the same execution units)."""

from __future__ import annotations

import os
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")


def physical_cores() -> int:
    allowed = _allowed_cpus()
    try:
        text = CPUINFO.read_text(encoding="ascii", errors="replace")
    except OSError:  # not Linux: logical cores are the best cheap guess
        return max(1, len(allowed) if allowed else (os.cpu_count() or 1))
    cores: set[tuple[str, str]] = set()
    for block in text.split("\n\n"):
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in block.splitlines())
        )
        processor = fields.get("processor")
        if processor is None or (allowed and int(processor) not in allowed):
            continue
        cores.add((fields.get("physical id", "0"), fields.get("core id", processor)))
    return max(1, len(cores) or len(allowed) or (os.cpu_count() or 1))


def _allowed_cpus() -> set[int]:
    getaffinity = getattr(os, "sched_getaffinity", None)
    return set(getaffinity(0)) if getaffinity is not None else set()
