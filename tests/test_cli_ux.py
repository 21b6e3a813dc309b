"""The CLI behaves like the tools people already know (issue 18): results on stdout, `zoo show` as YAML,
`zoo list` filters, umask-honouring files, cache and doctor commands, completion, consistent options,
workspace-relative mirrors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML
from servers.workspaces import source_yaml, write_pull_workspace

from zoo.cli import main

REPO = Path(__file__).resolve().parents[1]


def zoo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zoo", *args], capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- stdout, plain text


def test_list_piped_through_grep_finds_rows() -> None:
    proc = subprocess.run(f'"{sys.executable}" -m zoo -C "{REPO}" list | grep slim', shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.splitlines()
    assert len(rows) >= 10 and all("slim" in r for r in rows)
    first = rows[0].split()
    assert first[:3] == ["slim_48d_2e_2p", "slim", "safetensors-f32"]  # plain aligned columns, no box drawing
    assert not any(ch in proc.stdout for ch in "│┃━─")


def test_list_stdout_in_cli_runner_and_header() -> None:
    res = CliRunner().invoke(main, ["-C", str(REPO), "list"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "family", "format", "size"]
    assert any(ln.startswith("slim_96d_4e_4p_full ") for ln in lines)
    assert "not verified" in res.stdout and "absent" in res.stdout


def test_list_filters_sort_and_did_you_mean() -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(REPO), "list", "--family", "baseline", "--format", "lq40", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["variants"]
    assert rows and {r["family"] for r in rows} == {"baseline"} and all(r["format"].startswith("lq40") for r in rows)
    res = runner.invoke(main, ["-C", str(REPO), "list", "--format", "lq40:full", "--target", "esp32", "--json"])
    rows = json.loads(res.stdout)["variants"]
    assert rows and all(r["format"] == "lq40:full" and "esp32" in r["targets"] for r in rows)
    res = runner.invoke(main, ["-C", str(REPO), "list", "--target", "none", "--sort", "name", "--json"])
    names = [r["name"] for r in json.loads(res.stdout)["variants"]]
    assert names == sorted(names) and names
    res = runner.invoke(main, ["-C", str(REPO), "list", "--status", "verified", "--json"])
    assert json.loads(res.stdout)["variants"] == []  # nothing is built in the repository
    res = runner.invoke(main, ["-C", str(REPO), "list", "--family", "slm"])
    assert res.exit_code == 2 and "Did you mean 'slim'?" in res.output
    res = runner.invoke(main, ["-C", str(REPO), "lst"])
    assert res.exit_code == 2 and "Did you mean 'list'?" in res.output


@pytest.mark.slow
def test_list_on_the_demo_shows_measured_numbers_next_to_claims(demo_workspace: Path) -> None:
    res = CliRunner().invoke(main, ["-C", str(demo_workspace), "list", "--sort", "size", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["variants"]
    by = {r["name"]: r for r in rows}
    full = by["slim_96d_4e_4p_full"]
    assert full["status"] == "verified" and full["stage"] in ("quantized", "built")  # built: other tests build esp32
    assert full["size_bytes"] > 1_000_000 and full["claimed_size"] == "9.8 MB"
    assert 0.99 < full["cosine"] <= 1.0 and full["claimed_cosine"] == pytest.approx(0.9982)
    assert by["baseline_ternary"]["status"] == "measured"  # policy pending: measured, not gated
    sizes = [r["size_bytes"] for r in rows if r["size_bytes"] is not None]
    assert sizes == sorted(sizes) and rows[-1]["size_bytes"] is None  # unmeasured (hdl) last
    res = CliRunner().invoke(main, ["-C", str(demo_workspace), "list", "--status", "measured", "--json"])
    assert {r["name"] for r in json.loads(res.stdout)["variants"]} == {"baseline_ternary", "hybrid_ALAL_64d_4e_4p_full"}
    text = CliRunner().invoke(main, ["-C", str(demo_workspace), "list"]).stdout
    row = next(ln for ln in text.splitlines() if ln.startswith("slim_96d_4e_4p_full "))
    assert "MB" in row and "9.8 MB" in row and "0.9982" in row and "verified" in row


# --------------------------------------------------------------------------- zoo show


def _show_documents(text: str) -> list[object]:
    return list(YAML(typ="safe").load_all(text))


def test_show_first_section_is_the_record_as_yaml() -> None:
    res = CliRunner().invoke(main, ["-C", str(REPO), "show", "slim_96d_4e_4p_full"])
    assert res.exit_code == 0, res.output
    first = res.stdout.partition("\n---\n")[0]
    record = YAML(typ="safe").load(first)
    assert list(record) == ["slim_96d_4e_4p_full"]
    body = record["slim_96d_4e_4p_full"]
    assert body["parent"] == "slim_96d_4e_4p" and body["format"] == {"kind": "lq40", "mode": "full"}
    assert body["architecture"]["latent_dim"] == 96  # inherited, and marked so
    assert "# inherited from slim_96d_4e_4p\n" in first and "# inherited from the collection" in first
    assert body["provenance"]["checkpoint_kind"] == "object" and body["license"] == "cc-by-nc-4.0"
    # the rest is YAML too: status and measured numbers next to claims
    docs = _show_documents(res.stdout)
    assert len(docs) == 2
    status = docs[1]
    assert isinstance(status, dict) and status["status"] == "not verified" and status["local"] == "absent"
    assert status["size"]["claim"] == "9.8 MB" and status["cosine"]["claim"] == "0.9982"
    assert status["targets"]["esp32"] == {"state": "not built"}
    assert "'line'" not in res.stdout and "None" not in res.stdout  # not a Python repr


def test_show_of_an_f32_root_marks_only_the_license() -> None:
    res = CliRunner().invoke(main, ["-C", str(REPO), "show", "baseline_192d_6e_6p"])
    first = res.stdout.partition("\n---\n")[0]
    assert "inherited from the collection" in first and "inherited from baseline" not in first
    res = CliRunner().invoke(main, ["-C", str(REPO), "show", "baseline_192d_6e_6p", "--json"])
    doc = json.loads(res.stdout)
    assert doc["inherited"] == {"license": "collection"} and doc["status"] == "not verified"


@pytest.mark.slow
def test_show_on_the_demo_lists_artifacts_and_targets(demo_workspace: Path) -> None:
    res = CliRunner().invoke(main, ["-C", str(demo_workspace), "show", "baseline_q4_pred"])
    assert res.exit_code == 0, res.output
    status = _show_documents(res.stdout)[1]
    assert isinstance(status, dict) and status["status"] == "verified"
    lq40 = status["artifacts"]["model.lq40"]
    assert lq40["size"] == (demo_workspace / "variants" / "baseline_q4_pred" / "model.lq40").stat().st_size
    assert len(lq40["sha256"]) == 64 and 0.99 < status["cosine"]["measured"] <= 1.0


# --------------------------------------------------------------------------- file modes


@pytest.mark.parametrize(("umask", "plain", "exe"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_atomic_writes_honour_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int, plain: int,
                                        exe: int) -> None:
    from zoo import _io

    old = os.umask(umask)
    try:
        monkeypatch.setattr(_io, "_UMASK", None)  # read once per process: make this test's umask the one read
        _io.atomic_write_text(tmp_path / "a.txt", "x")
        _io.atomic_write_bytes(tmp_path / "run.sh", b"#!/bin/sh\n", executable=True)
        _io.atomic_write_json(tmp_path / "sub" / "b.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == plain
    assert stat.S_IMODE((tmp_path / "sub" / "b.json").stat().st_mode) == plain
    assert stat.S_IMODE((tmp_path / "run.sh").stat().st_mode) == exe
    assert not [p for p in tmp_path.rglob("*.part")]


def test_cli_written_files_are_0644_under_umask_022(tmp_path: Path) -> None:
    shutil.copy(REPO / "registry.yaml", tmp_path / "registry.yaml")
    proc = subprocess.run(f'umask 022 && "{sys.executable}" -m zoo -C "{tmp_path}" card slim_48d_2e_2p', shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for path in (tmp_path / "cards" / "README.md", tmp_path / "cards" / "slim_48d_2e_2p" / "README.md"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# --------------------------------------------------------------------------- workspace-relative mirrors


def test_relative_file_uris_resolve_against_the_workspace(tmp_path: Path) -> None:
    from zoo.sources import open_source, source_kind
    from zoo.sources.local_source import LocalMirrorSource

    assert source_kind("file:mirror/x") == "file"
    src = open_source("file:mirror/a%20b", base=tmp_path)
    assert isinstance(src, LocalMirrorSource) and src.root == tmp_path / "mirror" / "a b"
    assert src.cache_uri == (tmp_path / "mirror" / "a b").resolve().as_uri()


def test_registry_check_refuses_a_host_in_a_file_uri(tmp_path: Path) -> None:
    write_pull_workspace(tmp_path, [source_yaml("file://mirror/tiny", file="tiny.ckpt")])
    res = CliRunner().invoke(main, ["-C", str(tmp_path), "registry", "check"])
    assert res.exit_code == 2
    assert "names the host 'mirror', not a local directory" in res.output
    assert "write file:mirror/tiny" in res.output
    write_pull_workspace(tmp_path, [source_yaml("file:mirror/tiny", file="tiny.ckpt")])
    res = CliRunner().invoke(main, ["-C", str(tmp_path), "registry", "check"])
    assert res.exit_code == 0, res.output


@pytest.mark.slow
def test_a_moved_demo_workspace_pulls_from_its_own_mirror(demo_workspace: Path, tmp_path: Path) -> None:
    art = "lewm_hybrid_ALAL_64d_4e_4p_synthetic"
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(demo_workspace / "registry.yaml", first / "registry.yaml")
    shutil.copytree(demo_workspace / "mirror" / art, first / "mirror" / art)
    moved = tmp_path / "elsewhere" / "moved"
    moved.parent.mkdir()
    first.rename(moved)  # the workspace and its mirror move together; nothing points at the old place
    res = CliRunner().invoke(main, ["-v", "-C", str(moved), "pull", "hybrid_ALAL_64d_4e_4p", "--no-convert", "--json"])
    assert res.exit_code == 0, res.output
    assert f"hybrid_ALAL_64d_4e_4p: trying file:mirror/{art}" in res.stderr  # -v: the zoo's log lines
    pulled = json.loads(res.stdout)["pulled"][0]
    assert pulled["served_by"] == f"file:mirror/{art}" and pulled["cached"] is False  # a fresh cache (per test)
    ckpt = moved / "variants" / "hybrid_ALAL_64d_4e_4p" / pulled["file"]
    assert hashlib.sha256(ckpt.read_bytes()).hexdigest() == pulled["sha256"]


# --------------------------------------------------------------------------- cache and doctor


def _cache_blob(data: bytes) -> str:
    from zoo.store.cache import Store

    store = Store()
    sha = hashlib.sha256(data).hexdigest()
    part = store.partial_path("k" + sha[:8])
    part.write_bytes(data)
    store.ingest(part, sha)
    return sha


def test_cache_prune_keeps_what_the_registry_references(tmp_path: Path) -> None:
    kept = _cache_blob(b"referenced checkpoint")
    dropped = _cache_blob(b"old checkpoint nobody references")
    write_pull_workspace(tmp_path, [source_yaml("file:///nonexistent/tiny", file="tiny.ckpt", sha256=kept)])
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "ls", "--json"])
    assert res.exit_code == 0, res.output
    listed = {e["sha256"]: e for e in json.loads(res.stdout)["entries"]}
    assert listed[kept]["referenced_by"] == ["tiny"] and listed[dropped]["referenced_by"] == []
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "prune", "--dry-run", "--json"])
    assert [e["sha256"] for e in json.loads(res.stdout)["removed"]] == [dropped]
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "prune", "--older-than", "30d"])
    assert res.exit_code == 0 and "removed 0 file(s)" in res.output  # both are new
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "prune"])
    assert res.exit_code == 0, res.output
    from zoo.store.cache import Store

    assert Store().has(kept) and not Store().has(dropped)
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "verify", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["checked"] == 1
    res = runner.invoke(main, ["-C", str(tmp_path), "cache", "prune", "--older-than", "soon"])
    assert res.exit_code == 2 and "not a duration" in res.output


def test_cache_verify_finds_a_corrupt_blob(tmp_path: Path) -> None:
    from zoo.store.cache import Store

    sha = _cache_blob(b"some bytes")
    blob = Store().blob_path(sha)
    blob.chmod(0o644)
    blob.write_bytes(b"other bytes")
    res = CliRunner().invoke(main, ["cache", "verify"])
    assert res.exit_code == 1 and "corrupt" in res.output


def test_doctor_lists_every_tool_the_targets_use_and_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.targets import discover_targets

    secret = "hf_doctor_secret_value_123"
    monkeypatch.setenv("HF_TOKEN", secret)
    res = CliRunner().invoke(main, ["-C", str(REPO), "doctor", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    tools = {t["name"]: t for t in doc["tools"]}
    declared = {tool for info in discover_targets().values() for tool in info.describe().get("tools", [])}
    assert declared and declared <= set(tools)
    assert {"gcc", "riscv64-unknown-elf-gcc", "qemu-riscv32", "iverilog", "yosys", "chromium"} <= set(tools)
    assert "target esp32" in tools["qemu-riscv32"]["used_by"]
    creds = {c["name"]: c for c in doc["credentials"]}
    assert creds["HF_TOKEN"]["found"] and creds["HF_TOKEN"]["from"] == "environment HF_TOKEN"
    assert not creds["WANDB_API_KEY"]["found"]
    assert doc["cache"]["root"] == os.environ["ZOO_CACHE"] and doc["workspace"]["found"]
    human = CliRunner().invoke(main, ["-C", str(REPO), "doctor"])
    assert human.exit_code == 0 and "qemu-riscv32" in human.stdout
    assert secret not in res.output and secret not in human.output


# --------------------------------------------------------------------------- options, help, completion


def _all_commands() -> list[tuple[str, click.Command]]:
    import importlib

    from zoo.cli._app import LAZY_COMMANDS

    for module in set(LAZY_COMMANDS.values()):
        importlib.import_module(f"zoo.cli.{module}")
    out: list[tuple[str, click.Command]] = [("zoo", main)]
    stack: list[tuple[str, click.Command]] = [("zoo", main)]
    while stack:
        path, cmd = stack.pop()
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                out.append((f"{path} {name}", sub))
                stack.append((f"{path} {name}", sub))
    return out


def test_every_option_has_help_and_o_means_output() -> None:
    missing = []
    for path, cmd in _all_commands():
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden:
                if not (param.help or "").strip():
                    missing.append(f"{path} {param.opts}")
                if "-o" in param.opts:
                    assert "--output" in param.opts, f"{path}: -o must mean --output"
    assert not missing, missing


def test_help_shows_whole_summaries() -> None:
    res = CliRunner().invoke(main, ["--help"])
    text = " ".join(res.stdout.split())
    assert "Fetch NAME... (or --all) from their sources, check every digest, convert to safetensors." in text
    for cmd in ("cache", "doctor", "completion", "show", "list"):
        assert f" {cmd} " in text
    assert "-q, --quiet" in res.stdout and "-v, --verbose" in res.stdout


def test_build_takes_set_and_warns_on_the_old_spelling(tmp_path: Path) -> None:
    shutil.copy(REPO / "registry.yaml", tmp_path / "registry.yaml")
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(tmp_path), "build", "slim_96d_4e_4p_full", "--target", "esp33"])
    assert res.exit_code == 2 and "Did you mean 'esp32'?" in res.output
    res = runner.invoke(main, ["-C", str(tmp_path), "build", "slim_96d_4e_4p_full", "--target", "esp32",
                               "--set", "encoder=maybe", "--no-build"])
    assert res.exit_code == 2 and "missing variants/slim_96d_4e_4p_full/model.lq40 (--no-build)" in res.output
    res = runner.invoke(main, ["-C", str(tmp_path), "build", "slim_96d_4e_4p_full", "--target", "esp32",
                               "-o", "encoder=off", "--no-build"])
    assert res.exit_code == 2 and "deprecated" in res.stderr and "--set KEY=VALUE" in res.stderr


def test_quiet_silences_notes_but_not_results_or_errors(tmp_path: Path) -> None:
    shutil.copy(REPO / "registry.yaml", tmp_path / "registry.yaml")
    res = CliRunner().invoke(main, ["-q", "-C", str(tmp_path), "list"])
    assert res.exit_code == 0 and res.stderr == "" and "slim_96d_4e_4p" in res.stdout
    res = CliRunner().invoke(main, ["-q", "-C", str(tmp_path), "show", "nope"])
    assert res.exit_code == 2 and "unknown variant" in res.stderr
    res = CliRunner().invoke(main, ["-q", "-v", "list"])
    assert res.exit_code == 2


def test_completion_scripts_and_variant_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.shell_completion import BashComplete

    for shell in ("bash", "zsh", "fish"):
        res = CliRunner().invoke(main, ["completion", shell])
        assert res.exit_code == 0 and "_ZOO_COMPLETE" in res.stdout, shell
    comp = BashComplete(main, {}, "zoo", "_ZOO_COMPLETE")
    names = [c.value for c in comp.get_completions(["-C", str(REPO), "show"], "slim_96d_4")]
    assert names == ["slim_96d_4e_4p", "slim_96d_4e_4p_full"]
    assert "verify" in [c.value for c in comp.get_completions([], "ver")]
    assert "--no-build" in [c.value for c in comp.get_completions(["verify"], "--no")]
    monkeypatch.chdir(REPO / "zoo")  # the workspace is found upwards, as for every command
    assert "baseline_full" in [c.value for c in comp.get_completions(["pull"], "baseline_f")]
    assert [c.value for c in comp.get_completions(["build", "x", "--target"], "fp")] == ["fpga"]


def test_scan_variant_names_matches_the_loader() -> None:
    from zoo.cli._app import _scan_variant_names
    from zoo.registry import load_registry

    text = (REPO / "registry.yaml").read_text(encoding="utf-8")
    assert _scan_variant_names(text) == list(load_registry(REPO / "registry.yaml").variants)


# --------------------------------------------------------------------------- caches that keep `zoo list` fast


def test_registry_cache_is_used_only_while_the_file_is_unchanged(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.errors import RegistryError
    from zoo.registry import load_registry, loader

    monkeypatch.setattr(loader, "_RACY_S", -1.0)  # the file was just written: allow caching it at once
    path = tmp_path / "registry.yaml"
    shutil.copy(REPO / "registry.yaml", path)
    first = load_registry(path, cache_dir=tmp_path / "c")
    assert len(list((tmp_path / "c").glob("*.json"))) == 1
    monkeypatch.setattr(loader, "_check", lambda p: pytest.fail("cache hit expected"))
    again = load_registry(path, cache_dir=tmp_path / "c")
    assert again == first and list(again.variants) == list(first.variants)  # same records, same order
    monkeypatch.undo()
    text = path.read_text()
    path.write_text(text.replace("LeWM Model Collection", "LeWM Model Collection 2", 1))
    assert load_registry(path, cache_dir=tmp_path / "c").collection.name == "LeWM Model Collection 2"
    path.write_text(text.replace("family: slim", "family: slimm", 1))  # checked again, not read from the cache
    with pytest.raises(RegistryError):
        load_registry(path, cache_dir=tmp_path / "c")


def test_digest_cache_rehashes_a_changed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo.store import digests

    monkeypatch.setattr(digests, "RACY_S", -1.0)
    f = tmp_path / "a.bin"
    f.write_bytes(b"one")
    cache = digests.DigestCache(tmp_path / "d.json")
    assert cache.sha256(f) == hashlib.sha256(b"one").hexdigest()
    cache.save()
    again = digests.DigestCache(tmp_path / "d.json")
    monkeypatch.setattr(digests, "sha256_file", lambda p: pytest.fail("cached digest expected"))
    assert again.sha256(f) == hashlib.sha256(b"one").hexdigest()
    monkeypatch.undo()
    f.write_bytes(b"two")
    assert again.sha256(f) == hashlib.sha256(b"two").hexdigest()


# --------------------------------------------------------------------------- prerequisites


@pytest.mark.slow
def test_bench_builds_missing_prerequisites_unless_no_build(demo_copy) -> None:  # type: ignore[no-untyped-def]
    ws = demo_copy("slim_96d_4e_4p", "slim_96d_4e_4p_full")
    lq40 = ws / "variants" / "slim_96d_4e_4p_full" / "model.lq40"
    lq40.unlink()
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(ws), "bench", "slim_96d_4e_4p_full", "--no-build"])
    assert res.exit_code == 2 and "missing variants/slim_96d_4e_4p_full/model.lq40 (--no-build)" in res.output
    assert "zoo quantize slim_96d_4e_4p_full" in res.output
    res = runner.invoke(main, ["-C", str(ws), "bench", "slim_96d_4e_4p_full", "--repeats", "1", "--warmup", "0",
                               "--json"])
    assert res.exit_code == 0, res.output
    assert lq40.is_file() and "building missing prerequisites" in res.stderr
    assert json.loads(res.stdout)["variant"] == "slim_96d_4e_4p_full"
