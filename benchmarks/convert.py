"""Benchmark: torch-free `zoo convert` vs the torch path (torch.load + safetensors.torch.save_file).

    python benchmarks/convert.py [--repeats 5] [--keep DIR]

Builds a full-size baseline 192d/6e/6p synthetic checkpoint in crucible's object format (~60 MB,
15.4 M parameters), then measures in ONE run, each method in its own worker process (so peak RSS is
per method), medians over --repeats:

- in-process: ours (`convert_checkpoint`, hashing the source itself; and with the digest already known,
  as after `zoo pull`) / torch path (torch.load with a stand-in shim, walk the
  module tree, cast f32, `safetensors.torch.save_file`) / plain file copy (the I/O floor) /
  copy + fsync (what an atomic write costs);
- whole commands: `zoo convert PATH -o DIR` / `python -c <torch path>` / `cp`.

Ratios first. Targets (issue 3): command >= 10x faster than the torch command; in-process faster than
the torch path and within 2x of the plain copy; our peak RSS < 1.5x the checkpoint size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()

TORCH_PATH = r'''
import pickle, sys, types
import torch
from safetensors.torch import save_file

class _Generic:
    """Stand-in for classes that cannot be imported (the original converter's shim, spec §2.2)."""
    def __init__(self, *a, **k):
        pass
    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)

class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ModuleNotFoundError, AttributeError):
            sys.modules.setdefault(module, types.ModuleType(module))
            return type(name, (_Generic,), {"__module__": module})

shim = types.ModuleType("shim")
shim.Unpickler = _Unpickler
shim.load = pickle.load
shim.__name__ = "shim"

def walk(obj, prefix, out, depth=0, seen=None):
    seen = set() if seen is None else seen
    if depth > 15 or id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj.detach()
        return
    d = obj if isinstance(obj, dict) else getattr(obj, "__dict__", None)
    if not isinstance(d, dict):
        return
    for k, v in d.items():
        if k in ("_parameters", "_buffers", "_modules"):
            walk(v, prefix, out, depth + 1, seen)
        elif isinstance(v, (torch.Tensor, dict)) or hasattr(v, "_modules"):
            walk(v, f"{prefix}{k}.", out, depth + 1, seen)

def torch_convert(src, out_dir):
    obj = torch.load(src, map_location="cpu", weights_only=False, pickle_module=shim)
    tensors = {}
    walk(obj, "", tensors)
    tensors = {k: v.float().contiguous() for k, v in tensors.items() if "num_batches_tracked" not in k}
    save_file(tensors, f"{out_dir}/lejepa_weights.safetensors", metadata={"format": "pt"})
    return len(tensors)
