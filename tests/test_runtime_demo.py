"""`zoo.load` / `zoo run` on the demo workspace: every format and LQ40 mode reproduces its golden rollout.

The `hf://` side (every demo variant loaded from the loopback Hub after a publish) is in
test_cards_snippets.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import zoo


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.mark.slow
def test_every_demo_variant_reproduces_its_golden_rollout(demo_workspace: Path) -> None:
    from zoo.model.golden import read_golden
    from zoo.registry import find_workspace, load_registry
    from zoo.verify.run import numerics_source

    ws = find_workspace(demo_workspace)
    reg = load_registry(ws.registry_path)
    kinds: set[str] = set()
    for name, rec in reg.variants.items():
        src = numerics_source(reg, rec)
        if f"{src.format.kind}:{src.format.mode}" in kinds:
            continue  # one variant per format and mode here; the hf:// test loads every variant
        model = zoo.load(name, workspace=ws)
        golden = read_golden(ws.variant_dir(src.name) / "golden.safetensors")[0]
        d = rec.architecture.latent_dim
        latent = model.encode(golden["inputs.image"])
        rollout = model.rollout(golden["inputs.image"], golden["inputs.actions"])
        assert latent.shape == (d,) and rollout.shape == (20, d)
        assert _cos(latent, golden["outputs.latent"]) >= 0.99999, name
        assert _cos(rollout, golden["outputs.rollout"]) >= 0.99999, name
        kinds.add(f"{src.format.kind}:{src.format.mode}")
    # f32, every LQ40 mode of the demo and ternary were all exercised
    assert {"safetensors-f32:None", "ternary:None", "lq40:full", "lq40:q4-pred", "lq40:wanda20-q4",
            "lq40:wanda40-q4", "lq40:q4-full"} <= kinds


def test_zoo_run_in_the_demo(demo_workspace: Path, tmp_path: Path) -> None:
    from PIL import Image

    from zoo.cli import main

    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(image)
    runner = CliRunner()
    res = runner.invoke(main, ["-C", str(demo_workspace), "run", "slim_96d_4e_4p_full", "--image", str(image), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["latent"]["shape"] == [96] and len(doc["latent"]["values"]) == 96
    assert doc["rollout"]["shape"] == [20, 96] and doc["model"]["format"] == "lq40"
    (tmp_path / "corrupt.png").write_bytes(image.read_bytes()[:100])
    for bad in (tmp_path / "missing.png", tmp_path / "corrupt.png"):
        res = runner.invoke(main, ["-C", str(demo_workspace), "run", "slim_96d_4e_4p_full", "--image", str(bad)])
        assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
        assert res.output.startswith(f"error: {bad}")
