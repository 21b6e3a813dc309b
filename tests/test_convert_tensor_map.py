"""The regex-free fast path of `match_rule` agrees with the regex table (TENSOR_RULES)."""

from __future__ import annotations

import pytest

from zoo.convert.tensor_map import IDENTITY_TEMPLATES, TENSOR_RULES, _fill, match_rule


def _slow(name: str) -> tuple[str, str] | None:
    for rule in TENSOR_RULES:
        m = rule.regex.fullmatch(name)
        if m:
            return rule.action, _fill(rule.target, {k: v for k, v in m.groupdict().items() if v is not None})
    return None


def _fast(name: str) -> tuple[str, str] | None:
    hit = match_rule(name)
    return None if hit is None else (hit[0].action, _fill(hit[0].target, hit[1]))


@pytest.mark.parametrize("index", ["0", "7", "123456"])
def test_identity_templates_match_the_table(index: str) -> None:
    for template in sorted(IDENTITY_TEMPLATES):
        name = template.replace("{L}", index)
        assert _slow(name) == ("rename", name), name
        assert _fast(name) == ("rename", name), name


@pytest.mark.parametrize("name", [
    "projector.net.1.num_batches_tracked", "x.num_batches_tracked", ".num_batches_tracked",
    "a\nb.num_batches_tracked", "encoder.encoder.layer.1234567.output.dense.weight",
    "encoder.encoder.layer.\u0661.output.dense.weight", "encoder.encoder.layer.01.output.dense.bias",
    "encoder.encoder.layer..output.dense.bias", "predictor.transformer.layers.3.attn.to_qkv.bias",
    "encoder.blocks.2.attn.in_proj_weight", "encoder.layers.0.attention.q_proj.weight", "model.encoder.layernorm.weight",
    "encoder.proj.1.running_var", "encoder.encoder.layer.{L}.output.dense.weight", "sigreg.t", "",
])
def test_fast_path_equals_regex_table(name: str) -> None:
    assert _fast(name) == _slow(name)
