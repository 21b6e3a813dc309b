"""`zoo --help` start-up time (target: under 0.3 s median) vs the bare interpreter.

Heavy modules (numpy, wandb, huggingface_hub, rich) must be imported lazily, inside commands.
Prints the ratio first, then medians. Usage: python benchmarks/cli.py [-n 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    _time([py, "-m", "zoo", "--help"], 2)  # warm the page cache
    bare = _time([py, "-c", "pass"], args.n)
    helps = _time([py, "-m", "zoo", "--help"], args.n)
    heavy = subprocess.run(
        [py, "-c", "import sys, zoo.cli; print(sorted(m for m in ('numpy','wandb','huggingface_hub','rich','torch','jinja2') if m in sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    med_help, med_bare = statistics.median(helps), statistics.median(bare)
    print(f"ratio zoo --help / bare python: {med_help / med_bare:.2f}x")
    print(f"zoo --help median: {med_help * 1000:.0f} ms (target < 300 ms) {'OK' if med_help < 0.3 else 'OVER TARGET'}")
    print(f"bare python median: {med_bare * 1000:.0f} ms; n={args.n}")
    print(f"heavy modules imported by `import zoo.cli`: {heavy}")


if __name__ == "__main__":
    main()
