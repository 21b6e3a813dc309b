"""`zoo verify --all` on the demo workspace: serial vs `--jobs 2`, and per-variant build vs inference.

Usage: python benchmarks/verify.py [--workspace DIR | --synthetic] [--repeats R] [--jobs N]

Without --workspace, a fresh demo workspace is made in a temp dir with an empty cache
(`zoo demo`, timed: target < 60 s), then `zoo verify --all` runs on the built workspace
(target < 20 s). Each configuration runs R times as a subprocess (the real CLI, imports
included); the script prints the ratio serial/parallel first, then the medians, then the
per-variant split of the first serial run (build / digest check / inference, seconds).
`--synthetic` skips `zoo demo`: it copies the baseline family of the repository's registry.yaml
into a temp workspace with seeded random baseline-sized f32 weights (converted files + golden),
so the first verify run also quantizes every derived variant (the build share of the split).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _zoo() -> list[str]:
    exe = Path(sys.executable).with_name("zoo")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "zoo"]


def _run(args: list[str], *, cwd: Path, env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, proc


def _verify(ws: Path, jobs: int, env: dict[str, str]) -> tuple[float, dict[str, Any]]:
    wall, proc = _run([*_zoo(), "-C", str(ws), "verify", "--all", "--json", "--jobs", str(jobs)], cwd=ws, env=env)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        sys.exit(f"zoo verify --all --jobs {jobs} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def _synthetic_workspace(ws: Path) -> None:
    """Baseline family of the real registry, random f32 root weights; derived variants left to build."""
    from ruamel.yaml import YAML

    from zoo._io import atomic_write_bytes, atomic_write_text
    from zoo.model.golden import golden_for_variant
    from zoo.quant.synthetic import synthetic_weights
    from zoo.registry import Workspace, architecture_to_config, load_registry
    from zoo.store.manifest import update_manifest

    yaml = YAML(typ="safe")
    repo = Path(__file__).resolve().parent.parent
    data = yaml.load((repo / "registry.yaml").read_text(encoding="utf-8"))
    data["variants"] = {k: v for k, v in data["variants"].items() if k.startswith("baseline")}
    ws.mkdir(parents=True, exist_ok=True)
    with open(ws / "registry.yaml", "w", encoding="utf-8") as fh:
        yaml.dump(data, fh)
    workspace = Workspace(ws)
    registry = load_registry(workspace.registry_path)
    from safetensors.numpy import save

    for rec in registry.variants.values():
        if rec.format.kind != "safetensors-f32":
            continue
        cfg = architecture_to_config(rec.architecture)
        weights = synthetic_weights(cfg, seed=1)
        vdir = workspace.variant_dir(rec.name)
        atomic_write_bytes(vdir / "lejepa_weights.safetensors", save({k: weights[k] for k in sorted(weights)}))
        atomic_write_text(vdir / "config.json", cfg.to_json())
        with update_manifest(vdir) as m:
            m.record_artifact("lejepa_weights.safetensors", kind="safetensors")
            m.record_artifact("config.json", kind="config")
        golden_for_variant(workspace, registry, rec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, help="an already built demo workspace (skips `zoo demo`)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--synthetic", action="store_true", help="baseline family with random weights, no `zoo demo`")
    parser.add_argument("--keep", action="store_true", help="keep the temp demo workspace")
    args = parser.parse_args()

    env = dict(os.environ)
    tmp: Path | None = None
    demo_s: float | None = None
    if args.synthetic:
        tmp = Path(tempfile.mkdtemp(prefix="zoo-verify-bench-"))
        ws = tmp / "ws"
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        _synthetic_workspace(ws)
    elif args.workspace is None:
        tmp = Path(tempfile.mkdtemp(prefix="zoo-verify-bench-"))
        env["ZOO_CACHE"] = str(tmp / "cache")  # empty cache: the demo builds everything
        ws = tmp / "demo"
        demo_s, proc = _run([*_zoo(), "demo", str(ws)], cwd=tmp, env=env)
        if proc.returncode not in (0, 1) or not (ws / "registry.yaml").is_file():
            sys.exit(f"zoo demo failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    else:
        ws = args.workspace.resolve()

    # First serial run: builds whatever the demo left out and records the per-variant split.
    first_wall, first = _verify(ws, 1, env)
    serial = [first_wall] + [_verify(ws, 1, env)[0] for _ in range(args.repeats - 1)]
    parallel = [_verify(ws, args.jobs, env)[0] for _ in range(args.repeats)]
    med_s, med_p = statistics.median(serial), statistics.median(parallel)

    n = len(first["variants"])
    print(f"ratio serial / --jobs {args.jobs}: {med_s / med_p:.2f}x  (median of {args.repeats}, {n} variants, "
          f"{os.cpu_count()} cores)")
    print(f"zoo verify --all serial:      {med_s:6.2f} s  (target < 20 s: {'ok' if med_s < 20 else 'MISSED'})")
    print(f"zoo verify --all --jobs {args.jobs}:   {med_p:6.2f} s")
    if demo_s is not None:
        print(f"zoo demo from an empty cache: {demo_s:6.2f} s  (target < 60 s: {'ok' if demo_s < 60 else 'MISSED'})")
    print(f"first serial run (may include builds): {first_wall:.2f} s; summary {first['summary']}")
    print(f"\n{'variant':34s} {'status':8s} {'build':>7s} {'check':>7s} {'infer':>7s} {'total':>7s}")
    totals = {"build_s": 0.0, "check_s": 0.0, "inference_s": 0.0}
    for v in first["variants"]:
        t = v.get("timings", {})
        for k in totals:
            totals[k] += float(t.get(k, 0.0))
        print(f"{v['variant']:34s} {v['status']:8s} {t.get('build_s', 0):7.2f} {t.get('check_s', 0):7.2f} "
              f"{t.get('inference_s', 0):7.2f} {t.get('total_s', 0):7.2f}")
    print(f"{'sum':34s} {'':8s} {totals['build_s']:7.2f} {totals['check_s']:7.2f} {totals['inference_s']:7.2f}")
    if tmp is not None and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp is not None:
        print(f"\nworkspace kept at {ws}")


if __name__ == "__main__":
    main()
