"""ESP32-P4 target: firmware blob (LQ40), C header with offsets, golden vectors, C99 reference."""

from zoo.targets.esp32.target import Esp32Target

__all__ = ["Esp32Target"]
