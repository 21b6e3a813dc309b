"""The demo, published to the loopback Hub in the release layout, used as a Hub user would (issue 16).

One slow test: publish every demo variant (per-variant repositories + the Hub Collection), then
for every card extract the Python snippet of "How to use" and execute it as written against that
server (HF_ENDPOINT; the `pip install` line is a separate bash block, not executed), asserting the
shapes it prints. The model each snippet loaded from `hf://` must reproduce its variant's golden
rollout, every repository's card metadata must parse, and publishing again must change nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from servers.hf_hub_server import HfHubServer

# the publish command; a flag other developers add (e.g. an opt-in for synthetic weights) goes here
PUBLISH_ARGS = ("publish", "--all", "--allow-synthetic")  # the demo's weights are synthetic (issue 17)
_SNIPPET = re.compile(r"## How to use\n\n```bash\npip install lewm-zoo\n```\n\n```python\n(.*?)```\n", re.DOTALL)
_PRINTED = re.compile(r"print\(latent\.shape, trajectory\.shape\)  # (\(\d+,\) \(\d+, \d+\))\n")


def snippet_of(card: str) -> tuple[str, str]:
    """(Python code of the card's first "How to use" block, the output its comment promises)."""
    m = _SNIPPET.search(card)
    assert m is not None, "no `pip install lewm-zoo` + python block right under '## How to use'"
    code = m.group(1)
    expected = _PRINTED.search(code)
    assert expected is not None, code
    return code, expected.group(1)


def _zoo(root: Path, *args: str) -> Any:
    from zoo.cli import main

    return CliRunner().invoke(main, ["-C", str(root), *args], catch_exceptions=False)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


@pytest.mark.slow
def test_demo_cards_snippets_run_against_the_published_hub(demo_workspace: Path, hf_server: HfHubServer) -> None:
    from huggingface_hub import ModelCard

    from zoo.cards.metadata import validate_card_text
    from zoo.model.golden import read_golden
    from zoo.registry import find_workspace, load_registry
    from zoo.verify.run import numerics_source

    ws = find_workspace(demo_workspace)
    reg = load_registry(ws.registry_path)
    res = _zoo(demo_workspace, *PUBLISH_ARGS, "--json")
    assert res.exit_code == 0, res.output
    published = json.loads(res.stdout)
    repos = [r["repo_id"] for r in published["repos"]]
    assert len(repos) == len(reg.variants) and published["collection"]["applied"]

    # every repository's card is a Hub model card whose metadata parses; the lineage points at a published repo
    for repo_id in repos:
        text = hf_server.files(repo_id)["README.md"].decode()
        data = validate_card_text(text, where=repo_id)
        assert ModelCard(text).data.to_dict() == data
        if data.get("base_model"):
            assert data["base_model_relation"] == "quantized" and data["base_model"] in repos
    col = hf_server.collection(reg.collection.hub_repo.split("/")[0], reg.collection.name)
    assert col is not None and [it.item_id for it in col.items] == [i["repo_id"] for i in published["collection"]["items"]]
    families = [reg.variants[i["variant"]].family for i in published["collection"]["items"]]
    assert families == sorted(families, key=families.index)  # grouped by family

    # every card's snippet, executed as written (in this process: same HF_ENDPOINT / HF_HOME as a user's shell)
    for name in reg.variants:
        code, expected = snippet_of((ws.cards_dir / name / "README.md").read_text())
        d = reg.variants[name].architecture.latent_dim
        assert expected == f"({d},) (20, {d})"
        out = io.StringIO()
        namespace: dict[str, Any] = {"__name__": "__main__"}
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"cards/{name}/README.md", "exec"), namespace)
        assert out.getvalue().strip() == expected, name
        model = namespace["model"]
        assert model.path.as_posix().startswith(f"{os.environ['HF_HOME']}/hub/models--")  # via the HF cache
        src = numerics_source(reg, reg.variants[name])
        golden = read_golden(ws.variant_dir(src.name) / "golden.safetensors")[0]
        rollout = model.rollout(golden["inputs.image"], golden["inputs.actions"])
        assert rollout.shape == golden["outputs.rollout"].shape == (20, d)
        assert _cos(rollout, golden["outputs.rollout"]) >= 0.99999, name

    # the collection card's snippet in a fresh interpreter, exactly as a user would paste it
    code, expected = snippet_of((ws.cards_dir / "README.md").read_text())
    env = {**os.environ, "HF_ENDPOINT": hf_server.url}
    env.pop("HF_TOKEN", None)  # public repositories: no token needed
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=str(ws.root.parent),
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == expected

    # publishing again: no commit, no collection change
    commits, updates = hf_server.commit_count, col.updates
    again = _zoo(demo_workspace, *PUBLISH_ARGS, "--json")
    assert again.exit_code == 0, again.output
    doc = json.loads(again.stdout)
    assert doc["bytes"] == 0 and all(r["commit"] is None for r in doc["repos"]) and not doc["collection"]["changed"]
    assert hf_server.commit_count == commits and col.updates == updates
