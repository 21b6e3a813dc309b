"""CLI start-up: `zoo --help` and `zoo list` on a built demo workspace (target: each under 0.3 s median),
against the bare interpreter.

Heavy modules (numpy, wandb, huggingface_hub, rich) must be imported lazily, inside commands; `zoo list`
reads a checked registry back from the cache and does not re-hash unchanged artifacts (digest cache).
Prints the ratios first, then medians. Usage: python benchmarks/cli.py [-n 15] [--demo DIR]
(without --demo, `zoo demo` builds one in a temporary directory first, with its own ZOO_CACHE).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _time(cmd: list[str], n: int, env: dict[str, str] | None = None) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        out.append(time.perf_counter() - t0)
    return out


def _verdict(seconds: float) -> str:
    return "OK" if seconds < 0.3 else "OVER TARGET"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=15)
    ap.add_argument("--demo", type=Path, default=None, help="an existing demo workspace (else one is built)")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="zoo-bench-cli-") as tmp:
        env = dict(os.environ)
        demo = args.demo
        if demo is None:
            env["ZOO_CACHE"] = str(Path(tmp) / "cache")
            demo = Path(tmp) / "demo"
            subprocess.run([py, "-m", "zoo", "demo", str(demo)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, env=env)
        listing = [py, "-m", "zoo", "-C", str(demo), "list"]
        first = _time(listing, 1, env)[0]  # fills the registry and digest caches (hashes every artifact once)
        _time([py, "-m", "zoo", "--help"], 2)  # warm the page cache
        bare = _time([py, "-c", "pass"], args.n)
        helps = _time([py, "-m", "zoo", "--help"], args.n)
        lists = _time(listing, args.n, env)
    heavy = subprocess.run(
        [py, "-c", "import sys, zoo.cli; print(sorted(m for m in ('numpy','wandb','huggingface_hub','rich','torch','jinja2') if m in sys.modules))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    med_help, med_bare, med_list = statistics.median(helps), statistics.median(bare), statistics.median(lists)
    print(f"ratio zoo --help / bare python: {med_help / med_bare:.2f}x; zoo list (demo) / bare python: "
          f"{med_list / med_bare:.2f}x")
    print(f"zoo --help median: {med_help * 1000:.0f} ms (target < 300 ms) {_verdict(med_help)}")
    print(f"zoo list on the demo median: {med_list * 1000:.0f} ms (target < 300 ms) {_verdict(med_list)}; "
          f"first run (fills the caches) {first * 1000:.0f} ms")
    print(f"bare python median: {med_bare * 1000:.0f} ms; n={args.n}")
    print(f"heavy modules imported by `import zoo.cli`: {heavy}")


if __name__ == "__main__":
    main()
