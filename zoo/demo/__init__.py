"""`zoo demo`: a self-contained, offline run of the pipeline on synthetic crucible checkpoints."""

from zoo.demo.run import STEPS, DemoContext, DemoFailed, Step, StepResult, run_demo

__all__ = ["STEPS", "DemoContext", "DemoFailed", "Step", "StepResult", "run_demo"]
