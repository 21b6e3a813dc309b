"""Issue 15 item 5 (file system): nothing the zoo writes may land outside the workspace through a symlink.

Cases from the issue: a committed `cards/<name>` or `cards/site` symlink (`zoo card` / `zoo site`), a symlinked
`variants/<name>` or `source/` (`zoo pull`), symlinked `targets/` entries (`zoo build`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from servers.workspaces import source_yaml, write_pull_workspace

from zoo._io import contained_path
from zoo.cli import main
from zoo.errors import InputError
from zoo.registry import Workspace
from zoo.sources.local_source import path_to_file_uri, write_mirror_manifest
from zoo.targets.registry import target_dir

REPO = Path(__file__).resolve().parents[1]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "README.md").write_text("precious\n")
    (out / "index.html").write_text("precious\n")
    return out


def test_contained_path_rules(tmp_path: Path, outside: Path) -> None:
    base = tmp_path / "base"
    (base / "real").mkdir(parents=True)
    (base / "inside").symlink_to(base / "real")
    (base / "escape").symlink_to(outside)
    assert contained_path(base, "a/b.txt") == base / "a" / "b.txt"
    assert contained_path(base, "inside/x") == base / "inside" / "x"  # written through: it stays inside
    for bad in ("escape/x", "escape", "../x", "a/../../x", str(outside / "x")):
        with pytest.raises(InputError) as err:
            contained_path(base, bad)
        assert "\n" not in err.value.render()


def _card_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    shutil.copy(REPO / "registry.yaml", ws / "registry.yaml")
    shutil.copytree(REPO / "cards", ws / "cards", ignore=shutil.ignore_patterns("site"))
    return ws


def test_symlinked_card_directory_is_refused(tmp_path: Path, outside: Path) -> None:
    ws = _card_workspace(tmp_path)
    name = "baseline_full"
    shutil.rmtree(ws / "cards" / name)
    (ws / "cards" / name).symlink_to(outside)
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "card", name])
    assert result.exit_code == 2, result.output
    assert "outside" in result.output and "Traceback" not in result.output
    assert _snapshot(outside) == before


def test_symlinked_card_file_is_refused(tmp_path: Path, outside: Path) -> None:
    ws = _card_workspace(tmp_path)
    (ws / "cards" / "README.md").unlink()
    (ws / "cards" / "README.md").symlink_to(outside / "README.md")
    result = CliRunner().invoke(main, ["-C", str(ws), "card", "baseline_full"])
    assert result.exit_code == 2, result.output
    assert (outside / "README.md").read_text() == "precious\n"


def test_symlinked_site_directory_is_refused(tmp_path: Path, outside: Path) -> None:
    ws = _card_workspace(tmp_path)
    (ws / "cards" / "site").symlink_to(outside)
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "site"])
    assert result.exit_code == 2, result.output
    assert _snapshot(outside) == before


def _mirror_workspace(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "c.ckpt").write_bytes(b"c" * 64)
    write_mirror_manifest(mirror, artifact="c")
    return write_pull_workspace(tmp_path / "ws", [source_yaml(path_to_file_uri(mirror), "c.ckpt")])


def test_symlinked_variant_directory_is_refused_by_pull(tmp_path: Path, outside: Path) -> None:
    ws = _mirror_workspace(tmp_path)
    (ws / "variants").mkdir()
    (ws / "variants" / "tiny").symlink_to(outside)
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert result.exit_code == 2, result.output
    assert "outside" in result.output and "Traceback" not in result.output
    assert _snapshot(outside) == before


def test_symlinked_source_directory_is_refused_by_pull(tmp_path: Path, outside: Path) -> None:
    ws = _mirror_workspace(tmp_path)
    (ws / "variants" / "tiny").mkdir(parents=True)
    (ws / "variants" / "tiny" / "source").symlink_to(outside)
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert result.exit_code == 2, result.output
    assert _snapshot(outside) == before


def test_symlinked_targets_entries_are_refused(tmp_path: Path, outside: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    vdir = ws.root / "variants" / "v"
    vdir.mkdir(parents=True)
    (vdir / "targets").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        target_dir(ws, "v", "esp32")
    (vdir / "targets").unlink()
    (vdir / "targets").mkdir()
    (vdir / "targets" / "esp32").symlink_to(outside)
    with pytest.raises(InputError, match="outside"):
        target_dir(ws, "v", "esp32")


def test_symlinked_cache_directories_are_refused(tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _mirror_workspace(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZOO_CACHE", str(cache))
    (cache / "blobs").mkdir(parents=True)
    (cache / "blobs" / "sha256").symlink_to(outside)
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert result.exit_code == 2, result.output
    assert "outside" in result.output and "Traceback" not in result.output
    assert _snapshot(outside) == before


def test_symlinked_lock_file_is_not_written_through(tmp_path: Path, outside: Path) -> None:
    ws = _mirror_workspace(tmp_path)
    vdir = ws / "variants" / "tiny"
    vdir.mkdir(parents=True)
    (vdir / ".pull.lock").symlink_to(outside / "README.md")
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "pull", "tiny", "--no-convert"])
    assert "Traceback" not in result.output
    assert _snapshot(outside) == before


def test_symlinked_cards_directory_is_refused(tmp_path: Path, outside: Path) -> None:
    ws = _card_workspace(tmp_path)
    shutil.copytree(ws / "cards", outside / "cards")
    shutil.rmtree(ws / "cards")
    (ws / "cards").symlink_to(outside / "cards")
    before = _snapshot(outside)
    result = CliRunner().invoke(main, ["-C", str(ws), "card", "baseline_full"])
    assert result.exit_code == 2, result.output
    assert _snapshot(outside) == before
