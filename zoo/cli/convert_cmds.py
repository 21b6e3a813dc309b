"""`zoo` commands of the convert stage (attached to the main group on import)."""

from __future__ import annotations
