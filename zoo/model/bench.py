"""Engine timing used by `zoo bench`: encode, predict (full history window) and a 20-step rollout."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from zoo.model import ENGINE_VERSION
from zoo.model.engine import LeWM
from zoo.model.golden import GOLDEN_STEPS, golden_inputs


def _time(fn: Callable[[], object], repeats: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times)}


def bench_model(model: LeWM, *, repeats: int = 10, warmup: int = 2, batch: int = 1) -> dict[str, Any]:
    """Median/min ms of encode (image -> latent), predict (history-size window) and rollout (20 steps
    from a latent), on the golden inputs tiled to `batch`."""
    cfg = model.config
    image, actions = golden_inputs(cfg)
    images = np.ascontiguousarray(np.broadcast_to(image, (batch, *image.shape)))
    acts = np.ascontiguousarray(np.broadcast_to(actions, (batch, *actions.shape)))
    z0 = model.encode(images)
    h = cfg.history_size
    window = np.ascontiguousarray(np.broadcast_to(z0[:, None], (batch, h, cfg.latent_dim)))
    return {
        "batch": batch,
        "repeats": repeats,
        "warmup": warmup,
        "threads": os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default",
        "encode": _time(lambda: model.encode(images), repeats, warmup),
        "predict": _time(lambda: model.predict(window, acts[:, :h]), repeats, warmup),
        "rollout20": _time(lambda: model.rollout(z0, acts[:, :GOLDEN_STEPS]), repeats, warmup),
    }


BENCH_FILE = "bench.json"  # variants/<name>/bench.json, read by the cards ("Benchmarks (this machine)")
BENCH_OPS = ("encode", "predict", "rollout20")


def machine_info() -> dict[str, Any]:
    """What the timings were measured on (no host name: cards are public)."""
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count() or 0,
    }


def bench_document(variant: str, result: dict[str, Any]) -> dict[str, Any]:
    """The `bench.json` written by `zoo bench --save`: the measurement plus how and where it was taken.

    Keys are fixed (sorted on write); only the timings and the machine differ between runs.
    """
    return {
        "schema_version": 1,
        "variant": variant,
        "engine": "numpy",
        "engine_version": ENGINE_VERSION,
        "batch": result["batch"],
        "repeats": result["repeats"],
        "warmup": result.get("warmup"),
        "threads": str(result["threads"]),
        "machine": machine_info(),
        **{op: {k: round(float(v), 4) for k, v in sorted(result[op].items())} for op in BENCH_OPS},
    }
