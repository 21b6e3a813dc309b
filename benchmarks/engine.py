"""numpy engine vs torch eager (CPU) on the baseline 192d/6e/6p shape with identical random weights.

Usage: python benchmarks/engine.py [--threads N] [--repeats R] [--config vit|slim|hybrid|baseline]

Both frameworks get the same thread count (set before numpy/torch are imported). Prints the
ratio numpy/torch first (lower is better for numpy; wall-clock and CPU-time medians), then the
medians themselves, all from one run with the two engines measured alternately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _paired_medians(
    a: Callable[[], object], b: Callable[[], object], repeats: int, warmup: int = 3
) -> tuple[float, float, float, float]:
    """Median wall ms and median CPU ms of `a` and `b`, measured alternately so that load on the
    shared machine hits both alike. CPU time (process_time) is the steadier figure when other
    processes compete for the cores; with --threads 1 it is directly comparable."""
    for _ in range(warmup):
        a()
        b()
    wall: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for i, fn in enumerate((a, b)):
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[i].append((time.perf_counter() - t0) * 1e3)
            cpu[i].append((time.process_time() - c0) * 1e3)
    med = statistics.median
    return med(wall[0]), med(wall[1]), med(cpu[0]), med(cpu[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--config", default="baseline", choices=["baseline", "vit", "slim", "hybrid"])
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    import numpy as np
    import torch

    from tests.model_weights import baseline_config, random_weights, tiny_config
    from tests.torch_reference import build_reference
    from zoo.model import LeWM

    torch.set_num_threads(args.threads)
    cfg = baseline_config() if args.config == "baseline" else tiny_config(args.config)
    weights = random_weights(cfg, seed=0)
    model = LeWM.from_weights(cfg, weights)
    ref = build_reference(cfg, weights)

    rng = np.random.default_rng(0)
    img = rng.standard_normal((1, 3, cfg.image_size, cfg.image_size)).astype(np.float32)
    act = rng.standard_normal((1, args.steps, cfg.action_input_dim)).astype(np.float32)
    emb3 = rng.standard_normal((1, cfg.history_size, cfg.latent_dim)).astype(np.float32)
    act3 = act[:, : cfg.history_size]
    z0 = model.encode(img)
    timg, tact, temb3, tact3, tz0 = (torch.from_numpy(x) for x in (img, act, emb3, act3, z0))

    rows = [
        ("encode", lambda: model.encode(img), lambda: ref.encode(timg)),
        ("predict (3 frames)", lambda: model.predict(emb3, act3), lambda: ref.predict(temb3, tact3)),
        (
            f"rollout {args.steps} steps (from latent)",
            lambda: model.rollout(z0, act),
            lambda: ref.rollout(tz0, tact),
        ),
    ]
    print(f"config={args.config} threads={args.threads} batch=1 repeats={args.repeats} (median ms)")
    print(
        f"{'op':32s} {'ratio wall':>10s} {'ratio cpu':>9s} {'numpy ms':>9s} {'torch ms':>9s}"
        f" {'numpy cpu':>9s} {'torch cpu':>9s}"
    )
    with torch.inference_mode():
        for name, np_fn, torch_fn in rows:
            w_np, w_t, c_np, c_t = _paired_medians(np_fn, torch_fn, args.repeats)
            print(
                f"{name:32s} {w_np / w_t:10.2f} {c_np / c_t:9.2f} {w_np:9.2f} {w_t:9.2f} {c_np:9.2f} {c_t:9.2f}"
            )


if __name__ == "__main__":
    main()
