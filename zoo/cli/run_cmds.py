"""`zoo run REF --image FILE`: encode an image with any variant and roll it out (heavy imports inside)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from zoo.cli._app import app, complete_variants_or_paths, emit_json, json_option, main, results
from zoo.text import safe

DEFAULT_STEPS = 20


def read_actions(path: Path, action_dim: int) -> Any:
    """`[T, A]` float32 actions from a .npy file or a comma-separated .csv (one step per row)."""
    import numpy as np

    from zoo.errors import InputError

    if not path.is_file():
        raise InputError(f"{path}: actions file not found", hint="pass a .npy or .csv file of shape [T, A]")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            a = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            a = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
        else:
            raise InputError(f"{path}: actions must be a .npy or .csv file", hint="e.g. --actions actions.npy")
    except InputError:
        raise
    except (ValueError, OSError, EOFError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{path}: not a readable actions file ({first})",
                         hint="a .npy array or comma-separated numbers, one step per row") from None
    if a.dtype.kind not in "fiu":
        raise InputError(f"{path}: actions dtype {a.dtype} is not numeric")
    if a.ndim == 1 and action_dim == a.shape[0]:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != action_dim:
        raise InputError(f"{path}: actions shape {list(a.shape)} is not [T, {action_dim}]",
                         hint=f"this model takes {action_dim} action values per step")
    return a.astype(np.float32)


@main.command("run")
@click.argument("ref", shell_complete=complete_variants_or_paths)
@click.option("--image", "image", required=True, type=click.Path(path_type=Path),
              help="PNG/JPEG image to encode (resized to 224x224 as upstream LeWM does).")
@click.option("--actions", "actions", type=click.Path(path_type=Path), default=None,
              help="Actions [T, A] as .npy or .csv (default: the spec's 20-step sin/cos sequence).")
@click.option("--steps", type=click.IntRange(min=0), default=None,
              help="Rollout steps (default: the number of actions; 20 without --actions).")
@click.option("-o", "--output", "--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write the rollout [steps, D] as .npy.")
@json_option
@click.pass_context
def run_cmd(ctx: click.Context, ref: str, image: Path, actions: Path | None, steps: int | None,
            out: Path | None, as_json: bool) -> None:
    """Encode an image with REF and roll it out; print latent/step norms and timings.

    REF: a variant name of this workspace, a variant directory, a model file (model.lq40,
    ternary.safetensors, lejepa_weights.safetensors) or hf://OWNER/REPO[@REV]/PATH.
    """
    import time

    import numpy as np

    from zoo._io import atomic_writer
    from zoo.errors import InputError, ZooError
    from zoo.runtime import load
    from zoo.runtime.image import open_image

    t0 = time.perf_counter()
    pil = open_image(image)  # a missing/corrupt image fails before the model is loaded
    workspace = None
    try:
        workspace = app(ctx).workspace()
    except ZooError:
        workspace = None  # files and hf:// references work outside a workspace
    model = load(ref, workspace=workspace)
    t_load = time.perf_counter() - t0
    acts = read_actions(actions, model.action_dim) if actions is not None else None
    if acts is None:
        acts = model.default_actions(DEFAULT_STEPS if steps is None else steps)
    n = acts.shape[0] if steps is None else steps
    if n > acts.shape[0]:
        raise InputError(f"--steps {n}: only {acts.shape[0]} actions given", hint="pass more actions or fewer steps")
    t1 = time.perf_counter()
    latent = model.encode(pil)
    t_encode = time.perf_counter() - t1
    t2 = time.perf_counter()
    rollout = model.rollout(latent, acts, steps=n)
    t_rollout = time.perf_counter() - t2
    if out is not None:
        if out.suffix.lower() != ".npy":
            raise InputError(f"--out {out}: must end in .npy")
        with atomic_writer(out) as fh:
            np.save(fh, rollout, allow_pickle=False)
    norms = [float(v) for v in np.linalg.norm(rollout.astype(np.float64), axis=-1)]
    latent_norm = float(np.linalg.norm(latent.astype(np.float64)))
    timing = {"load": round(t_load * 1000, 2), "encode": round(t_encode * 1000, 2),
              "rollout": round(t_rollout * 1000, 2)}
    doc: dict[str, Any] = {
        "model": {"ref": ref, "name": model.name, "format": model.kind, "file": str(model.path),
                  "latent_dim": model.latent_dim, "action_dim": model.action_dim, "history": model.history},
        "image": str(image),
        "latent": {"shape": list(latent.shape), "norm": latent_norm,
                   "values": [float(v) for v in latent]},
        "rollout": {"shape": list(rollout.shape), "step_norms": norms},
        "actions": str(actions) if actions is not None else "spec 4.1 default (sin/cos, 20 steps)",
        "timing_ms": timing,
        "out": str(out) if out is not None else None,
    }
    if as_json:
        emit_json(doc)
        return
    con = results()  # results on stdout, like every command's
    con.print(f"{safe(model.name)} ({model.kind}, {safe(model.path.name)}): D={model.latent_dim}, "
              f"A={model.action_dim}")
    con.print(f"latent {list(latent.shape)} norm {latent_norm:.4f}")
    shown = ", ".join(f"{v:.3f}" for v in norms[:10]) + (", ..." if len(norms) > 10 else "")
    con.print(f"rollout {list(rollout.shape)} step norms: {shown}")
    con.print(f"timing: load {timing['load']:.1f} ms, encode {timing['encode']:.1f} ms, "
              f"rollout {timing['rollout']:.1f} ms"
              + (f"; wrote {safe(out)}" if out is not None else ""))
