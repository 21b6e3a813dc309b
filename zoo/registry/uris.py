"""Rules for `file:` source URIs, shared by `registry check` and `zoo pull` so both accept the same set.

- `file:///abs/dir` (or `file://localhost/abs/dir`): an absolute directory;
- `file:mirror/dir`: a directory relative to the workspace root (a workspace that carries its mirror,
  as `zoo demo` writes it, can then be copied or moved);
- `file://mirror/dir` is refused: "mirror" is the URI's *host*, not a directory.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def file_uri_problem(uri: str) -> tuple[str, str] | None:
    """(message, hint) when `uri` is a file URI that cannot name a local directory, else None."""
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return f"{uri}: not a local file URI", "use file:///absolute/path/to/mirror-dir or file:mirror/dir"
    if parts.netloc not in ("", "localhost"):
        rest = f"{parts.netloc}{parts.path}"
        return (f"{uri}: names the host '{parts.netloc}', not a local directory",
                f"for a directory relative to the workspace write file:{rest}; for an absolute one file:///{rest}")
    if not parts.path:
        return f"{uri}: no path", "use file:///absolute/path/to/mirror-dir or file:mirror/dir"
    return None


def is_relative_file_uri(uri: str) -> bool:
    return uri.startswith("file:") and not uri.startswith("file:/")