'''


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(method: str, src: str, out: str, repeats: int) -> None:
    t0 = time.perf_counter()
    if method == "make":
        from zoo.convert.synthetic import write_synthetic_checkpoint
        from zoo.registry.records import Architecture

        arch = Architecture(encoder_kind="vit", latent_dim=192, encoder_layers=6, predictor_layers=6)
        write_synthetic_checkpoint(src, arch, seed=0)
        return
    if method == "ours":
        from zoo.convert import convert_checkpoint

        def run() -> None:
            convert_checkpoint(src, out)
    elif method == "ours-digest-known":
        from zoo._io import sha256_file
        from zoo.convert import convert_checkpoint

        digest = sha256_file(src)

        def run() -> None:
            convert_checkpoint(src, out, source_sha256=digest)
    elif method == "torch":
        ns: dict[str, object] = {}
        exec(TORCH_PATH, ns)

        def run() -> None:
            ns["torch_convert"](src, out)  # type: ignore[operator]
    elif method == "copy":

        def run() -> None:
            shutil.copyfile(src, f"{out}/copy.ckpt")
    elif method == "copy+fsync":

        def run() -> None:
            with open(src, "rb") as fi, open(f"{out}/copy.ckpt", "wb") as fo:
                shutil.copyfileobj(fi, fo, 1 << 20)
                fo.flush()
                os.fsync(fo.fileno())
    else:
        raise SystemExit(f"unknown method {method}")
    import_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "import_s": import_s, "peak_rss_mb": _peak_rss_mb()}))


def _run_worker(method: str, src: Path, out: Path, repeats: int) -> dict[str, float]:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(HERE), "--worker", method, str(src), str(out), str(repeats)],
                          capture_output=True, text=True, check=True)
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"median_s": statistics.median(data["times"]), "import_s": data["import_s"], "peak_rss_mb": data["peak_rss_mb"]}


def _time_command(argv: list[str], repeats: int) -> tuple[float, float]:
    """Median wall time and peak RSS (MiB) of a whole command."""
    times, peaks = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - t)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"command failed: {' '.join(argv)}")
        peaks.append(usage.ru_maxrss / 1024)
    return statistics.median(times), max(peaks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--keep", type=Path, default=None, help="work in DIR and keep the files")
    ap.add_argument("--worker", nargs=4, metavar=("METHOD", "SRC", "OUT", "REPEATS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        method, src, out, repeats = args.worker
        worker(method, src, out, int(repeats))
        return

    work = args.keep or Path(tempfile.mkdtemp(prefix="zoo-bench-convert-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "lewm_baseline_192d_6e_6p_epoch_1_object.ckpt"
    if not src.exists():  # built in a child so this parent stays small (children inherit its peak RSS)
        subprocess.run([sys.executable, str(HERE), "--worker", "make", str(src), "-", "0"], check=True)
    size_mb = src.stat().st_size / 2**20
    r = args.repeats
    res = {m: _run_worker(m, src, work / m.replace("+", "_"), r) for m in ("ours", "ours-digest-known", "torch", "copy",
                                                                    "copy+fsync")}
    zoo = shutil.which("zoo") or str(Path(sys.executable).with_name("zoo"))
    cmd_ours = _time_command([zoo, "convert", str(src), "-o", str(work / "cmd_ours")], r)
    torch_cli = TORCH_PATH + f"\ntorch_convert({str(src)!r}, {str(work / 'cmd_torch')!r})\n"
    (work / "cmd_torch").mkdir(exist_ok=True)
    cmd_torch = _time_command([sys.executable, "-c", torch_cli], r)
    cmd_cp = _time_command(["cp", str(src), str(work / "cmd_cp.ckpt")], r)

    ours, torch, copy, copy_fsync = res["ours"], res["torch"], res["copy"], res["copy+fsync"]
    print(f"checkpoint: {src.name}  {size_mb:.1f} MiB  (medians of {r}; load average {os.getloadavg()[0]:.1f})")
    print("RATIOS")
    print(f"  whole command: torch path / zoo convert      = {cmd_torch[0] / cmd_ours[0]:6.1f}x   (target >= 10x)")
    print(f"  in-process:    torch path / ours             = {torch['median_s'] / ours['median_s']:6.1f}x   (target > 1x)")
    print(f"  in-process:    ours / plain file copy        = {ours['median_s'] / copy['median_s']:6.2f}x   (target <= 2x)")
    print(f"  in-process:    ours / copy + fsync           = {ours['median_s'] / copy_fsync['median_s']:6.2f}x")
    print(f"  in-process:    torch path / ours, source digest already known = "
          f"{torch['median_s'] / res['ours-digest-known']['median_s']:6.1f}x")
    print(f"  peak RSS:      ours / checkpoint size        = {ours['peak_rss_mb'] / size_mb:6.2f}x   (target < 1.5x)")
    print("IN-PROCESS (median s, peak RSS MiB of the worker incl. interpreter)")
    for name, row in res.items():
        print(f"  {name:<17} {row['median_s']:8.3f} s   rss {row['peak_rss_mb']:7.1f} MiB   (imports {row['import_s']:.2f} s)")
    print("WHOLE COMMANDS (median wall s, peak RSS MiB)")
    for name, (t, rss) in (("zoo convert", cmd_ours), ("torch path", cmd_torch), ("cp", cmd_cp)):
        print(f"  {name:<17} {t:8.3f} s   rss {rss:7.1f} MiB")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
