"""BLAS thread pinning (no heavy imports: must run before numpy loads)."""

from __future__ import annotations

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def pin_blas_threads(default: str = "1", *, force: bool = False) -> None:
    """Set every BLAS/OpenMP thread variable to `default` (only unset ones unless `force`)."""
    for var in THREAD_VARS:
        if force:
            os.environ[var] = default
        else:
            os.environ.setdefault(var, default)
