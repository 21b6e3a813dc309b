"""Issue 15 item 5 (tracebacks): malformed safetensors headers, deep JSON, zero/negative config dims and bad
service manifests end in one located line with exit 2, never a traceback."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from model_weights import random_weights, tiny_config
from safetensors.numpy import save_file

from zoo.cli import main
from zoo.errors import InputError
from zoo.formats.lewm_config import LeWMConfig
from zoo.sources.local_source import LocalMirrorSource, path_to_file_uri
from zoo.store.manifest import VariantManifest


def _st(header: bytes, data: bytes = b"") -> bytes:
    return struct.pack("<Q", len(header)) + header + data


SAFETENSORS = {
    "deep JSON": (_st(b'{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}"), "nested too deeply"),
    "negative dim": (_st(b'{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', b"\0" * 4), "'shape'"),
    "offsets past the end": (_st(b'{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,400]}}', b"\0" * 4),
                             "outside the 4 data bytes"),
    "unknown dtype": (_st(b'{"t":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4), "'dtype'"),
    "metadata not strings": (_st(b'{"__metadata__":{"a":5}}'), "__metadata__"),
    "size mismatch": (_st(b'{"t":{"dtype":"F32","shape":[100000000000,100000000000],"data_offsets":[0,4]}}', b"\0" * 4),
                      "data_offsets give 4"),
    "header past the end": (struct.pack("<Q", 1000) + b"{}", "runs past the end"),
    "not an object": (_st(b'{"t": 5}'), "not an object"),
    "bad utf-8": (_st(b'{"\xff": 1}'), "UTF-8"),
}


@pytest.mark.parametrize("case", sorted(SAFETENSORS))
def test_inspect_malformed_safetensors(tmp_path: Path, case: str) -> None:
    data, match = SAFETENSORS[case]
    path = tmp_path / "x.safetensors"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 2, result.output
    assert match in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_inspect_valid_safetensors_still_works(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "ok.safetensors"
    save_file({"a": np.zeros((3, 4), np.float32), "b": np.zeros((0,), np.uint8)}, str(path), metadata={"k": "v"})
    result = CliRunner().invoke(main, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["parameters"] == 12 and doc["metadata"] == {"k": "v"}


@pytest.fixture
def converted_dir(tmp_path: Path) -> Path:
    d = tmp_path / "conv"
    d.mkdir()
    cfg = tiny_config("vit")
    w = random_weights(cfg, 0)
    save_file({k: w[k] for k in sorted(w)}, str(d / "lejepa_weights.safetensors"))
    (d / "config.json").write_text(cfg.to_json())
    return d


@pytest.mark.parametrize(("field", "value", "match"), [
    ("encoder_heads", 0, "'encoder_heads' must be between 1"),
    ("predictor_heads", 0, "'predictor_heads' must be between 1"),
    ("encoder_heads", 3, "does not divide 'encoder_hidden'"),
    ("latent_dim", -4, "'latent_dim' must be between 1"),
    ("patch_size", 0, "'patch_size' must be between 1"),
    ("encoder_layers", 1 << 40, "'encoder_layers' must be between 1"),
])
@pytest.mark.parametrize("command", ["golden", "bench", "quantize"])
def test_bad_config_dims_are_one_line_exit_2(converted_dir: Path, tmp_path: Path, field: str, value: int, match: str,
                                             command: str) -> None:
    cfg = json.loads((converted_dir / "config.json").read_text())
    cfg[field] = value
    (converted_dir / "config.json").write_text(json.dumps(cfg))
    args = {"golden": ["golden", str(converted_dir), "-o", str(tmp_path / "g.safetensors")],
            "bench": ["bench", str(converted_dir)],
            "quantize": ["quantize", str(converted_dir), "--mode", "full", "-o", str(tmp_path / "q.lq40")]}[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert match in result.output and "Traceback" not in result.output
    assert not (tmp_path / "g.safetensors").exists() and not (tmp_path / "q.lq40").exists()


def test_deep_json_config_and_manifest(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "config.json").write_text('{"a": ' + deep + "}")
    with pytest.raises(InputError, match="nested too deeply"):
        LeWMConfig.from_file(tmp_path / "config.json")
    (tmp_path / "manifest.json").write_text(deep)
    with pytest.raises(InputError, match="nested too deeply"):
        VariantManifest.load(tmp_path)


@pytest.mark.parametrize(("doc", "match"), [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"contents": {"a.ckpt": {"size": -1}}}', "size must be a non-negative integer"),
    ('{"contents": {"a.ckpt": {"size": true}}}', "size must be a non-negative integer"),
    ('{"contents": {"../a.ckpt": {}}}', "unsafe file name"),
    ('{"contents": [1]}', "'contents' must be an object"),
])
def test_hostile_mirror_manifests(tmp_path: Path, doc: str, match: str) -> None:
    (tmp_path / "manifest.json").write_text(doc)
    with pytest.raises(InputError, match=match) as err:
        LocalMirrorSource(path_to_file_uri(tmp_path)).resolve()
    assert "\n" not in err.value.render()


@pytest.mark.parametrize("name", ["a\nb.ckpt", "x\x1b[31m.ckpt", "nul\x00.ckpt", "c1\x9b.ckpt"])
def test_remote_names_with_control_characters_are_refused(name: str) -> None:
    from zoo.sources.base import validate_remote_name

    with pytest.raises(InputError, match="unsafe file name") as err:
        validate_remote_name(name, origin="m.json")
    assert "\n" not in err.value.render() and "\x1b" not in err.value.render()


DEEP = "[" * 100_000 + "]" * 100_000


def test_deep_json_elsewhere_is_contained(tmp_path: Path) -> None:
    from zoo.cards.data import read_json_file as card_json
    from zoo.sources.base import _service_message
    from zoo.sources.wandb_source import _graphql_error
    from zoo.store.status import build_status

    class _Resp:
        text, reason = DEEP, "Bad"

    assert len(_service_message(_Resp())) <= 200  # a hostile server's error body
    assert _graphql_error(DEEP) is not None
    (tmp_path / "manifest.json").write_text(DEEP)
    build_status(tmp_path)  # `zoo list` keeps going
    (tmp_path / "bench.json").write_text(DEEP)
    with pytest.raises(InputError, match="nested too deeply"):
        card_json(tmp_path / "bench.json")
