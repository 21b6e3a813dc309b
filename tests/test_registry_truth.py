"""Registry truth (issue 14): the shipped records accept checkpoints saved by real torch at the architectures
the training code built, and what the zoo measures reproduces the original card's sizes.

- slim_96d_4e_4p: crucible's `train_lewm_slim.py` object checkpoint (`torch.save(jepa)`), projector width J=1024;
- baseline_192d_6e_6p: a 12-layer ViT-tiny encoder (upstream `vit_hf("tiny")`), pulled as upstream publishes it
  (`weights.pt`, a state_dict, as the record's `checkpoint_kind` says; the registry declares 6 + uncertain),
  and the same weights as a crucible object checkpoint converted directly (same tensors).

The workspace uses the shipped `registry.yaml` with only `sources` pointed at a local `file://` mirror. Each
checkpoint is built once per module (full size: ~39 MB and ~72 MB).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from zoo.cli import main
from zoo.registry import load_registry

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "registry.yaml"
SLIM, BASELINE = "slim_96d_4e_4p", "baseline_192d_6e_6p"
CARD_SLIM_FULL_BYTES = 9_758_430  # the card's 9.8 MB slim INT8+Q4 file (spec §0 J)


def _torch_model(arch: Any, encoder_layers: int, seed: int) -> Any:
    """The trained model's module tree (stand-in classes from the spec's module descriptions), real torch init.

    The predictor's adaLN modulation starts near zero, as DiT-style predictors are initialised (adaLN-zero),
    scaled to 0.1 of torch's default so each block still changes its input: a rollout of these weights stays
    bounded like a trained model's instead of amplifying random-weight noise over 20 steps.
    """
    sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
    try:
        from make_checkpoints import install_stand_ins
    finally:
        sys.path.pop(0)
    c = install_stand_ins()
    torch.manual_seed(seed)
    he, d, hp, j = arch.encoder_hidden, arch.latent_dim, arch.predictor_hidden, arch.projector_hidden
    model = c["JEPA"](
        c["ViTModel"](he, arch.encoder_inter, encoder_layers),
        c["ARPredictor"](d, hp, arch.predictor_layers, arch.predictor_heads,
                         arch.predictor_inner_dim // arch.predictor_heads, arch.predictor_inter),
        c["Embedder"](arch.action_input_dim, d),
        c["MLP"](he, j, d),
        c["MLP"](hp, j, d),
    )
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".adaLN_modulation." in name:
                p.mul_(0.1)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.running_mean.normal_(0, 0.05)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(1000)
    return model.eval()


def _mirror_dir(root: Path, artifact: str, file: str, obj: Any) -> Path:
    from zoo.sources.local_source import write_mirror_manifest

    directory = root / artifact
    directory.mkdir(parents=True)
    torch.save(obj, directory / file)
    write_mirror_manifest(directory, artifact=artifact, version="v0")
    return directory


def _workspace_registry(dest: Path, uris: dict[str, str]) -> str:
    """The shipped registry.yaml text with only the sources of `uris`' roots replaced (file name kept)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.width = 4096
    doc = yaml.load(SHIPPED.read_text(encoding="utf-8"))
    for root, uri in uris.items():
        sources = doc["variants"][root]["provenance"]["sources"]
        first = sources[0]
        first["uri"] = uri
        del sources[1:]
    buf = io.StringIO()
    yaml.dump(doc, buf)
    (dest / "registry.yaml").write_text(buf.getvalue(), encoding="utf-8")
    return buf.getvalue()


@pytest.fixture(scope="module")
def truth_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reg = load_registry(SHIPPED)
    slim, base = reg.get(SLIM), reg.get(BASELINE)
    assert slim.architecture.projector_hidden == 1024 and "encoder_layers" in base.architecture.uncertain
    root = tmp_path_factory.mktemp("truth")
    mirror = root / "mirror"
    slim_file = slim.provenance.sources[0].file  # type: ignore[union-attr]
    base_file = base.provenance.sources[0].file  # type: ignore[union-attr]
    assert slim_file and base_file
    slim_dir = _mirror_dir(mirror, "lewm_slim_96d_4e_4p_epoch_1", slim_file,
                           _torch_model(slim.architecture, slim.architecture.encoder_layers, seed=96))
    base_model = _torch_model(base.architecture, 12, seed=192)
    base_dir = _mirror_dir(mirror, "lewm-pusht", base_file, base_model.state_dict())
    torch.save(base_model, root / "baseline_12e_object.ckpt")  # the same weights as a crucible object checkpoint
    del base_model
    ws = root / "ws"
    ws.mkdir()
    _workspace_registry(ws, {SLIM: slim_dir.resolve().as_uri(), BASELINE: base_dir.resolve().as_uri()})
    return ws


