"""The esp32 target plugin (work in progress)."""

from __future__ import annotations

from typing import Any

from zoo.targets.base import Artifact, BuildContext

ESP32_FORMATS = ("lq40:full", "lq40:q4-pred", "lq40:wanda20-q4", "lq40:wanda40-q4")


class Esp32Target:
    name = "esp32"
    formats = ESP32_FORMATS
    description = "ESP32-P4 (rv32imafc): LQ40 firmware blob, C header, golden vectors, C99 reference"

    def build(self, ctx: BuildContext) -> list[Artifact]:
        raise NotImplementedError

    def check(self, ctx: BuildContext) -> dict[str, Any]:
        raise NotImplementedError
