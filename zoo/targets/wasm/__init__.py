"""The wasm target: the shared C reference compiled for wasm32 + SIMD128, an ES module, golden vectors."""

from zoo.targets.wasm.target import WasmTarget

__all__ = ["WasmTarget"]
