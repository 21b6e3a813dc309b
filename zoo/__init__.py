"""lewm-zoo: model zoo and artifact registry for LeWM world models."""

__version__ = "0.1.0"
