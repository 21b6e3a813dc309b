"""`zoo` commands of the publish stage (attached to the main group on import)."""

from __future__ import annotations
