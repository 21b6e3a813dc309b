"""Quantization throughput on the 192d/6e/6p baseline (synthetic weights), measured in one run.

Prints ratio first, medians of N repeats:
- Q4 (zoo, consecutive-pair nibbles, half-away rounding) vs gguf-py's numpy Q4_0 quantiser, in MB
  of f32 weights per second over the 30 predictor matrices (target: zoo at least as fast);
- INT8 per-row over the 36 encoder matrices;
- LQ40 write (q4-pred, full) and read (parse + validate, and full dequantization) times.

Run: `python benchmarks/quant.py [--repeats 5]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _paired_medians(a: Callable[[], object], b: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of `a` and `b` measured alternately (after one warm-up each), so that load from
    other processes on the shared cores hits both sides alike."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return statistics.median(ta), statistics.median(tb)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from gguf import GGMLQuantizationType
    from gguf.quants import quantize as gguf_quantize

    from zoo.formats.lewm_config import LeWMConfig
    from zoo.formats.lq40 import encode_lq40, lq40_to_weights, read_lq40, write_lq40
    from zoo.quant import Int8Matrix, Q4Matrix
    from zoo.quant.synthetic import synthetic_weights
    from zoo.quant.wanda import predictor_matrix_names

    cfg = LeWMConfig(action_input_dim=10, projector_hidden=2048)
    w = synthetic_weights(cfg, 0)
    pred = [w[n] for n in predictor_matrix_names(cfg)]
    enc = [v for k, v in w.items() if k.startswith("encoder.encoder.layer.") and k.endswith("weight") and v.ndim == 2]
    mb_pred = sum(m.nbytes for m in pred) / 1e6
    mb_enc = sum(m.nbytes for m in enc) / 1e6

    def zoo_q4() -> None:
        for m in pred:
            q = Q4Matrix.quantize(m)
            _ = (q.bitmap, q.stored_blocks())

    def gguf_q4() -> None:
        for m in pred:
            gguf_quantize(m, GGMLQuantizationType.Q4_0)

    def zoo_i8() -> None:
        for m in enc:
            Int8Matrix.quantize(m)

    t_zoo, t_gguf = _paired_medians(zoo_q4, gguf_q4, args.repeats)
    t_i8 = _median_time(zoo_i8, args.repeats)
    print(f"Q4  zoo/gguf speed ratio: {t_gguf / t_zoo:.2f}x  (zoo {mb_pred / t_zoo:.0f} MB/s, "
          f"gguf Q4_0 {mb_pred / t_gguf:.0f} MB/s; {mb_pred:.1f} MB f32 predictor, median of {args.repeats})")
    print(f"INT8 zoo: {mb_enc / t_i8:.0f} MB/s ({mb_enc:.1f} MB f32 encoder matrices)")

    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("q4-pred", "full"):
            path = Path(tmp) / f"{mode}.lq40"
            t_w = _median_time(lambda mode=mode, path=path: write_lq40(path, cfg, w, mode), args.repeats)
            data = path.read_bytes()
            t_r = _median_time(lambda data=data: read_lq40(data), args.repeats)
            t_d = _median_time(lambda data=data: lq40_to_weights(read_lq40(data)), args.repeats)
            print(f"LQ40 {mode:8s} {len(data):>11,} B: write {t_w * 1e3:7.1f} ms, read+validate {t_r * 1e3:6.1f} ms, "
                  f"read+dequantize {t_d * 1e3:7.1f} ms")
        assert encode_lq40(cfg, w, "q4-pred") == (Path(tmp) / "q4-pred.lq40").read_bytes()


if __name__ == "__main__":
    main()
