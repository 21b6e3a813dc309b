"""`zoo` commands of the model stage (attached to the main group on import)."""

from __future__ import annotations
