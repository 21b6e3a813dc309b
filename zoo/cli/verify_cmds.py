"""`zoo` commands of the verify stage (attached to the main group on import)."""

from __future__ import annotations
