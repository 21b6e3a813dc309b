"""`zoo.load(ref)`: one model object for every format (f32 safetensors, LQ40, ternary).

Weights are read and dequantized by the same function `zoo verify` measures with
(`zoo.verify.engine.read_weights_file`) and run by the zoo's numpy engine (`zoo.model.LeWM`),
so a loaded LQ40 or ternary model computes exactly the numbers its `verify.json` reports.

Shapes (``D`` = latent dim, ``A`` = action dim, ``S`` = 224); every method takes one item or a
batch and answers in kind, as float32 numpy arrays:

- ``encode(image)``: one image -> ``[D]``; a batch (list, ``[B, H, W, 3]``) -> ``[B, D]``
- ``predict(latents, actions)``: ``[T, D]`` + ``[T, A]`` -> ``[T, D]`` (row t predicts frame t+1;
  ``T <= history``); batched ``[B, T, D]`` + ``[B, T, A]`` -> ``[B, T, D]``
- ``rollout(start, actions, steps=None)``: start = an image or a latent ``[D]`` (or a batch of
  either), actions ``[T, A]`` (``[B, T, A]``) -> ``[steps, D]`` (``[B, steps, D]``); ``steps``
  defaults to ``T`` and may be smaller
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zoo.errors import InputError

F32 = NDArray[np.float32]


class Model:
    """A loaded LeWM variant. Attributes: ``name``, ``kind`` (format), ``path`` (the file read),
    ``config`` (`LeWMConfig`), ``latent_dim``, ``action_dim``, ``history``, ``image_size``."""

    def __init__(self, engine: Any, *, name: str, kind: str, path: Path, ref: str) -> None:
        self.engine = engine
        self.config = engine.config
        self.name = name
        self.kind = kind
        self.path = path
        self.ref = ref

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, format={self.kind!r}, latent_dim={self.latent_dim}, "
                f"action_dim={self.action_dim}, history={self.history})")

    @property
    def latent_dim(self) -> int:
        return int(self.config.latent_dim)

    @property
    def action_dim(self) -> int:
        return int(self.config.action_input_dim)

    @property
    def history(self) -> int:
        return int(self.config.history_size)

    @property
    def image_size(self) -> int:
        return int(self.config.image_size)

    # ------------------------------------------------------------------ helpers
    def preprocess(self, image: Any) -> F32:
        """Any accepted image form -> the model input ``[B, 3, S, S]`` (spec §1.4)."""
        from zoo.runtime.image import to_model_input

        return to_model_input(image, self.image_size)[0]

    def _array(self, name: str, value: Any, trailing: int, want: str) -> np.ndarray:
        try:
            a = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name}: not a numeric array ({exc})") from None
        if a.ndim < 1 or a.shape[-1] != trailing:
            raise InputError(f"{name}: shape {list(a.shape)} does not match {want}",
                             hint=f"this model has latent_dim {self.latent_dim}, action_dim {self.action_dim}")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{name}: contains NaN or inf")
        return a

    def _latents(self, start: Any) -> tuple[F32, bool]:
        """(start latents [B, D], batched?) from images or latents."""
        if isinstance(start, (list, tuple)) and start and all(
                isinstance(x, np.ndarray) and x.ndim == 1 for x in start):
            start = np.stack(start)  # a list of latents
        if not isinstance(start, (str, os.PathLike)) and not hasattr(start, "convert"):
            a = np.asarray(start) if not isinstance(start, (list, tuple)) else None
            if a is not None and a.dtype.kind in "fiu" and a.ndim in (1, 2) and a.shape[-1] == self.latent_dim:
                z = self._array("start", a, self.latent_dim, f"[D={self.latent_dim}]")
                return (z if z.ndim == 2 else z[None]), z.ndim == 2
        from zoo.runtime.image import to_model_input

        x, batched = to_model_input(start, self.image_size)
        return self.engine.encode(x), batched

    # ------------------------------------------------------------------ API
    def encode(self, image: Any) -> F32:
        """Image(s) -> latent ``[D]`` (one image) or ``[B, D]`` (a batch)."""
        from zoo.runtime.image import to_model_input

        x, batched = to_model_input(image, self.image_size)
        z: F32 = self.engine.encode(x)
        return z if batched else z[0]

    def predict(self, latents: Any, actions: Any) -> F32:
        """Frame latents ``[T, D]`` + actions ``[T, A]`` -> next-frame predictions ``[T, D]`` (or batched)."""
        z = self._array("latents", latents, self.latent_dim, f"[T, D={self.latent_dim}] or [B, T, D]")
        a = self._array("actions", actions, self.action_dim, f"[T, A={self.action_dim}] or [B, T, A]")
        if z.ndim not in (2, 3) or a.ndim != z.ndim:
            raise InputError(f"predict: latents {list(z.shape)} and actions {list(a.shape)} must both be "
                             f"[T, .] or both [B, T, .]")
        batched = z.ndim == 3
        out: F32 = self.engine.predict(z if batched else z[None], a if batched else a[None])
        return out if batched else out[0]

    def rollout(self, start: Any, actions: Any, steps: int | None = None) -> F32:
        """Autoregressive rollout from an image or a latent: ``[steps, D]`` (or ``[B, steps, D]``).

        Frame k is paired with action k; the predictor sees the last ``history`` frames.
        """
        z0, batched = self._latents(start)
        a = self._array("actions", actions, self.action_dim, f"[T, A={self.action_dim}] or [B, T, A]")
        if a.ndim == 2:
            a = np.broadcast_to(a[None], (z0.shape[0], *a.shape)) if batched else a[None]
        elif a.ndim != 3 or not batched:
            raise InputError(f"actions: shape {list(a.shape)} does not match [T, A={self.action_dim}]"
                             + (" or [B, T, A]" if batched else " for one start frame"))
        if a.shape[0] != z0.shape[0]:
            raise InputError(f"rollout: {z0.shape[0]} start frames but actions have batch {a.shape[0]}")
        n = a.shape[1] if steps is None else int(steps)
        if not 0 <= n <= a.shape[1]:
            raise InputError(f"rollout: steps {n} must be within 0..{a.shape[1]} (the number of actions given)",
                             hint="pass at least as many actions as steps")
        out: F32 = self.engine.rollout(z0, np.ascontiguousarray(a[:, :n]))
        return out if batched else out[0]

    def default_actions(self, steps: int = 20) -> F32:
        """The spec §4.1 action sequence ``[steps, A]`` (what golden files roll out with)."""
        from zoo.model.golden import golden_actions

        return golden_actions(self.action_dim, steps)


def load(ref: str | os.PathLike[str], *, workspace: Any = None) -> Model:
    """Load a LeWM variant from a workspace variant name, a directory, a file or ``hf://OWNER/REPO[@REV]/PATH``.

    >>> model = zoo.load("hf://attocode/lewm-models-slim_96d_4e_4p_full/model.lq40")
    >>> z = model.encode("frame.png")                      # [D]
    >>> traj = model.rollout(z, model.default_actions(20))  # [20, D]

    Bad references, unreadable files and wrong shapes raise `zoo.errors.ZooError` subclasses with
    a one-line message.
    """
    from zoo.model.engine import LeWM
    from zoo.runtime.refs import resolve
    from zoo.verify.engine import read_weights_file

    r = resolve(ref, workspace)
    config, weights = read_weights_file(r.kind, r.path, r.config_path)
    engine = LeWM.from_weights(config, weights, source=str(r.path))
    return Model(engine, name=r.name, kind=r.kind, path=r.path, ref=r.ref)
