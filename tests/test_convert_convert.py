"""Conversion: canonical names, hybrid remap + BN fold, config detection, registry cross-check, workspace, CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors.numpy import load_file, safe_open

from zoo.cli import main
from zoo.convert import CONFIG_FILE, SAFETENSORS_FILE, convert_checkpoint, convert_variant, read_checkpoint
from zoo.convert.convert import expected_shapes
from zoo.convert.synthetic import (
    synthetic_state_dict,
    write_lightning_checkpoint,
    write_object_checkpoint,
    write_state_dict,
)
from zoo.errors import CheckpointError, UsageError
from zoo.formats.lewm_config import LeWMConfig
from zoo.registry import (
    Architecture,
    Claims,
    FormatSpec,
    Provenance,
    SourceSpec,
    VariantRecord,
    VerificationPolicy,
    Workspace,
    architecture_to_config,
)

FIX = Path(__file__).parent / "fixtures" / "convert"
REPO = Path(__file__).parent.parent

TINY_VIT_ARCH = Architecture(encoder_kind="vit", latent_dim=6, encoder_layers=2, predictor_layers=2, encoder_hidden=8,
                             encoder_heads=2, encoder_inter=32, predictor_hidden=8, predictor_heads=2,
                             predictor_inner_dim=8, predictor_inter=16, projector_hidden=16, action_input_dim=4)
TINY_HYBRID_ARCH = dataclasses.replace(TINY_VIT_ARCH, encoder_kind="hybrid", latent_dim=8, encoder_layers=4,
                                       encoder_heads=4, meta_tokens=4, block_pattern="ALAL")


def _convert(src: Path, out: Path, arch: Architecture | None = None) -> tuple[Any, dict[str, np.ndarray]]:
    res = convert_checkpoint(src, out, expected=architecture_to_config(arch) if arch else None)
    return res, load_file(str(res.safetensors_path))


def test_object_and_state_dict_convert_identically(tmp_path: Path) -> None:
    r1, t1 = _convert(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path / "a", TINY_VIT_ARCH)
    r2, t2 = _convert(FIX / "tiny_vit_weights.pt", tmp_path / "b", TINY_VIT_ARCH)
    assert r1.source_kind == "object" and r2.source_kind == "state_dict"
    assert t1.keys() == t2.keys()
    for k in t1:
        assert t1[k].dtype == np.float32 and np.array_equal(t1[k], t2[k]), k
    assert r1.config == r2.config and r1.warnings == r2.warnings and len(r1.warnings) == 2  # both heads resolved
    raw = read_checkpoint(FIX / "tiny_vit_weights.pt").tensors
    for k, v in t1.items():
        assert np.array_equal(v, raw[k]), k  # ViT 4.x names pass through unchanged


def test_canonical_names_bn_kept_counters_dropped(tmp_path: Path) -> None:
    res, t = _convert(FIX / "tiny_vit_weights.ckpt", tmp_path, TINY_VIT_ARCH)
    assert res.source_kind == "lightning"
    shapes, optional = expected_shapes(res.config)
    assert set(t) == set(shapes) - optional
    assert all(list(t[k].shape) == list(shapes[k]) for k in t)
    for head in ("projector", "pred_proj"):
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            assert f"{head}.net.1.{leaf}" in t  # DESIGN decision 1: BN kept, not folded
    assert not any("num_batches_tracked" in k or k.startswith("sigreg") for k in t)
    assert {"sigreg.t", "sigreg.phi", "sigreg.weights"} <= set(res.dropped)
    raw = read_checkpoint(FIX / "tiny_vit_weights.ckpt").tensors
    assert np.array_equal(t["predictor.pos_embedding"], raw["predictor.pos_embedding"])


def test_config_fields_from_shapes(tmp_path: Path) -> None:
    res, _ = _convert(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path, TINY_VIT_ARCH)
    c = res.config
    assert (c.encoder_type, c.encoder_hidden, c.encoder_layers, c.encoder_inter) == ("vit", 8, 2, 32)
    assert (c.latent_dim, c.predictor_hidden, c.predictor_layers, c.predictor_inner_dim, c.predictor_inter) == (6, 8, 2, 8, 16)
    assert (c.action_dim, c.action_input_dim, c.projector_hidden, c.history_size) == (10, 4, 16, 3)
    assert c.has_input_proj and c.has_cond_proj and c.meta_tokens == 0 and c.block_pattern == ""
    assert LeWMConfig.from_file(res.config_path) == c


def test_hybrid_remap_split_and_bn_fold(tmp_path: Path) -> None:
    res, t = _convert(FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt", tmp_path, TINY_HYBRID_ARCH)
    raw = read_checkpoint(FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt").tensors
    c = res.config
    assert c.encoder_type == "hybrid" and c.block_pattern == "ALAL" and c.meta_tokens == 4
    assert c.encoder_heads == 4  # from the registry record; shapes alone would say 1
    assert any("encoder_heads" in w and "registry" in w for w in res.warnings)
    h = 8
    fused = raw["encoder.blocks.0.attn.in_proj_weight"]
    for i, part in enumerate(("query", "key", "value")):
        assert np.array_equal(t[f"encoder.encoder.layer.0.attention.attention.{part}.weight"], fused[i * h:(i + 1) * h])
        assert np.array_equal(t[f"encoder.encoder.layer.0.attention.attention.{part}.bias"],
                              raw["encoder.blocks.0.attn.in_proj_bias"][i * h:(i + 1) * h])
        assert f"encoder.encoder.layer.1.attention.attention.{part}.bias" not in t  # L block
    assert np.array_equal(t["encoder.encoder.layer.1.attention.attention.key.weight"], raw["encoder.blocks.1.attn.k_proj.weight"])
    assert np.array_equal(t["encoder.encoder.layer.3.intermediate.dense.weight"], raw["encoder.blocks.3.mlp.0.weight"])
    assert t["encoder.embeddings.position_embeddings"].shape == (1, 261, 8)
    assert np.array_equal(t["encoder.meta_token"], raw["encoder.meta_token"])
    # BN fold (spec §2.4)
    w, b = raw["encoder.proj.0.weight"].astype(np.float64), raw["encoder.proj.0.bias"].astype(np.float64)
    g, beta = raw["encoder.proj.1.weight"].astype(np.float64), raw["encoder.proj.1.bias"].astype(np.float64)
    mean, var = raw["encoder.proj.1.running_mean"].astype(np.float64), raw["encoder.proj.1.running_var"].astype(np.float64)
    s = g / np.sqrt(var + 1e-5)
    np.testing.assert_allclose(t["encoder.proj.0.weight"], w * s[:, None], rtol=1e-6)
    np.testing.assert_allclose(t["encoder.proj.0.bias"], s * (b - mean) + beta, rtol=1e-6, atol=1e-7)
    assert not any(k.startswith("encoder.proj.1") for k in t)
    assert "projector.net.1.running_var" in t


def test_transformers_4_and_5_names_convert_to_same_bytes(tmp_path: Path) -> None:
    sd4 = synthetic_state_dict(TINY_VIT_ARCH, seed=3, naming="hf4")
    sd5 = synthetic_state_dict(TINY_VIT_ARCH, seed=3, naming="hf5")
    assert any(".attention.q_proj." in k for k in sd5) and any(".mlp.fc1." in k for k in sd5)
    write_state_dict(tmp_path / "w4.pt", sd4)
    write_state_dict(tmp_path / "w5.pt", sd5)
    _r4, t4 = _convert(tmp_path / "w4.pt", tmp_path / "o4", TINY_VIT_ARCH)
    _r5, t5 = _convert(tmp_path / "w5.pt", tmp_path / "o5", TINY_VIT_ARCH)
    assert t4.keys() == t5.keys()
    assert all(np.array_equal(t4[k], t5[k]) for k in t4)
    # identical tensor payloads; only the source digest in the metadata differs
    assert (tmp_path / "o4" / SAFETENSORS_FILE).stat().st_size == (tmp_path / "o5" / SAFETENSORS_FILE).stat().st_size


def test_deterministic_and_metadata(tmp_path: Path) -> None:
    src = FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt"
    r1 = convert_checkpoint(src, tmp_path / "x", expected=architecture_to_config(TINY_HYBRID_ARCH))
    r2 = convert_checkpoint(src, tmp_path / "y", expected=architecture_to_config(TINY_HYBRID_ARCH))
    assert r1.safetensors_sha256 == r2.safetensors_sha256 and r1.config_sha256 == r2.config_sha256
    assert (tmp_path / "x" / SAFETENSORS_FILE).read_bytes() == (tmp_path / "y" / SAFETENSORS_FILE).read_bytes()
    with safe_open(str(r1.safetensors_path), framework="np") as f:
        meta = f.metadata()
        keys = list(f.keys())
    assert meta["source_sha256"] == r1.source_sha256 and meta["source_format"] == "object"
    assert meta["converter_version"].startswith("lewm-zoo ")
    assert keys == sorted(keys)
    assert not list(tmp_path.glob("*/.*.part"))  # no temp files left


def test_bf16_and_f16_sources_widen_exactly(tmp_path: Path) -> None:
    import ml_dtypes

    sd = synthetic_state_dict(TINY_VIT_ARCH, seed=5)
    mixed = {k: (v.astype(ml_dtypes.bfloat16) if i % 2 else v.astype(np.float16)) if v.dtype == np.float32 else v
             for i, (k, v) in enumerate(sd.items())}
    write_state_dict(tmp_path / "m.pt", mixed)
    _, t = _convert(tmp_path / "m.pt", tmp_path / "o", TINY_VIT_ARCH)
    for k, v in t.items():
        assert v.dtype == np.float32 and np.array_equal(v, mixed[k].astype(np.float32)), k


def test_registry_shape_disagreement_is_an_error(tmp_path: Path) -> None:
    wrong = dataclasses.replace(TINY_VIT_ARCH, latent_dim=12)
    with pytest.raises(CheckpointError, match=r"latent_dim=6 \(registry says 12\)"):
        _convert(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path, wrong)
    assert not (tmp_path / SAFETENSORS_FILE).exists()
    pattern = dataclasses.replace(TINY_HYBRID_ARCH, block_pattern="AALL")
    with pytest.raises(CheckpointError, match="block_pattern"):
        _convert(FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt", tmp_path, pattern)


def test_without_registry_heads_are_reported_not_silent(tmp_path: Path) -> None:
    res, _ = _convert(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path)
    assert any(w.startswith("encoder_heads: shapes cannot tell") for w in res.warnings)
    assert any(w.startswith("predictor_heads: shapes cannot tell") for w in res.warnings)


def test_missing_and_misshapen_tensors(tmp_path: Path) -> None:
    sd = synthetic_state_dict(TINY_VIT_ARCH, seed=1)
    del sd["predictor.transformer.layers.1.attn.to_qkv.weight"]
    write_state_dict(tmp_path / "a.pt", sd)
    with pytest.raises(CheckpointError, match=r"'predictor\.transformer\.layers\.1\.attn\.to_qkv\.weight' is missing"):
        convert_checkpoint(tmp_path / "a.pt", tmp_path / "oa")
    sd = synthetic_state_dict(TINY_VIT_ARCH, seed=1)
    sd["encoder.encoder.layer.1.output.dense.weight"] = np.zeros((8, 31), np.float32)
    write_state_dict(tmp_path / "b.pt", sd)
    with pytest.raises(CheckpointError, match=r"layer\.1\.output\.dense\.weight' has shape \[8, 31\], expected \[8, 32\]"):
        convert_checkpoint(tmp_path / "b.pt", tmp_path / "ob")


def test_unknown_tensors_are_reported(tmp_path: Path) -> None:
    sd = synthetic_state_dict(TINY_VIT_ARCH, seed=1)
    sd["mystery.weight"] = np.zeros(3, np.float32)
    write_state_dict(tmp_path / "u.pt", sd)
    res = convert_checkpoint(tmp_path / "u.pt", tmp_path / "o")
    assert res.unknown == ["mystery.weight"]
    assert any("mystery.weight" in w for w in res.warnings)


# -- workspace flow ------------------------------------------------------------------------------
def _record(name: str, arch: Architecture, file: str, kind: str = "safetensors-f32") -> VariantRecord:
    return VariantRecord(
        name=name, family="slim", description="tiny", architecture=arch, format=FormatSpec(kind=kind),
        verification=VerificationPolicy(), claims=Claims(),
        provenance=Provenance(sources=(SourceSpec(uri=f"file:///{file}", file=file),), checkpoint_kind="object"),
    )


def test_convert_variant_writes_and_records(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rec = _record("tiny", TINY_VIT_ARCH, "tiny_vit_epoch_1_object.ckpt")
    src = ws.variant_dir("tiny") / "source"
    src.mkdir(parents=True)
    shutil.copy(FIX / "tiny_vit_epoch_1_object.ckpt", src)
    shutil.copy(FIX / "tiny_vit_weights.pt", src)  # a second file: the record's `file` decides
    res = convert_variant(ws, None, rec)
    assert not res.up_to_date and res.config.encoder_heads == 2
    manifest = json.loads((ws.variant_dir("tiny") / "manifest.json").read_text())
    arts = manifest["artifacts"]
    assert arts[SAFETENSORS_FILE]["kind"] == "safetensors" and arts[CONFIG_FILE]["kind"] == "config"
    assert arts[SAFETENSORS_FILE]["inputs"] == {"source/tiny_vit_epoch_1_object.ckpt": res.source_sha256}
    assert arts[SAFETENSORS_FILE]["sha256"] == res.safetensors_sha256
    again = convert_variant(ws, None, rec)
    assert again.up_to_date and again.safetensors_sha256 == res.safetensors_sha256
    (ws.variant_dir("tiny") / CONFIG_FILE).write_text("{}")  # changed outside the zoo: reconverted
    third = convert_variant(ws, None, rec)
    assert not third.up_to_date and third.config_sha256 == res.config_sha256


def test_source_digest_checked_in_the_same_pass(tmp_path: Path) -> None:
    """A pulled checkpoint that changed since `zoo pull` is refused, and nothing is written."""
    from zoo._io import sha256_file
    from zoo.store.manifest import update_manifest

    src = FIX / "tiny_vit_epoch_1_object.ckpt"
    good = sha256_file(src)
    out = tmp_path / "out"
    with pytest.raises(CheckpointError, match="differs from the expected"):
        convert_checkpoint(src, out, verify_source_sha256="0" * 64)
    assert not out.exists() or not any(out.iterdir())  # no output, no temp file
    res = convert_checkpoint(src, out, verify_source_sha256=good)
    assert res.source_sha256 == good
    # variant mode: the manifest's digest of the pulled file is the expected one
    ws = Workspace(tmp_path / "ws")
    rec = _record("tiny", TINY_VIT_ARCH, "tiny_vit_epoch_1_object.ckpt")
    vdir = ws.variant_dir("tiny")
    (vdir / "source").mkdir(parents=True)
    shutil.copy(src, vdir / "source")
    with update_manifest(vdir) as m:
        m.record_artifact("source/tiny_vit_epoch_1_object.ckpt", kind="checkpoint")
    with (vdir / "source" / "tiny_vit_epoch_1_object.ckpt").open("r+b") as fh:  # changed after the pull
        fh.seek(-100, 2)
        fh.write(b"\0" * 10)
    with pytest.raises(CheckpointError, match="zoo pull tiny"):
        convert_variant(ws, None, rec)
    assert not (vdir / SAFETENSORS_FILE).exists() and not (vdir / CONFIG_FILE).exists()
    assert not list(vdir.glob(".*.part"))


def test_convert_variant_errors(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with pytest.raises(UsageError, match="zoo pull tiny"):
        (ws.variant_dir("tiny") / "source").mkdir(parents=True)
        convert_variant(ws, None, _record("tiny", TINY_VIT_ARCH, "nope.ckpt"))
    with pytest.raises(UsageError, match="convert applies to safetensors-f32"):
        convert_variant(ws, None, _record("tiny_q4", TINY_VIT_ARCH, "x.ckpt", kind="lq40"))


def test_real_registry_hybrid_lightning(tmp_path: Path) -> None:
    from zoo.registry import load_registry

    shutil.copy(REPO / "registry.yaml", tmp_path / "registry.yaml")
    reg = load_registry(tmp_path / "registry.yaml")
    rec = reg.get("hybrid_ALAL_64d_4e_4p")
    ws = Workspace(tmp_path)
    assert rec.provenance is not None and rec.provenance.sources[0].file
    src = ws.variant_dir(rec.name) / "source" / rec.provenance.sources[0].file
    write_lightning_checkpoint(src, synthetic_state_dict(rec.architecture, seed=11))
    res = convert_variant(ws, reg, rec)
    assert res.source_kind == "lightning"
    assert res.config == dataclasses.replace(architecture_to_config(rec.architecture), block_pattern="ALAL")
    assert any("encoder_heads" in w for w in res.warnings)


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_convert_path_and_inspect(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["convert", str(FIX / "tiny_vit_weights.ckpt"), "-o", str(tmp_path / "o"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["source_kind"] == "lightning" and doc["config"]["latent_dim"] == 6
    ins = runner.invoke(main, ["inspect", str(FIX / "tiny_hybrid_ALAL_epoch_1_object.ckpt"), "--json"])
    assert ins.exit_code == 0, ins.output
    info = json.loads(ins.stdout)
    assert info["kind"] == "object" and "jepa.JEPA" in info["stubbed_classes"]
    assert any(t["name"] == "encoder.blocks.0.attn.in_proj_weight" for t in info["tensors"])
    st = runner.invoke(main, ["inspect", str(tmp_path / "o" / SAFETENSORS_FILE), "--json"])
    assert st.exit_code == 0 and json.loads(st.stdout)["metadata"]["source_format"] == "lightning"
    human = runner.invoke(main, ["inspect", str(FIX / "dtypes.pt")])
    assert human.exit_code == 0 and "bf16" in human.output


@pytest.mark.parametrize(("args", "match"), [
    (["convert", str(FIX / "legacy_format.pt"), "-o", "OUT"], "unsupported checkpoint format"),
    (["convert", str(FIX / "tiny_vit_weights.pt")], "needs an output directory"),
    (["convert", "missing/file.ckpt", "-o", "OUT"], "file not found"),
    (["inspect", str(FIX / "legacy_format.pt")], "unsupported checkpoint format"),
])
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], match: str) -> None:
    args = [a.replace("OUT", str(tmp_path / "o")) for a in args]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0]
    assert not (tmp_path / "o" / SAFETENSORS_FILE).exists()


def test_synthetic_object_checkpoint_converts(tmp_path: Path) -> None:
    sd = synthetic_state_dict(TINY_HYBRID_ARCH, seed=2)
    write_object_checkpoint(tmp_path / "h_object.ckpt", sd)
    res, t = _convert(tmp_path / "h_object.ckpt", tmp_path / "o", TINY_HYBRID_ARCH)
    assert res.source_kind == "object" and res.config.block_pattern == "ALAL"
    assert np.array_equal(t["encoder.encoder.layer.2.attention.attention.value.weight"],
                          sd["encoder.blocks.2.attn.in_proj_weight"][16:24])


def test_cli_inspect_lq40_dispatches_by_magic(tmp_path: Path) -> None:
    lq40 = pytest.importorskip("zoo.formats.lq40")
    res, t = _convert(FIX / "tiny_vit_epoch_1_object.ckpt", tmp_path, TINY_VIT_ARCH)
    lq40.write_lq40(tmp_path / "m.lq40", res.config, t, "q4-pred")
    out = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.lq40"), "--json"])
    assert out.exit_code == 0, out.output
    info = json.loads(out.stdout)
    assert info["format"] == "lq40" and info["mode"] == "q4-pred"
    human = CliRunner().invoke(main, ["inspect", str(tmp_path / "m.lq40")])
    assert human.exit_code == 0 and "q4-pred" in human.output
    (tmp_path / "bad.lq40").write_bytes(b"LQ40\xff\xff")
    bad = CliRunner().invoke(main, ["inspect", str(tmp_path / "bad.lq40")])
    assert bad.exit_code == 2 and bad.output.startswith("error:")


def test_cli_convert_variant_name(tmp_path: Path) -> None:
    from zoo.registry import load_registry

    shutil.copy(REPO / "registry.yaml", tmp_path / "registry.yaml")
    rec = load_registry(tmp_path / "registry.yaml").get("hybrid_ALAL_64d_4e_4p")
    assert rec.provenance is not None and rec.provenance.sources[0].file
    src = tmp_path / "variants" / rec.name / "source" / rec.provenance.sources[0].file
    write_lightning_checkpoint(src, synthetic_state_dict(rec.architecture, seed=1))
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(tmp_path), "convert", rec.name, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["config"]["encoder_heads"] == 4 and not doc["up_to_date"]
    again = runner.invoke(main, ["-C", str(tmp_path), "convert", rec.name])
    assert again.exit_code == 0 and "up to date" in again.output
    bad = runner.invoke(main, ["-C", str(tmp_path), "convert", rec.name, "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "-o applies to checkpoint files" in bad.output
    q4 = runner.invoke(main, ["-C", str(tmp_path), "convert", "baseline_q4_pred"])
    assert q4.exit_code == 2 and "safetensors-f32" in q4.output


def test_cli_convert_f32_checkpoint_never_imports_numpy_or_rich(tmp_path: Path) -> None:
    """The command path stays light: an all-f32 checkpoint is converted by copying byte ranges."""
    import subprocess
    import sys

    code = ("import sys\nfrom zoo.cli import main\n"
            f"sys.argv = ['zoo', 'convert', {str(FIX / 'tiny_vit_epoch_1_object.ckpt')!r}, '-o', {str(tmp_path)!r}]\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print(sorted(m for m in ('numpy', 'rich', 'ml_dtypes') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr
    assert (tmp_path / SAFETENSORS_FILE).is_file()


@pytest.mark.parametrize("mode", ["thread", "pass"])
def test_source_digest_modes_give_identical_bytes(tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import zoo.convert.convert as conv
    from zoo._io import sha256_file

    src = FIX / "tiny_vit_epoch_1_object.ckpt"
    ref = convert_checkpoint(src, tmp_path / "ref", source_sha256=sha256_file(src))
    monkeypatch.setattr(conv, "_HASH_MODE", mode)
    res = convert_checkpoint(src, tmp_path / mode)
    assert res.source_sha256 == ref.source_sha256 == sha256_file(src)
    assert res.safetensors_sha256 == ref.safetensors_sha256
