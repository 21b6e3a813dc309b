"""`zoo` commands of the build stage (attached to the main group on import)."""

from __future__ import annotations
