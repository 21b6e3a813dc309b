"""esp32 target: layout walker, generated C (host + rv32 under qemu) vs the numpy engine, memory limits."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from model_weights import random_weights, tiny_config

from zoo.errors import InputError, LQ40Error, UsageError
from zoo.formats.lq40 import encode_lq40, lq40_to_weights
from zoo.registry import Architecture, Claims, FormatSpec, VariantRecord, VerificationPolicy, Workspace
from zoo.targets import build_target
from zoo.targets.esp32 import codegen
from zoo.targets.esp32.layout import read_layout

HAVE_RISCV = all(shutil.which(t) for t in ("riscv64-unknown-elf-gcc", "qemu-riscv32"))
HAVE_GCC = shutil.which("gcc") is not None


def _record(name: str, kind: str, mode: str) -> VariantRecord:
    cfg = tiny_config(kind)
    arch = Architecture(
        encoder_kind=cfg.encoder_type, latent_dim=cfg.latent_dim, encoder_layers=cfg.encoder_layers,
        predictor_layers=cfg.predictor_layers, encoder_hidden=cfg.encoder_hidden, encoder_heads=cfg.encoder_heads,
        encoder_inter=cfg.encoder_inter, predictor_hidden=cfg.predictor_hidden, predictor_heads=cfg.predictor_heads,
        predictor_inner_dim=cfg.predictor_inner_dim, predictor_inter=cfg.predictor_inter, meta_tokens=cfg.meta_tokens,
        block_pattern=cfg.block_pattern or None, projector_hidden=cfg.projector_hidden,
    )  # fmt: skip
    return VariantRecord(
        name=name, family="slim", description="tiny", architecture=arch,
        format=FormatSpec(kind="lq40", mode=mode), verification=VerificationPolicy(), claims=Claims(),
    )  # fmt: skip


def _workspace(tmp_path: Path, kind: str, mode: str) -> tuple[Workspace, VariantRecord]:
    ws = Workspace(tmp_path)
    rec = _record(f"tiny_{kind}_{mode}", kind, mode)
    vdir = ws.variant_dir(rec.name)
    vdir.mkdir(parents=True)
    (vdir / "model.lq40").write_bytes(
        encode_lq40(tiny_config(kind), random_weights(tiny_config(kind), seed=3), mode)
    )
    return ws, rec


@pytest.mark.parametrize("kind,mode", [("vit", "q4-pred"), ("slim", "full"), ("hybrid", "full")])
def test_blob_weights_match_lq40_reader(tmp_path: Path, kind: str, mode: str) -> None:
    """Our offset walker dequantizes to the same tensors as zoo.formats.lq40 (cross-check of the offsets)."""
    ws, rec = _workspace(tmp_path, kind, mode)
    path = ws.variant_dir(rec.name) / "model.lq40"
    lay = read_layout(path)
    ours = codegen.blob_weights(lay, path.read_bytes())
    _, theirs = lq40_to_weights(path)
    for name, arr in ours.items():
        if ".net.1." in name:
            continue  # identity BN (folded); representations may differ
        np.testing.assert_array_equal(
            arr.reshape(-1), np.asarray(theirs[name], np.float32).reshape(-1), err_msg=name
        )


def test_layout_errors_name_the_byte_offset(tmp_path: Path) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    path = ws.variant_dir(rec.name) / "model.lq40"
    data = path.read_bytes()
    bad = tmp_path / "bad.lq40"
    bad.write_bytes(b"LQ41" + data[4:])
    with pytest.raises(LQ40Error, match=r"byte 0: magic"):
        read_layout(bad)
    bad.write_bytes(data[:-5])
    with pytest.raises(LQ40Error, match=r"byte \d+: .*needs"):
        read_layout(bad)
    bad.write_bytes(data + b"\0\0\0\0\0")
    with pytest.raises(LQ40Error, match="unexpected bytes"):
        read_layout(bad)


def test_build_writes_artifacts_and_records_them(tmp_path: Path) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    res = build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]
    paths = {a["path"] for a in res.artifacts}
    for f in (
        "model.bin",
        "lewm_model.h",
        "lewm_golden.h",
        "lewm_ref.c",
        "lewm_ref.h",
        "lewm_main.c",
        "memory.json",
    ):
        assert f"targets/esp32/{f}" in paths
    out = ws.variant_dir(rec.name) / "targets" / "esp32"
    assert (out / "model.bin").read_bytes() == (ws.variant_dir(rec.name) / "model.lq40").read_bytes()
    header = (out / "lewm_model.h").read_text()
    assert "#define LEWM_D 32" in header and "LEWM_PRED_LAYERS_INIT" in header
    mem = json.loads((out / "memory.json").read_text())
    assert mem["flash_bytes"] == (out / "model.bin").stat().st_size and mem["fits"]
    manifest = json.loads((ws.variant_dir(rec.name) / "manifest.json").read_text())
    assert manifest["targets"]["esp32"]["artifacts"]["targets/esp32/model.bin"]["size"] == mem["flash_bytes"]
    # deterministic: a second build gives byte-identical files
    digests = {a["path"]: a["sha256"] for a in res.artifacts}
    res2 = build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]
    assert {a["path"]: a["sha256"] for a in res2.artifacts} == digests


def test_variant_that_does_not_fit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    monkeypatch.setattr(codegen, "FLASH_PARTITION_BYTES", 1000)
    with pytest.raises(
        InputError, match=r"does not fit the ESP32-P4: blob [\d,]+ B > flash partition 1,000 B"
    ):
        build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]


def test_missing_lq40_is_a_clear_error(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rec = _record("nothing", "vit", "full")
    with pytest.raises(InputError, match=r"model\.lq40: file not found"):
        build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_GCC, reason="needs host gcc")
def test_host_compile_and_golden_match(tmp_path: Path) -> None:
    ws, rec = _workspace(tmp_path, "slim", "q4-pred")
    build_target(ws, None, rec, "esp32", {"encoder": "off"})  # type: ignore[arg-type]
    out = ws.variant_dir(rec.name) / "targets" / "esp32"
    subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "lewm_ref.c", "lewm_main.c", "model_blob.S",
         "-o", str(tmp_path / "host")],
        cwd=out, check=True, capture_output=True,
    )  # fmt: skip
    from zoo.targets.esp32.target import parse_outputs

    proc = subprocess.run([str(tmp_path / "host")], capture_output=True, check=False)
    assert proc.returncode == 0
    got = parse_outputs(proc.stdout, "host")
    assert set(got) == {"gemv", "predict@T1", "predict@Thist", "rollout"}


@pytest.mark.riscv
@pytest.mark.slow
@pytest.mark.skipif(not (HAVE_RISCV and HAVE_GCC), reason="needs riscv64-unknown-elf-gcc and qemu-riscv32")
@pytest.mark.parametrize("kind,mode", [("vit", "q4-pred"), ("hybrid", "full")])
def test_check_runs_rv32_under_qemu(tmp_path: Path, kind: str, mode: str) -> None:
    ws, rec = _workspace(tmp_path, kind, mode)
    res = build_target(ws, None, rec, "esp32", check=True)  # type: ignore[arg-type]
    report = res.check
    assert report is not None
    assert report["passed"], report["summary"]
    metrics = report["rv32-qemu"]["metrics"]
    assert set(metrics) == {"gemv", "predict@T1", "predict@Thist", "rollout", "encode"}
    assert all(m["cosine"] >= 0.9999 for m in metrics.values())
    assert report["rv32-qemu"]["exit_code"] == 0
    manifest = json.loads((ws.variant_dir(rec.name) / "manifest.json").read_text())
    assert manifest["targets"]["esp32"]["check"]["passed"] is True


def test_deterministic_vec_matches_spec_formula() -> None:
    v = codegen.deterministic_vec(4, 11)
    expected = []
    for i in range(4):
        mixed = (11 * 1664525 + i * 1013904223) % (1 << 32)
        expected.append(((mixed % 2001) - 1000) / 1000)
    np.testing.assert_allclose(v, np.asarray(expected, np.float32))


def test_limits_are_the_spec_numbers() -> None:
    """Spec §5.1: factory partition 0xFF0000 bytes, 32 MB PSRAM."""
    assert codegen.FLASH_PARTITION_BYTES == 0xFF0000 == 16_711_680
    assert codegen.PSRAM_BYTES == 32 * 2**20


def test_psram_overflow_is_refused_with_the_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    monkeypatch.setattr(codegen, "PSRAM_BYTES", 4096)
    with pytest.raises(InputError, match=r"does not fit the ESP32-P4: RAM [\d,]+ B > PSRAM 4,096 B"):
        build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]
    assert not (ws.variant_dir(rec.name) / "targets" / "esp32").exists()


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    with pytest.raises(UsageError, match="esp32 option 'encodr': unknown"):
        build_target(ws, None, rec, "esp32", {"encodr": "off"})  # type: ignore[arg-type]


def _with_header(data: bytes, edit: dict[str, object]) -> bytes:
    jlen = int.from_bytes(data[4:8], "little")
    cfg = json.loads(data[8 : 8 + jlen])
    cfg.update(edit)
    text = json.dumps(cfg).encode()
    return data[:4] + len(text).to_bytes(4, "little") + text + data[8 + jlen :]


@pytest.mark.parametrize(
    "edit,field",
    [({"latent_dim": 0}, "json.latent_dim"), ({"action_dim": "4"}, "json.action_dim"),
     ({"predictor_heads": 7}, "json.predictor_heads"), ({"meta_tokens": -1}, "json.meta_tokens")],
)  # fmt: skip
def test_bad_header_values_are_located_errors(tmp_path: Path, edit: dict[str, object], field: str) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    bad = tmp_path / "bad.lq40"
    bad.write_bytes(_with_header((ws.variant_dir(rec.name) / "model.lq40").read_bytes(), edit))
    with pytest.raises(LQ40Error, match=rf"bad\.lq40: byte 8: {field}"):
        read_layout(bad)


def test_check_without_tools_names_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UsageError, match="esp32 check needs gcc, riscv64-unknown-elf-gcc, qemu-riscv32 on PATH"):
        build_target(ws, None, rec, "esp32", check=True)  # type: ignore[arg-type]


@pytest.mark.skipif(not HAVE_GCC, reason="needs host gcc")
def test_c_reads_weights_from_the_blob_at_the_header_offsets(tmp_path: Path) -> None:
    """Doubling one Q4 block scale inside model.bin (at the offset lewm_model.h names) changes the C
    output for exactly that row: the reference points into the blob, it has no copy of the weights."""
    from zoo.targets.esp32.target import parse_outputs

    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    build_target(ws, None, rec, "esp32", {"encoder": "off"})  # type: ignore[arg-type]
    out = ws.variant_dir(rec.name) / "targets" / "esp32"
    q = read_layout(out / "model.bin").tensors["pred.0.adaln"]
    assert f"{q.blocks}u" in (out / "lewm_golden.h").read_text()  # type: ignore[union-attr]

    def run() -> dict[str, np.ndarray]:
        subprocess.run(
            ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "lewm_ref.c", "lewm_main.c",
             "model_blob.S", "-o", str(tmp_path / "host")],
            cwd=out, check=True, capture_output=True,
        )  # fmt: skip
        proc = subprocess.run([str(tmp_path / "host")], capture_output=True, check=False)
        return parse_outputs(proc.stdout, "host")

    base = run()["gemv"]
    blob = bytearray((out / "model.bin").read_bytes())
    off = q.blocks  # type: ignore[union-attr]
    scale = np.frombuffer(bytes(blob[off : off + 4]), "<f4")[0]
    blob[off : off + 4] = np.float32(2 * scale).tobytes()
    (out / "model.bin").write_bytes(bytes(blob))
    changed = run()["gemv"]
    first_block_row = 0  # block 0 of the bitmap belongs to row 0 (the row-major first stored block)
    diff = np.flatnonzero(~np.isclose(changed, base))
    assert diff.tolist() == [first_block_row]


def test_flash_mb_option_selects_the_module_partition(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """flash_mb=32 (32 MB-flash ESP32-P4 modules): app partition 32 MiB - 64 KiB; from --option or the registry."""
    import dataclasses

    assert codegen.flash_partition_bytes(16) == 0xFF0000
    assert codegen.flash_partition_bytes(32) == 0x1FF0000 == 33_488_896
    ws, rec = _workspace(tmp_path, "vit", "q4-pred")
    size = (ws.variant_dir(rec.name) / "model.lq40").stat().st_size
    monkeypatch.setattr(codegen, "FLASH_PARTITION_BYTES", size - 1)  # a "16 MB" module too small for the blob
    with pytest.raises(InputError, match=r"16 MB module\).*--option flash_mb=32"):
        build_target(ws, None, rec, "esp32")  # type: ignore[arg-type]
    build_target(ws, None, rec, "esp32", {"flash_mb": "32"})  # type: ignore[arg-type]
    mem = json.loads((ws.variant_dir(rec.name) / "targets" / "esp32" / "memory.json").read_text())
    assert mem["flash_mb"] == 32 and mem["flash_limit_bytes"] == 0x1FF0000 and mem["fits"]
    declared = dataclasses.replace(rec, targets=("esp32",), target_options={"esp32": {"flash_mb": 32}})
    build_target(ws, None, declared, "esp32")  # type: ignore[arg-type]
    mem = json.loads((ws.variant_dir(rec.name) / "targets" / "esp32" / "memory.json").read_text())
    assert mem["flash_limit_bytes"] == 0x1FF0000
    with pytest.raises(UsageError, match="flash_mb=8: expected one of 16, 32"):
        build_target(ws, None, rec, "esp32", {"flash_mb": "8"})  # type: ignore[arg-type]
