"""`zoo pull` cache hit (target: well under 1 s, no network) vs a cold pull from the loopback W&B server.

Builds a temp workspace whose variant comes from the loopback W&B server (real wandb client), then
times `zoo pull --no-convert` as a subprocess: cold (fresh cache each time) and warm (cache hit).
Prints the ratio first, then medians. Usage: python benchmarks/pull.py [-n 5] [--mb 40]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers.wandb_server import API_KEY, WandbServer
from servers.workspaces import source_yaml, write_pull_workspace


def _run(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--mb", type=int, default=40, help="checkpoint size in MB")
    args = ap.parse_args()
    payload = os.urandom(args.mb << 20)
    with tempfile.TemporaryDirectory() as tmp, WandbServer() as server:
        assert isinstance(server, WandbServer)
        server.add_artifact("ent", "proj", "art", {"m.ckpt": payload})
        ws = write_pull_workspace(Path(tmp) / "ws", [source_yaml("wandb://ent/proj/art:latest", "m.ckpt")])
        env = dict(os.environ, HOME=tmp, WANDB_BASE_URL=server.url, WANDB_API_KEY=API_KEY,
                   WANDB_ERROR_REPORTING="false", WANDB_SILENT="true", WANDB_CACHE_DIR=f"{tmp}/wc",
                   WANDB_CONFIG_DIR=f"{tmp}/wcfg")
        cmd = [sys.executable, "-m", "zoo", "-C", str(ws), "pull", "tiny", "--no-convert"]
        cold, warm = [], []
        for i in range(args.n):
            env["ZOO_CACHE"] = f"{tmp}/cache{i}"
            shutil.rmtree(ws / "variants", ignore_errors=True)
            cold.append(_run(cmd, env))
        before = len(server.requests)
        for _ in range(args.n):
            warm.append(_run(cmd, env))
        calls = len(server.requests) - before
    mc, mw = statistics.median(cold), statistics.median(warm)
    print(f"ratio cold pull / cache hit: {mc / mw:.1f}x")
    print(f"cache hit median: {mw * 1000:.0f} ms (target < 1000 ms) {'OK' if mw < 1.0 else 'OVER TARGET'}; "
          f"network calls during cache hits: {calls}")
    print(f"cold pull median: {mc * 1000:.0f} ms for {args.mb} MB; n={args.n}")


if __name__ == "__main__":
    main()
