"""Local paths never leave the machine: `file://` URIs are shortened in published files and cards.

A variant pulled from a local mirror records `file:///home/me/mirrors/slim` (source `uri`, `served_by`,
`requested`, and the checkpoint's `inputs` key) in `variants/<name>/manifest.json`. What is published
(the uploaded manifest.json, the cards and the site) shows only the last path segment behind a fixed
placeholder host: `file:///home/me/mirrors/slim` -> `file://.../slim`. The rule is a pure function
of the string (same input, same output, idempotent); query and fragment are dropped. Every other
scheme (`wandb://`, `hf://`) is left as it is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from zoo._io import dumps_json

PLACEHOLDER = "file://..."
# a file: URI up to the first character that cannot be part of it in JSON, Markdown or prose; `(`, `)` and `'`
# are legal in paths (`my (copy)`, `o'brien`), so they are taken and only trailing unbalanced ones dropped
_FILE_URI = re.compile(r"file:/[^\s`\"<>|\[\]]*")
_TRAILING = ").,;:!?'"


def _short_uri(uri: str) -> str:
    path = urlsplit(uri).path
    base = next((seg for seg in reversed(path.split("/")) if seg), "")
    return f"{PLACEHOLDER}/{base}" if base else PLACEHOLDER


def _short(match: re.Match[str]) -> str:
    uri = match.group(0)
    end = len(uri)
    while end > len("file:/") and uri[end - 1] in _TRAILING:
        if uri[end - 1] == ")" and uri[:end].count("(") >= uri[:end].count(")"):
            break  # a balanced `)` belongs to the path: `file:///a/my(copy)`
        end -= 1
    return _short_uri(uri[:end]) + uri[end:]


def redact_text(text: str) -> str:
    """Every `file:` URI inside `text` -> `file://.../<last path segment>`."""
    return _FILE_URI.sub(_short, text) if "file:/" in text else text


def redact_value(text: str) -> str:
    """A string that *is* a `file:` URI (a manifest/registry value, spaces and all) is shortened as a whole;
    any other string goes through `redact_text`."""
    if text.startswith("file:/") and "\n" not in text:
        return _short_uri(text)
    return redact_text(text)


def redact_json(obj: Any) -> Any:
    """A copy of a JSON document with `redact_value` applied to every string, keys included."""
    if isinstance(obj, str):
        return redact_value(obj)
    if isinstance(obj, dict):
        return {redact_value(k) if isinstance(k, str) else k: redact_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact_json(v) for v in obj]
    return obj


def redacted_json_bytes(path: Path) -> bytes | None:
    """The bytes to publish for the JSON file `path`, or None when it holds no local path (publish as is).

    A redacted document is re-serialised with `dumps_json` (sorted keys, indent 2), so it is deterministic.
    Unreadable JSON is returned as None: the publish gate reports a broken manifest elsewhere.
    """
    raw = path.read_bytes()
    if b"file:/" not in raw:
        return None
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    clean = redact_json(doc)
    return None if clean == doc else dumps_json(clean).encode("utf-8")
