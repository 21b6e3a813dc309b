"""Issue 15 item 8: hypothesis over safetensors headers, config.json, manifest.json, verify.json and W&B/mirror
manifests. Every input is either accepted or refused with a one-line `ZooError`; never another exception, in
bounded time (hypothesis deadline) and memory (peak RSS growth checked per test)."""

from __future__ import annotations

import json
import resource
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from publish_support import make_workspace

from zoo.errors import ZooError

FUZZ = settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])
MAX_RSS_GROWTH_KB = 100 * 1024

scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["F32", "U8", "BF16", "Q9", "../x", "/etc/passwd", ""]))
json_values = st.recursive(scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                           st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                           max_leaves=20)


def _one_line(fn: Callable[[], Any]) -> None:
    """Run the zoo code under test: it may succeed or raise a one-line ZooError, and must not raise the process's
    peak RSS by more than MAX_RSS_GROWTH_KB (hypothesis itself is not measured)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        fn()
    except ZooError as exc:
        text = exc.render()
        assert "\n" not in text and len(text) < 2000, text
    finally:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        assert grown < MAX_RSS_GROWTH_KB, f"peak RSS grew by {grown} KB"


# ------------------------------------------------------------------------------------------ safetensors headers
entries = st.fixed_dictionaries({}, optional={
    "dtype": st.one_of(st.sampled_from(["F32", "F16", "U8", "I64", "BOOL", "F4", "X"]), scalars),
    "shape": st.one_of(st.lists(st.integers(-3, 2**40), max_size=5), scalars),
    "data_offsets": st.one_of(st.lists(st.integers(-5, 2**40), min_size=0, max_size=3), scalars),
})
headers = st.dictionaries(st.text(max_size=10), st.one_of(entries, json_values), max_size=5)


@FUZZ
@given(header=headers, data=st.binary(max_size=64), length_delta=st.integers(-4, 4), raw=st.booleans())
def test_safetensors_headers(tmp_path: Path, header: dict[str, Any], data: bytes, length_delta: int,
                             raw: bool) -> None:
    from zoo.convert.inspect import describe_file

    text = json.dumps(header).encode() if not raw else json.dumps(header).encode()[: max(1, len(data) % 40)]
    blob = struct.pack("<Q", max(0, len(text) + length_delta)) + text + data
    path = tmp_path / "f.safetensors"
    path.write_bytes(blob)
    _one_line(lambda: describe_file(path))


# ------------------------------------------------------------------------------------------ config.json
@FUZZ
@given(edits=st.dictionaries(st.sampled_from(["encoder_heads", "predictor_heads", "encoder_hidden", "latent_dim",
                                              "patch_size", "image_size", "meta_tokens", "block_pattern",
                                              "encoder_type", "encoder_layers", "predictor_inner_dim"]),
                             json_values, max_size=4))
def test_config_json(tmp_path: Path, edits: dict[str, Any]) -> None:
    from model_weights import tiny_config

    from zoo.formats.lewm_config import LeWMConfig

    doc = {**json.loads(tiny_config("hybrid").to_json()), **edits}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    _one_line(lambda: LeWMConfig.from_file(path))


# ------------------------------------------------------------------------------------------ manifest / verify.json
@pytest.fixture(scope="module")
def publish_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("fuzz") / "ws")


def _restore(path: Path) -> Iterator[None]:
    saved = path.read_bytes()
    try:
        yield
    finally:
        path.write_bytes(saved)


@FUZZ
@given(artifacts=st.one_of(json_values, st.dictionaries(
           st.sampled_from(["ternary.safetensors", "golden.safetensors", "/etc/passwd", "../x", "targets/esp32/model.h",
                            "source/tiny.ckpt", ""]),
           st.one_of(json_values, st.fixed_dictionaries({"kind": scalars, "sha256": scalars})), max_size=4)),
       targets=json_values)
def test_manifest_json(publish_ws: Path, artifacts: Any, targets: Any) -> None:
    from zoo.publish import plan
    from zoo.publish.push import check_variant
    from zoo.registry import Workspace, load_registry
    from zoo.store.manifest import VariantManifest

    ws = Workspace(publish_ws)
    path = ws.variant_dir("tiny_child") / "manifest.json"
    for _ in _restore(path):
        path.write_text(json.dumps({"schema_version": 1, "artifacts": artifacts, "targets": targets}))
        _one_line(lambda: VariantManifest.load(path.parent))
        _one_line(lambda: plan(ws, None, ["tiny_child"], {}, repo_id="a/b"))
        _one_line(lambda: check_variant(ws, "tiny_child", load_registry(ws.registry_path)))


@FUZZ
@given(doc=st.one_of(json_values, st.fixed_dictionaries({
    "schema_version": st.sampled_from([1, 2, "1"]), "status": st.sampled_from(["pass", "fail", "pending", 5]),
    "gate": json_values,
    "artifacts": st.dictionaries(st.sampled_from(["ternary.safetensors", "/etc/passwd", "../../x", "a\\b", ""]),
                                 scalars, max_size=3),
    "inputs": json_values, "reference": st.one_of(json_values, st.fixed_dictionaries({"variant": scalars,
                                                                                     "golden_sha256": scalars}))})))
def test_verify_json(publish_ws: Path, doc: Any) -> None:
    from zoo.publish.push import check_variant
    from zoo.registry import Workspace, load_registry
    from zoo.verify.state import verification_state

    ws = Workspace(publish_ws)
    path = ws.variant_dir("tiny_child") / "verify.json"
    for _ in _restore(path):
        path.write_text(json.dumps(doc))
        _one_line(lambda: verification_state(ws, "tiny_child"))
        _one_line(lambda: check_variant(ws, "tiny_child", load_registry(ws.registry_path)))


# ------------------------------------------------------------------------------------------ mirror / W&B manifests
@FUZZ
@given(contents=st.one_of(json_values, st.dictionaries(
    st.one_of(st.text(max_size=12), st.sampled_from(["../x", "/abs", "a//b", "a\\b", "ok.ckpt"])),
    st.one_of(json_values, st.fixed_dictionaries({}, optional={"size": scalars, "digest": scalars,
                                                               "sha256": scalars})), max_size=4)))
def test_mirror_manifest(tmp_path: Path, contents: Any) -> None:
    from zoo.sources.local_source import LocalMirrorSource, path_to_file_uri

    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "contents": contents}))
    _one_line(lambda: LocalMirrorSource(path_to_file_uri(tmp_path)).resolve())


class _Entry:
    def __init__(self, size: Any, digest: Any) -> None:
        self.size, self.digest = size, digest


@FUZZ
@given(entries=st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(["../x", "/abs", "ok.ckpt"])),
                               st.tuples(scalars, scalars), max_size=4))
def test_wandb_manifest(entries: dict[str, tuple[Any, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit test of the error path: the wandb client is replaced by an object serving the fuzzed entries."""
    from zoo.sources.wandb_source import WandbSource

    class _Art:
        version, aliases, metadata = "v0", [], {"run_id": "r"}

        class manifest:  # mimics the client attribute
            pass

        def files(self) -> list[Any]:
            return []

    art = _Art()
    art.manifest.entries = {k: _Entry(*v) for k, v in entries.items()}  # type: ignore[attr-defined]

    class _Api:
        def artifact(self, name: str) -> Any:
            return art

    src = WandbSource("wandb://e/p/a:latest")
    monkeypatch.setattr(src, "_client", lambda: _Api())
    _one_line(src.resolve)
