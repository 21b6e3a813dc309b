"""`zoo` commands of the quant stage (attached to the main group on import)."""

from __future__ import annotations
