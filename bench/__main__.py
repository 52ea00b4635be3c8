"""``python -m bench`` lists the benchmarks; run one with ``python -m bench.<name>``."""

from __future__ import annotations

import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sorted(
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if m.name.startswith("bench_")
    )
    sys.stdout.write("benchmarks (run with: python -m bench.<name>):\n")
    for name in names:
        sys.stdout.write(f"  {name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
