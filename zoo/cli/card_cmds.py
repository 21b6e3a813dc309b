"""`zoo` commands of the card stage (attached to the main group on import)."""

from __future__ import annotations
