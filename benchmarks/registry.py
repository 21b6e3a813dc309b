"""Registry scale: `zoo registry check`, `zoo list` and an offline `zoo publish --dry-run` plan on registries of
1,000 and 10,000 variants, against the shipped 22-variant registry (issue 15: load must stay linear;
10,000 variants well under 5 s).

The big registries repeat the shipped variants (renamed `<name>_c<k>`, parents renamed with them), so every
variant has the shipped layout (~37 lines). The publish plan runs in a workspace with two built variants
(tests/publish_support.py) plus the big registry. Each command runs as a subprocess (what a user waits
for, interpreter start-up included); medians of -n runs. Prints the ratios first: linear would be
~45x (1k) and ~455x (10k); start-up makes them smaller.

Usage: python benchmarks/registry.py [-n 3] [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

COMMANDS = {"check": ["registry", "check"], "list": ["list"], "plan": ["publish", "--dry-run"]}


def shipped_body() -> tuple[str, int]:
    text = (ROOT / "registry.yaml").read_text(encoding="utf-8")
    body = text.partition("\nvariants:\n")[2]
    return body, len(re.findall(r"^  (\w+):\s*$", body, flags=re.M))


def scaled_variants(n: int) -> str:
    """At least n variants: copies of the shipped ones, renamed per copy (parents follow)."""
    body, per_copy = shipped_body()
    out = []
    for k in range(-(-n // per_copy)):
        b = re.sub(r"^  (\w+):(\s*)$", lambda m, k=k: f"  {m.group(1)}_c{k}:{m.group(2)}", body, flags=re.M)
        b = re.sub(r"^(    parent: )(\w+)", lambda m, k=k: f"{m.group(1)}{m.group(2)}_c{k}", b, flags=re.M)
        out.append(b if b.endswith("\n") else b + "\n")
    return "".join(out)


def workspace(root: Path, n: int | None) -> Path:
    """tests/publish_support's two built variants + n scaled shipped variants (None: the shipped 22)."""
    from publish_support import make_workspace

    ws = make_workspace(root)
    reg = ws / "registry.yaml"
    body = shipped_body()[0] if n is None else scaled_variants(n)
    reg.write_text(reg.read_text(encoding="utf-8").rstrip("\n") + "\n" + body, encoding="utf-8")
    return ws


CPU: dict[tuple[str, str], float] = {}  # (workspace, command) -> median CPU seconds (user + sys)


def run(ws: Path, args: list[str], repeats: int) -> float:
    """Median wall seconds; the median CPU seconds go to CPU (robust on a shared, loaded machine)."""
    env = {**os.environ, "ZOO_OFFLINE": "1"}
    times, cpu = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "zoo", "-C", str(ws), *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"zoo {' '.join(args)} failed in {ws}: {proc.stderr.strip()[-500:]}")
    CPU[(str(ws), " ".join(args))] = statistics.median(cpu)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--sizes", default="1000,10000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="zoo-bench-registry-") as tmp:
        results: dict[str, dict[str, float]] = {}
        counts: dict[str, int] = {}
        for label, n in [("22", None), *((f"{s:,}", s) for s in sizes)]:
            ws = workspace(Path(tmp) / f"ws{label}", n)
            counts[label] = len(re.findall(r"^  (\w+):\s*$", (ws / "registry.yaml").read_text().partition(
                "\nvariants:\n")[2], flags=re.M))
            results[label] = {name: run(ws, cmd, args.n) for name, cmd in COMMANDS.items()}
        base = results["22"]
        for label in results:
            if label == "22":
                continue
            ratios = ", ".join(f"{name} {results[label][name] / base[name]:.1f}x" for name in COMMANDS)
            print(f"ratio {label} variants / 22: {ratios} (variants x{counts[label] / counts['22']:.0f})")
        for label, row in results.items():
            ws = str(Path(tmp) / f"ws{label}")
            cells = ", ".join(f"{name} {row[name]:.2f} s ({CPU[(ws, ' '.join(cmd))]:.2f} s CPU)"
                              for name, cmd in COMMANDS.items())
            print(f"{counts[label]:>6} variants: {cells} (median of {args.n})")
        big = results.get("10,000")
        if big is not None:
            verdict = "OK" if big["check"] < 5 else "OVER TARGET"
            print(f"10,000-variant registry check {big['check']:.2f} s wall (target well under 5 s): {verdict}; "
                  f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
