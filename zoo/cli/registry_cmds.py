"""`zoo` commands of the registry stage (attached to the main group on import)."""

from __future__ import annotations
