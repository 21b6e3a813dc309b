"""Issue 15: `file://` paths containing `(`, `)`, `'` or spaces are redacted whole in uploaded manifests and cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from publish_support import make_workspace

from zoo.cards.redact import redact_json, redact_text, redact_value, redacted_json_bytes

HOSTILE = ["/home/o'brien/mirrors/slim", "/home/me/my (copy)/slim", "/home/me/a(b)/c'd/slim", "/srv/x)y/slim"]


@pytest.mark.parametrize("path", HOSTILE)
def test_whole_values_are_redacted(path: str) -> None:
    uri = f"file://{path}"
    assert redact_value(uri) == "file://.../slim"
    doc = redact_json({"source": {"uri": uri}, "inputs": {f"{uri}/c.ckpt": "ab"}})
    assert doc == {"source": {"uri": "file://.../slim"}, "inputs": {"file://.../c.ckpt": "ab"}}


@pytest.mark.parametrize("path", [p for p in HOSTILE if " " not in p])
def test_uris_inside_text_are_redacted(path: str) -> None:
    for text, want in ((f"`file://{path}`: skipped", "`file://.../slim`: skipped"),
                       (f"'file://{path}'", "'file://.../slim'"),
                       (f"[m](file://{path})", "[m](file://.../slim)"),
                       (f"from file://{path}, then", "from file://.../slim, then")):
        assert redact_text(text) == want
    assert redact_text("file:///a/b(c)/d") == "file://.../d"  # a balanced ')' belongs to the path


def test_uploaded_manifest_has_no_trace_of_the_path(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    mirror = f"file://{tmp_path}/o'brien (copy)/mirrors/tiny"
    mpath = root / "variants" / "tiny" / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["source"] = {"uri": mirror, "served_by": mirror, "requested": mirror}
    doc["artifacts"]["source/tiny.ckpt"]["inputs"] = {mirror: "ab"}
    mpath.write_text(json.dumps(doc))
    clean = redacted_json_bytes(mpath)
    assert clean is not None
    for leak in ("o'brien", "(copy)", "copy)", str(tmp_path)):
        assert leak not in clean.decode()
