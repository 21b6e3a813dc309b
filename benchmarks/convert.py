"""Benchmark: torch-free `zoo convert` vs the torch path (torch.load + safetensors.torch.save_file).

    python benchmarks/convert.py [--repeats 7] [--inner 3] [--keep DIR]

Builds a full-size baseline 192d/6e/6p synthetic checkpoint in crucible's object format (~60 MB,
15.4 M parameters), then measures in ONE run, medians, with the methods INTERLEAVED (round-robin, so
load from other processes on a shared machine hits every method alike):

- in-process, each method in a fresh worker process per round (one untimed warm-up, then --inner
  timed calls; peak RSS is per method): ours (`convert_checkpoint`, hashing the source itself), ours
  with the digest already known (as after `zoo pull`), ours without fsync (os.fsync stubbed IN THE
  BENCHMARK ONLY, to compare like with like), the torch path (torch.load with a stand-in shim, walk
  the module tree, cast f32, `safetensors.torch.save_file`; it never fsyncs), a plain file copy (the
  I/O floor), copy + fsync (what a durable write costs) and sha256 of the source alone (what the
  provenance digest in our metadata costs; the torch path records none);
- whole commands: `zoo convert PATH -o DIR` / `python -c <torch path>` / `cp`, one untimed warm-up
  each, byte code cached under the work dir for both Pythons (PYTHONPYCACHEPREFIX), as an installed
  package has it (pip byte-compiles on install).

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
from typing import Any

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
    elif method == "ours-nofsync":  # benchmark-only: the torch path and a plain copy never fsync
        from zoo.convert import convert_checkpoint

        os.fsync = lambda fd: None

        def run() -> None:
            convert_checkpoint(src, out)
    elif method == "torch":
        ns: dict[str, object] = {}
        exec(TORCH_PATH, ns)

        def run() -> None:
            ns["torch_convert"](src, out)  # type: ignore[operator]
    elif method == "sha256":  # what the source digest alone costs (ours records it; torch does not)
        from zoo._io import sha256_file

        def run() -> None:
            sha256_file(src)
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
    run()  # warm-up: first-call costs (lazy imports, output file creation) are not what we compare
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "import_s": import_s, "peak_rss_mb": _peak_rss_mb()}))


METHODS = ("ours", "ours-digest-known", "ours-nofsync", "torch", "copy", "copy+fsync", "sha256")


def _run_worker(method: str, src: Path, out: Path, repeats: int) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, str(HERE), "--worker", method, str(src), str(out), str(repeats)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _time_command(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and peak RSS (MiB) of one run of a whole command."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"command failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7, help="interleaved rounds")
    ap.add_argument("--inner", type=int, default=3, help="timed calls per in-process worker and round")
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
    rounds = args.repeats
    load_before = os.getloadavg()[0]

    times: dict[str, list[float]] = {m: [] for m in METHODS}
    rss: dict[str, float] = dict.fromkeys(METHODS, 0.0)
    imports: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(rounds):
        for m in METHODS:
            data = _run_worker(m, src, work / m.replace("+", "_"), args.inner)
            times[m] += data["times"]
            imports[m].append(data["import_s"])
            rss[m] = max(rss[m], data["peak_rss_mb"])
    med = {m: statistics.median(v) for m, v in times.items()}

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    zoo = shutil.which("zoo") or str(Path(sys.executable).with_name("zoo"))
    (work / "cmd_torch").mkdir(exist_ok=True)
    torch_cli = TORCH_PATH + f"\ntorch_convert({str(src)!r}, {str(work / 'cmd_torch')!r})\n"
    commands = {
        "zoo convert": [zoo, "convert", str(src), "-o", str(work / "cmd_ours")],
        "torch path": [sys.executable, "-c", torch_cli],
        "cp": ["cp", str(src), str(work / "cmd_cp.ckpt")],
    }
    cmd_times: dict[str, list[float]] = {k: [] for k in commands}
    cmd_rss: dict[str, float] = dict.fromkeys(commands, 0.0)
    for argv in commands.values():  # warm-up: byte code written, page cache warm
        _time_command(argv, env)
    for _ in range(rounds):
        for name, argv in commands.items():
            t, peak = _time_command(argv, env)
            cmd_times[name].append(t)
            cmd_rss[name] = max(cmd_rss[name], peak)
    cmd = {k: statistics.median(v) for k, v in cmd_times.items()}

    ours, torch, copy, copy_fsync = med["ours"], med["torch"], med["copy"], med["copy+fsync"]
    nofsync, known = med["ours-nofsync"], med["ours-digest-known"]
    print(f"checkpoint: {src.name}  {size_mb:.1f} MiB  ({rounds} interleaved rounds x {args.inner} calls; "
          f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print("RATIOS (medians)")
    print(f"  whole command: torch path / zoo convert      = {cmd['torch path'] / cmd['zoo convert']:6.1f}x   "
          "(target >= 10x)")
    print(f"  in-process:    torch path / ours             = {torch / ours:6.2f}x   (target > 1x; ours fsyncs, "
          "torch does not)")
    print(f"  in-process:    torch path / ours, no fsync   = {torch / nofsync:6.2f}x   (like for like)")
    print(f"  in-process:    torch path / ours, digest known = {torch / known:6.2f}x   (after zoo pull)")
    print(f"  in-process:    ours / plain file copy        = {ours / copy:6.2f}x   (target <= 2x)")
    print(f"  in-process:    ours, no fsync / plain copy   = {nofsync / copy:6.2f}x   (neither fsyncs)")
    print(f"  in-process:    ours / copy + fsync           = {ours / copy_fsync:6.2f}x   (both fsync)")
    print(f"  in-process:    ours, digest known / copy     = {known / copy:6.2f}x   (hashing alone: "
          f"{med['sha256'] / copy:.2f}x the copy)")
    print(f"  serial floor:  (sha256 + plain copy) / torch path = {(med['sha256'] + copy) / torch:6.2f}x   "
          "(hashing and copying one after the other; ours overlaps them: digest thread, early writeback)")
    print(f"  peak RSS:      ours / checkpoint size        = {rss['ours'] / size_mb:6.2f}x   (target < 1.5x)")
    print("IN-PROCESS (median s, peak RSS MiB of the worker incl. interpreter, median import s)")
    for m in METHODS:
        print(f"  {m:<17} {med[m]:8.3f} s   rss {rss[m]:7.1f} MiB   (imports {statistics.median(imports[m]):.2f} s)")
    print("WHOLE COMMANDS (median wall s, peak RSS MiB)")
    for name in commands:
        print(f"  {name:<17} {cmd[name]:8.3f} s   rss {cmd_rss[name]:7.1f} MiB")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
