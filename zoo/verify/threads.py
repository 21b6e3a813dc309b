"""BLAS thread pinning (re-exported: the implementation lives in `zoo._threads`, which the CLI
imports at start-up without loading the verify package)."""

from zoo._threads import THREAD_VARS, pin_blas_threads

__all__ = ["THREAD_VARS", "pin_blas_threads"]
