"""Use a model: `zoo.load(ref)` -> `Model` with `encode`, `predict`, `rollout` (numpy in, numpy out).

See `zoo.runtime.model` for shapes and `zoo.runtime.refs` for the references `load` accepts.
"""

from zoo.runtime.model import Model, load

__all__ = ["Model", "load"]
