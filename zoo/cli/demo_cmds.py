"""`zoo` commands of the demo stage (attached to the main group on import)."""

from __future__ import annotations
