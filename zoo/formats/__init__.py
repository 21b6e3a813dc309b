"""Shared file formats: LeWM config.json, LQ40 binaries, safetensors helpers."""
