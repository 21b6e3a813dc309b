"""Issue 15 item 5 (publish): only regular files the zoo built are planned, each re-hashed, and the gate is
recomputed from the golden files instead of trusting verify.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from publish_support import golden_bytes, make_workspace, zoo

from zoo.errors import InputError
from zoo.publish import plan, plan_for_workspace
from zoo.publish.push import check_variant
from zoo.registry import Workspace, load_registry


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOO_OFFLINE", "1")  # dry-runs plan against an empty remote, no request


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(make_workspace(tmp_path / "ws"))


def _edit_json(path: Path, fn: Any) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _set_file(ws: Workspace, variant: str, rel: str, data: bytes, *, verify: bool = True) -> None:
    """Replace an artifact and make manifest.json (and verify.json) agree with it: a consistent forgery."""
    vdir = ws.variant_dir(variant)
    (vdir / rel).write_bytes(data)
    _edit_json(vdir / "manifest.json", lambda m: m["artifacts"][rel].update(sha256=_sha(data), size=len(data)))
    if verify:
        _edit_json(vdir / "verify.json", lambda v: v["artifacts"].__setitem__(rel, _sha(data)))


def _strict_child(ws: Workspace) -> None:
    reg = ws.registry_path
    reg.write_text(reg.read_text().replace("expected_cosine: 0.5, tolerance: 0.5", "expected_cosine: 0.99, tolerance: 0.01"))


def _planned(ws: Workspace, *names: str) -> set[str]:
    return {f.path for f in plan(ws, None, list(names) or ["tiny", "tiny_child"], {}, repo_id="a/b").files}


def test_hand_edited_kinds_do_not_make_private_files_uploadable(ws: Workspace) -> None:
    vdir = ws.variant_dir("tiny")
    (vdir / ".pull.lock").write_bytes(b"")
    def forge(m: dict[str, Any]) -> None:
        m["artifacts"]["source/tiny.ckpt"]["kind"] = "safetensors"
        m["artifacts"]["golden.safetensors"]["kind"] = "lq40"
        m["artifacts"][".pull.lock"] = {"sha256": _sha(b""), "kind": "config"}
    _edit_json(vdir / "manifest.json", forge)
    planned = _planned(ws, "tiny")
    assert not any(p.endswith(("tiny.ckpt", ".pull.lock", "golden.safetensors")) for p in planned), planned
    assert "tiny/lejepa_weights.safetensors" in planned


@pytest.mark.parametrize("rel", ["lejepa_weights.safetensors", "targets/esp32/model.h"])
def test_symlinked_artifacts_are_refused(tmp_path: Path, rel: str) -> None:
    ws = Workspace(make_workspace(tmp_path / "ws"))
    variant = "tiny_child" if rel.startswith("targets/") else "tiny"
    path = ws.variant_dir(variant) / rel
    secret = tmp_path / "secret.bin"
    secret.write_bytes(path.read_bytes())  # same bytes: the digests still match, the link must be refused
    path.unlink()
    path.symlink_to(secret)
    with pytest.raises(InputError, match="symlink"):
        _planned(ws)
    res = zoo(ws.root, "publish", "--dry-run")
    assert res.exit_code == 2 and "symlink" in res.output and "Traceback" not in res.output


def test_symlinked_targets_directory_is_refused(tmp_path: Path) -> None:
    ws = Workspace(make_workspace(tmp_path / "ws"))
    tdir = ws.variant_dir("tiny_child") / "targets"
    elsewhere = tmp_path / "elsewhere"
    tdir.rename(elsewhere)
    tdir.symlink_to(elsewhere)
    with pytest.raises(InputError, match="symlink"):
        _planned(ws, "tiny_child")


def test_target_artifact_outside_its_folder_is_refused(ws: Workspace) -> None:
    vdir = ws.variant_dir("tiny_child")
    _edit_json(vdir / "manifest.json", lambda m: m["targets"]["esp32"]["artifacts"].update(
        {"source/../verify.json": {"sha256": "0" * 64}}))
    with pytest.raises(InputError, match="outside targets/esp32"):
        _planned(ws, "tiny_child")


def test_target_artifacts_are_rehashed(ws: Workspace) -> None:
    (ws.variant_dir("tiny_child") / "targets" / "esp32" / "model.h").write_bytes(b"/* tampered */\n")
    check = check_variant(ws, "tiny_child", load_registry(ws.registry_path))
    assert check.refused and any("targets/esp32/model.h changed" in r for r in check.reasons)


def test_verify_json_pass_with_a_bad_cosine_does_not_pass(ws: Workspace) -> None:
    _strict_child(ws)
    ternary = (ws.variant_dir("tiny_child") / "ternary.safetensors").read_bytes()
    _set_file(ws, "tiny_child", "golden.safetensors", golden_bytes(_sha(ternary), orthogonal=True))
    # verify.json still says status pass with a great number
    check = check_variant(ws, "tiny_child", load_registry(ws.registry_path))
    assert check.state == "fail" and check.refused
    assert check.measured is not None and check.measured < 0.1
    assert any("recomputed gate" in r for r in check.reasons)
    res = zoo(ws.root, "publish", "tiny_child")
    assert res.exit_code in (1, 2) and "Traceback" not in res.output  # exit 2 without HF_TOKEN is fine too


def test_artifact_left_out_of_verify_json_is_still_checked(ws: Workspace) -> None:
    # the ternary artifact is replaced, manifest.json updated to match, and verify.json no longer lists it
    _set_file(ws, "tiny_child", "ternary.safetensors", b"other ternary bytes", verify=False)
    _edit_json(ws.variant_dir("tiny_child") / "verify.json", lambda v: v["artifacts"].pop("ternary.safetensors"))
    check = check_variant(ws, "tiny_child", load_registry(ws.registry_path))
    assert check.refused and any("weights_sha256" in r for r in check.reasons), check


def test_absolute_paths_in_verify_json_are_refused_never_hashed(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = ws.root.parent / "outside.bin"
    outside.write_bytes(b"private")
    _edit_json(ws.variant_dir("tiny") / "verify.json",
               lambda v: v["artifacts"].update({str(outside): _sha(b"private"), "../../x": "0" * 64}))
    import zoo.verify.state as state

    hashed: list[str] = []
    real = state.sha256_file
    monkeypatch.setattr(state, "sha256_file", lambda p: hashed.append(str(p)) or real(p))
    check = check_variant(ws, "tiny", load_registry(ws.registry_path))
    assert check.state == "stale" and any("not a plain relative path" in r for r in check.reasons)
    assert str(outside) not in hashed and not any(".." in h for h in hashed)


def test_deep_json_is_one_line(ws: Workspace) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (ws.variant_dir("tiny") / "verify.json").write_text(deep)
    check = check_variant(ws, "tiny", load_registry(ws.registry_path))
    assert check.state == "stale"
    (ws.variant_dir("tiny") / "manifest.json").write_text('{"artifacts": ' + "[" * 5000 + "]" * 5000 + "}")
    res = zoo(ws.root, "publish", "--dry-run", "tiny")
    assert res.exit_code == 2 and "nested too deeply" in res.output and "Traceback" not in res.output


def test_consistent_workspace_still_plans(ws: Workspace) -> None:
    result = plan_for_workspace(ws, load_registry(ws.registry_path), offline=True)
    assert not result.refused
    assert result.checks["tiny_child"].state == "pass"


def test_files_swapped_after_planning_are_not_uploaded(ws: Workspace, tmp_path: Path) -> None:
    from zoo.publish.gate import check_uploads

    p = plan(ws, None, ["tiny"], {}, repo_id="a/b")
    weights = ws.variant_dir("tiny") / "lejepa_weights.safetensors"
    secret = tmp_path / "secret"
    secret.write_bytes(weights.read_bytes())
    weights.unlink()
    weights.symlink_to(secret)
    with pytest.raises(InputError, match="changed after planning"):
        check_uploads(p.uploads)
