"""Error types shared by every stage.

Each error carries the process exit code the CLI uses for it (DESIGN decision 8):
0 success, 1 verification failed, 2 bad usage or bad input, 3 remote service error.
The message must be one line naming the file, field or byte offset, plus a hint.
"""

from __future__ import annotations


class ZooError(Exception):
    """Base class: a failure the CLI reports as one line, never a traceback."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class UsageError(ZooError):
    """Bad command-line usage (unknown variant, wrong option combination)."""

    exit_code = 2


class InputError(ZooError):
    """A file or value the user gave us is malformed."""

    exit_code = 2


class RegistryError(InputError):
    """registry.yaml is invalid; `problems` holds every located message."""

    def __init__(self, message: str, *, problems: list[str] | None = None, hint: str | None = None) -> None:
        self.problems = problems or []
        super().__init__(message, hint=hint)


class CheckpointError(InputError):
    """A .ckpt / .pt / safetensors file cannot be read safely."""


class LQ40Error(InputError):
    """An LQ40 file violates the format; the message names the byte offset and the field."""


class VerificationError(ZooError):
    """A variant failed verification (numbers, digests, stale artifacts)."""

    exit_code = 1


class RemoteError(ZooError):
    """A remote service (W&B, Hugging Face Hub) failed or refused."""

    exit_code = 3


class CredentialsError(ZooError):
    """A credential environment variable is missing; tells the user what to set."""

    exit_code = 2
