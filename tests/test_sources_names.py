"""URI parsing and validation of remote file names (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.errors import InputError
from zoo.sources import open_source, source_kind, validate_remote_name
from zoo.sources.local_source import LocalMirrorSource, path_to_file_uri, write_mirror_manifest


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "a//b", "a\\b", "C:/x", "", "./a", "a/", "x\x00"])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(InputError, match="unsafe file name"):
        validate_remote_name(name, origin="test")


@pytest.mark.parametrize("name", ["model.ckpt", "sub/dir/model.safetensors", "a..b.ckpt"])
def test_safe_names_pass(name: str) -> None:
    assert validate_remote_name(name, origin="test") == name


def test_uri_kinds_and_parsing() -> None:
    assert source_kind("wandb://e/p/a:v3") == "wandb"
    with pytest.raises(InputError, match="unknown source scheme"):
        source_kind("s3://bucket/x")
    wb = open_source("wandb://eren23/crucible-lewm/lewm_slim_96d_4e_4p_epoch_1")
    assert (wb.entity, wb.project, wb.artifact, wb.alias) == ("eren23", "crucible-lewm",  # type: ignore[attr-defined]
                                                              "lewm_slim_96d_4e_4p_epoch_1", "latest")
    hf = open_source("hf://org/name@abc123/sub/m.ckpt")
    assert (hf.repo_id, hf.revision, hf.path) == ("org/name", "abc123", "sub/m.ckpt")  # type: ignore[attr-defined]
    assert open_source("hf://org/name", file="m.ckpt").path == "m.ckpt"  # type: ignore[attr-defined]
    with pytest.raises(InputError):
        open_source("wandb://only/two")
    with pytest.raises(InputError):
        open_source("hf://org/name/../x")


def test_mirror_roundtrip_and_links_out(tmp_path: Path) -> None:
    mirror = tmp_path / "m"
    mirror.mkdir()
    (mirror / "a.ckpt").write_bytes(b"abc")
    outside = tmp_path / "secret"
    outside.write_bytes(b"s")
    (mirror / "link.ckpt").symlink_to(outside)
    write_mirror_manifest(mirror, artifact="a", version="v2", run_id="r1")
    src = LocalMirrorSource(path_to_file_uri(mirror))
    res = src.resolve()
    assert res.version == "v2" and res.run_id == "r1" and set(res.files) == {"a.ckpt", "link.ckpt"}
    part = tmp_path / "p.part"
    src.download(res, "a.ckpt", part)
    assert part.read_bytes() == b"abc"
    with pytest.raises(InputError, match="links outside"):
        src.download(res, "link.ckpt", part)


def test_missing_mirror_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        LocalMirrorSource(path_to_file_uri(tmp_path / "nope")).resolve()
