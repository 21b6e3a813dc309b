"""`zoo` commands of the pull stage (attached to the main group on import)."""

from __future__ import annotations