def _zoo(ws: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["-C", str(ws), *args])


def _lq40_header(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        head = fh.read(8)
        assert head[:4] == b"LQ40"
        (n,) = struct.unpack("<I", head[4:])
        return dict(json.loads(fh.read(n)))


@pytest.mark.slow
def test_shipped_records_pull_convert_quantize_verify_true_architectures(truth_workspace: Path) -> None:
    ws = truth_workspace
    # only sources differ from the shipped registry
    mine, shipped = load_registry(ws / "registry.yaml"), load_registry(SHIPPED)
    assert list(mine.variants) == list(shipped.variants)
    for name, rec in shipped.variants.items():
        other = mine.variants[name]
        if rec.provenance is not None and other.provenance is not None:
            other = dataclasses.replace(other, provenance=dataclasses.replace(other.provenance,
                                                                              sources=rec.provenance.sources))
        assert dataclasses.replace(other, line=rec.line) == rec, name

    r = _zoo(ws, "pull", "slim_96d_4e_4p_full", "baseline_full")
    assert r.exit_code == 0, r.output
    # the uncertain depth: one warning line naming declared and measured values
    warn = [ln for ln in r.output.splitlines() if "encoder_layers" in ln and "warning" in ln]
    assert len(warn) == 1 and "registry declares 6" in warn[0] and "checkpoint has 12" in warn[0], r.output
    cfg = json.loads((ws / "variants" / BASELINE / "config.json").read_text())
    assert cfg["encoder_layers"] == 12
    assert cfg["uncertain_fields"] == {"encoder_layers": {"declared": 6, "measured": 12}}
    manifest = json.loads((ws / "variants" / BASELINE / "manifest.json").read_text())
    assert manifest["artifacts"]["config.json"]["uncertain_fields"]["encoder_layers"] == {"declared": 6, "measured": 12}
    slim_cfg = json.loads((ws / "variants" / SLIM / "config.json").read_text())
    assert slim_cfg["projector_hidden"] == 1024 and "uncertain_fields" not in slim_cfg
    # f32 slim as the card's browser table (39.2 MB without BatchNorm; with it ~39.3 MB)
    slim_f32 = (ws / "variants" / SLIM / "lejepa_weights.safetensors").stat().st_size
    assert abs(slim_f32 - 39.3e6) < 0.2e6, slim_f32

    r = _zoo(ws, "quantize", "slim_96d_4e_4p_full", "baseline_full")
    assert r.exit_code == 0, r.output
    slim_lq40 = (ws / "variants" / "slim_96d_4e_4p_full" / "model.lq40").stat().st_size
    assert abs(slim_lq40 - CARD_SLIM_FULL_BYTES) <= 0.005 * CARD_SLIM_FULL_BYTES, slim_lq40
    header = _lq40_header(ws / "variants" / "baseline_full" / "model.lq40")
    assert header["encoder_layers"] == 12 and header["mode"] == "full"

    # declared targets gate verification: unbuilt, the variants fail and name the build to run
    r = _zoo(ws, "verify", "slim_96d_4e_4p_full", "baseline_full", "--json")
    assert r.exit_code == 1, r.output
    assert "run `zoo build baseline_full --target esp32`" in r.output
    # baseline_full's blob (~20 MB at 12 layers) builds for the registry's 32 MB-flash esp32 option
    r = _zoo(ws, "build", "slim_96d_4e_4p_full", "baseline_full")
    assert r.exit_code == 0, r.output
    r = _zoo(ws, "verify", "slim_96d_4e_4p_full", "baseline_full", "--json")
    assert r.exit_code == 0, r.output
    for name in ("slim_96d_4e_4p_full", "baseline_full"):
        report = json.loads((ws / "variants" / name / "verify.json").read_text())
        assert report["status"] == "pass", (name, report["gate"])

    # the same 12-layer weights saved as an object checkpoint (torch.save(jepa)) convert to the same tensors
    obj = ws.parent / "baseline_12e_object.ckpt"
    r = _zoo(ws, "convert", str(obj), "-o", str(ws.parent / "obj-out"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["config"]["encoder_layers"] == 12
    from safetensors.numpy import load_file

    a = load_file(ws / "variants" / BASELINE / "lejepa_weights.safetensors")
    b = load_file(ws.parent / "obj-out" / "lejepa_weights.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert "encoder.encoder.layer.11.output.dense.weight" in a

    # zoo show says what the registry declared and what the checkpoint measured
    r = _zoo(ws, "show", "baseline_full")
    assert r.exit_code == 0 and "encoder_layers: declared 6, checkpoint 12" in r.output, r.output
    r = _zoo(ws, "card", "baseline_192d_6e_6p", "baseline_full")
    assert r.exit_code == 0, r.output
    card = (ws / "cards" / BASELINE / "README.md").read_text(encoding="utf-8")
    assert "declared 6, checkpoint 12" in card and "54.6 MB (formula estimate)" in card


@pytest.mark.slow
def test_non_uncertain_mismatch_names_field_values_and_registry_line(truth_workspace: Path, tmp_path: Path) -> None:
    """A record whose projector width is wrong (the old 2048) refuses the J=1024 checkpoint in one line."""
    ws = tmp_path / "ws"
    ws.mkdir()
    text = (truth_workspace / "registry.yaml").read_text(encoding="utf-8")
    start = text.index(f"  {SLIM}:\n")
    at = text.index("projector_hidden: 1024", start)
    wrong = text[:at] + "projector_hidden: 2048" + text[at + len("projector_hidden: 1024"):]
    (ws / "registry.yaml").write_text(wrong, encoding="utf-8")
    line = wrong[:at].count("\n") + 1
    r = _zoo(ws, "pull", SLIM)
    assert r.exit_code == 2, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.output
    assert re.search(rf"projector_hidden=1024 \(registry says 2048 at \S*registry\.yaml:{line}\)", errors[0]), errors[0]
    assert not (ws / "variants" / SLIM / "lejepa_weights.safetensors").exists()


def test_demo_architecture_overrides_only_uncertain_fields() -> None:
    from zoo.demo.build import DEMO_ARCHITECTURE, demo_architecture

    reg = load_registry(SHIPPED)
    for root, fields in DEMO_ARCHITECTURE.items():
        rec = reg.get(root)
        arch = demo_architecture(rec)
        assert set(fields) <= set(rec.architecture.uncertain)
        assert dataclasses.replace(arch, **{k: getattr(rec.architecture, k) for k in fields}) == rec.architecture
    assert demo_architecture(reg.get(BASELINE)).encoder_layers == 12


def test_demo_uses_the_true_architectures(demo_workspace: Path) -> None:
    """The demo's checkpoints have slim J=1024 and a 12-layer baseline; sizes line up with the card's."""
    v = demo_workspace / "variants"
    assert json.loads((v / SLIM / "config.json").read_text())["projector_hidden"] == 1024
    assert abs((v / SLIM / "lejepa_weights.safetensors").stat().st_size - 39.3e6) < 0.2e6
    slim_lq40 = (v / "slim_96d_4e_4p_full" / "model.lq40").stat().st_size
    assert abs(slim_lq40 - CARD_SLIM_FULL_BYTES) <= 0.005 * CARD_SLIM_FULL_BYTES
    base_cfg = json.loads((v / BASELINE / "config.json").read_text())
    assert base_cfg["encoder_layers"] == 12
    assert base_cfg["uncertain_fields"] == {"encoder_layers": {"declared": 6, "measured": 12}}
    for name in ("baseline_full", "baseline_q4_pred", "baseline_wanda20_q4", "baseline_wanda40_q4", "baseline_q4_full"):
        assert _lq40_header(v / name / "model.lq40")["encoder_layers"] == 12, name
    card = (demo_workspace / "cards" / BASELINE / "README.md").read_text(encoding="utf-8")
    assert "declared 6, checkpoint 12" in card
    collection = (demo_workspace / "cards" / "README.md").read_text(encoding="utf-8")
    assert "192 / 12 (declared 6) / 6" in collection
    assert "9.8 MB (file size)" in collection and "54.6 MB (formula estimate)" in collection
