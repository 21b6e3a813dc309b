"""Source tensor names -> canonical names of spec §1.2, as ONE declarative table.

Each rule is a pattern over the raw (flattened, `model.`-stripped) name with placeholders
`{L}` (a layer index) and `{p}` (a parameter leaf such as weight/bias), and the canonical name it
maps to. Rules are tried in order; the first full match wins. Actions:

- ``rename``: store under the canonical name;
- ``split3``: a fused `[3H, ...]` q/k/v tensor, split by rows into the three canonical names
  (``{qkv}`` in the target becomes query/key/value);
- ``bn_fold``: a BatchNorm that follows `encoder.proj.0` (hybrid; spec §2.4) - folded later;
- ``drop``: known and deliberately not converted (counters, training-only state).

Anything no rule matches is reported as an ignored unknown tensor, never dropped silently.
The projector / pred_proj BatchNorm (`net.1.*`) is KEPT (DESIGN decision 1: trained semantics).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from zoo.errors import CheckpointError

if TYPE_CHECKING:
    import numpy as np

ENC_LAYER = "encoder.encoder.layer.{L}"
_P = r"(?P<p>weight|bias)"
_PBN = r"(?P<p>weight|bias|running_mean|running_var)"
# raw prefixes of one encoder block: transformers 4.x/5.x (`encoder.encoder.layer(s).N`), hybrid (`encoder.blocks.N`)
# layer indices: ASCII digits, at most 6 (re's \d also matches other scripts' digits, and int() of a
# 5000-digit index raises instead of failing cleanly)
_IDX = r"(?P<L>[0-9]{1,6})"
_LAYER = r"encoder\.(?:encoder\.)?(?:layer|layers|blocks)\." + _IDX
_ATTN = r"(?:attention\.attention|attention\.self|attention|self_attn|attn)"


class TensorRule:
    """One row of the table. The regex is compiled on first use: most checkpoints use canonical
    names, which `match_rule` recognises without any regex (compiling the table costs ~4 ms)."""

    __slots__ = ("_regex", "action", "pattern", "source", "target")

    def __init__(self, pattern: str, target: str, action: str = "rename", source: str | None = None) -> None:
        self.pattern = pattern
        self.target = target
        self.action = action  # rename | split3 | bn_fold | drop
        self.source = pattern if source is None else source  # the expanded regular expression
        self._regex: re.Pattern[str] | None = None

    @property
    def regex(self) -> re.Pattern[str]:
        if self._regex is None:
            self._regex = re.compile(self.source)
        return self._regex

    def __repr__(self) -> str:
        return f"TensorRule({self.pattern!r} -> {self.target!r}, {self.action})"


def _rule(pattern: str, target: str, action: str = "rename") -> TensorRule:
    rx = pattern.replace("{L}", _IDX).replace("{p}", _P).replace("{pbn}", _PBN)
    return TensorRule(pattern, target, action, rx)


TENSOR_RULES: tuple[TensorRule, ...] = (
    # -- dropped: counters and training-only state
    _rule(r".*\.num_batches_tracked", "", "drop"),
    _rule(r"sigreg\..*", "", "drop"),
    _rule(r"router\..*", "", "drop"),
    _rule(r"encoder\.pooler\..*", "", "drop"),
    # -- encoder embeddings (HF ViT names; hybrid `patch_embed`/`cls_token`/`pos_embed`)
    _rule(r"encoder\.(?:embeddings\.patch_embeddings\.projection|patch_embed\.proj)\.{p}",
          "encoder.embeddings.patch_embeddings.projection.{p}"),
    _rule(r"encoder\.(?:embeddings\.)?cls_token", "encoder.embeddings.cls_token"),
    _rule(r"encoder\.(?:embeddings\.position_embeddings|pos_embed)", "encoder.embeddings.position_embeddings"),
    _rule(r"encoder\.meta_tokens?", "encoder.meta_token"),
    # -- encoder blocks: attention
    _rule(_LAYER + r"\.attn\.in_proj_(?P<p>weight|bias)", ENC_LAYER + ".attention.attention.{qkv}.{p}", "split3"),
    _rule(_LAYER + r"\." + _ATTN + r"\.(?:query|q_proj)\." + _P, ENC_LAYER + ".attention.attention.query.{p}"),
    _rule(_LAYER + r"\." + _ATTN + r"\.(?:key|k_proj)\." + _P, ENC_LAYER + ".attention.attention.key.{p}"),
    _rule(_LAYER + r"\." + _ATTN + r"\.(?:value|v_proj)\." + _P, ENC_LAYER + ".attention.attention.value.{p}"),
    _rule(_LAYER + r"\.(?:attention\.output\.dense|attention\.o_proj|attention\.out_proj|self_attn\.o_proj|"
          r"self_attn\.out_proj|attn\.out_proj|attn\.proj)\." + _P, ENC_LAYER + ".attention.output.dense.{p}"),
    # -- encoder blocks: norms and MLP
    _rule(_LAYER + r"\.(?:layernorm_before|norm1|layer_norm1|input_layernorm)\." + _P, ENC_LAYER + ".layernorm_before.{p}"),
    _rule(_LAYER + r"\.(?:layernorm_after|norm2|layer_norm2|post_attention_layernorm)\." + _P,
          ENC_LAYER + ".layernorm_after.{p}"),
    _rule(_LAYER + r"\.(?:intermediate\.dense|mlp\.fc1|mlp\.0)\." + _P, ENC_LAYER + ".intermediate.dense.{p}"),
    _rule(_LAYER + r"\.(?:output\.dense|mlp\.fc2|mlp\.2)\." + _P, ENC_LAYER + ".output.dense.{p}"),
    # -- encoder tail
    _rule(r"encoder\.(?:layernorm|norm|post_layernorm)\.{p}", "encoder.layernorm.{p}"),
    _rule(r"encoder\.proj\.0\.{p}", "encoder.proj.0.{p}"),
    _rule(r"encoder\.proj\.1\.{pbn}", "encoder.proj.1.{p}", "bn_fold"),
    # -- predictor (upstream ARPredictor names are already canonical)
    _rule(r"predictor\.pos_embedding", "predictor.pos_embedding"),
    _rule(r"predictor\.transformer\.(?P<m>input_proj|cond_proj|norm)\.{p}", "predictor.transformer.{m}.{p}"),
    _rule(r"predictor\.transformer\.layers\.{L}\.adaLN_modulation\.1\.{p}",
          "predictor.transformer.layers.{L}.adaLN_modulation.1.{p}"),
    _rule(r"predictor\.transformer\.layers\.{L}\.attn\.norm\.{p}", "predictor.transformer.layers.{L}.attn.norm.{p}"),
    _rule(r"predictor\.transformer\.layers\.{L}\.attn\.to_qkv\.weight", "predictor.transformer.layers.{L}.attn.to_qkv.weight"),
    _rule(r"predictor\.transformer\.layers\.{L}\.attn\.to_out\.0\.{p}", "predictor.transformer.layers.{L}.attn.to_out.0.{p}"),
    _rule(r"predictor\.transformer\.layers\.{L}\.mlp\.net\.(?P<i>[014])\.{p}",
          "predictor.transformer.layers.{L}.mlp.net.{i}.{p}"),
    # -- action encoder
    _rule(r"action_encoder\.patch_embed\.{p}", "action_encoder.patch_embed.{p}"),
    _rule(r"action_encoder\.embed\.(?P<i>[02])\.{p}", "action_encoder.embed.{i}.{p}"),
    # -- projection heads (BatchNorm `net.1` kept; the `net.` prefix may be missing)
    _rule(r"(?P<h>projector|pred_proj)\.(?:net\.)?(?P<i>[03])\.{p}", "{h}.net.{i}.{p}"),
    _rule(r"(?P<h>projector|pred_proj)\.(?:net\.)?1\.{pbn}", "{h}.net.1.{p}"),
)


class MappedTensors:
    __slots__ = ("dropped", "hybrid", "tensors", "unknown")

    def __init__(self, tensors: dict[str, Any], dropped: list[str], unknown: list[str], hybrid: bool) -> None:
        self.tensors = tensors  # canonical name -> array or FileSlice-like source (see convert.py)
        self.dropped = dropped
        self.unknown = unknown
        self.hybrid = hybrid


# Canonical names (spec §1.2) that the table maps to themselves, `{L}` standing for a layer index.
# `match_rule` answers these by a set lookup, before any regex; tests/test_convert_tensor_map.py
# checks that the regex table gives the same answer for every one of them.
_W, _WB, _BN = ("weight",), ("weight", "bias"), ("weight", "bias", "running_mean", "running_var")
_ENC_L = "encoder.encoder.layer.{L}."
_PRED_L = "predictor.transformer.layers.{L}."
IDENTITY_TEMPLATES: frozenset[str] = frozenset(
    f"{stem}.{leaf}" if leaf else stem
    for stem, leaves in (
        ("encoder.embeddings.patch_embeddings.projection", _WB),
        ("encoder.embeddings.cls_token", ("",)),
        ("encoder.embeddings.position_embeddings", ("",)),
        ("encoder.meta_token", ("",)),
        *((_ENC_L + part, _WB) for part in ("layernorm_before", "attention.attention.query", "attention.attention.key",
                                            "attention.attention.value", "attention.output.dense", "layernorm_after",
                                            "intermediate.dense", "output.dense")),
        ("encoder.layernorm", _WB),
        ("encoder.proj.0", _WB),
        ("predictor.pos_embedding", ("",)),
        *((f"predictor.transformer.{m}", _WB) for m in ("input_proj", "cond_proj", "norm")),
        *((_PRED_L + part, _WB) for part in ("adaLN_modulation.1", "attn.norm", "attn.to_out.0", "mlp.net.0",
                                             "mlp.net.1", "mlp.net.4")),
        (_PRED_L + "attn.to_qkv", _W),
        *((f"action_encoder.{m}", _WB) for m in ("patch_embed", "embed.0", "embed.2")),
        *((f"{h}.net.{i}", _WB) for h in ("projector", "pred_proj") for i in (0, 3)),
        *((f"{h}.net.1", _BN) for h in ("projector", "pred_proj")),
    )
    for leaf in leaves
)
_IDENTITY = TensorRule("<canonical name>", "{name}")
_LAYER_PREFIXES = ("encoder.encoder.layer.", "predictor.transformer.layers.")


def _template(name: str) -> str:
    """`name` with its layer index (ASCII digits, at most 6, as in the regexes) replaced by `{L}`."""
    for prefix in _LAYER_PREFIXES:
        if name.startswith(prefix):
            head, dot, rest = name[len(prefix) :].partition(".")
            if dot and 0 < len(head) <= 6 and head.isascii() and head.isdigit():
                return prefix + "{L}." + rest
            return name
    return name


def match_rule(name: str) -> tuple[TensorRule, dict[str, str]] | None:
    if name.endswith(".num_batches_tracked") and "\n" not in name:  # the first rule (`.` stops at a newline)
        return TENSOR_RULES[0], {}
    if "{" not in name and _template(name) in IDENTITY_TEMPLATES:
        return _IDENTITY, {"name": name}
    for rule in TENSOR_RULES:
        m = rule.regex.fullmatch(name)
        if m:
            return rule, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


def _fill(template: str, groups: dict[str, str]) -> str:
    out = template
    for key, value in groups.items():
        out = out.replace("{" + key + "}", value)
    return out


def map_names(raw: dict[str, Any], *, split_rows: Any, where: str) -> MappedTensors:
    """Apply TENSOR_RULES to raw names. `split_rows(value, start, stop)` slices rows of a source tensor."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    dropped: list[str] = []
    unknown: list[str] = []
    hybrid = any(name.startswith("encoder.blocks.") for name in raw)
    for name in sorted(raw):
        value = raw[name]
        hit = match_rule(name)
        if hit is None:
            unknown.append(name)
            continue
        rule, groups = hit
        if rule.action == "drop":
            dropped.append(name)
            continue
        if rule.action == "split3":
            shape = tuple(value.shape)
            if not shape or shape[0] % 3:
                raise CheckpointError(f"{where}: tensor '{name}' has shape {list(shape)}; a fused q/k/v needs 3*H rows")
            h = shape[0] // 3
            targets = [(_fill(rule.target, {**groups, "qkv": part}), i) for i, part in enumerate(("query", "key", "value"))]
            for target, i in targets:
                _put(out, origin, target, split_rows(value, i * h, (i + 1) * h), name, where)
            continue
        _put(out, origin, _fill(rule.target, groups), value, name, where)
    return MappedTensors(out, dropped, unknown, hybrid)


def _put(out: dict[str, Any], origin: dict[str, str], target: str, value: Any, name: str, where: str) -> None:
    if target in out:
        raise CheckpointError(
            f"{where}: tensors '{origin[target]}' and '{name}' both map to '{target}'",
            hint="the checkpoint mixes two naming schemes",
        )
    out[target] = value
    origin[target] = name


def fold_encoder_proj_bn(tensors: dict[str, np.ndarray[Any, Any]], *, where: str, eps: float = 1e-5) -> bool:
    """Spec §2.4: fold BatchNorm `encoder.proj.1` into Linear `encoder.proj.0` (in place). Returns True if folded."""
    bn = {k: tensors.pop(f"encoder.proj.1.{k}") for k in ("weight", "bias", "running_mean", "running_var")
          if f"encoder.proj.1.{k}" in tensors}
    if not bn:
        return False
    if "encoder.proj.0.weight" not in tensors:
        raise CheckpointError(f"{where}: 'encoder.proj.1.*' (BatchNorm) present without 'encoder.proj.0.weight'")
    import numpy as np

    w = np.asarray(tensors["encoder.proj.0.weight"], dtype=np.float64)
    if w.ndim != 2:  # checked before broadcasting: a 1-D weight would make the fold an [out, out] matrix
        raise CheckpointError(f"{where}: 'encoder.proj.0.weight' has shape {list(w.shape)}, expected 2 dimensions")
    out = w.shape[0]
    b = np.asarray(tensors.get("encoder.proj.0.bias", np.zeros(out)), dtype=np.float64)
    gamma = np.asarray(bn.get("weight", np.ones(out)), dtype=np.float64)
    beta = np.asarray(bn.get("bias", np.zeros(out)), dtype=np.float64)
    mean = np.asarray(bn.get("running_mean", np.zeros(out)), dtype=np.float64)
    var = np.asarray(bn.get("running_var", np.ones(out)), dtype=np.float64)
    for label, arr in (("1.weight", gamma), ("1.bias", beta), ("1.running_mean", mean), ("1.running_var", var),
                       ("0.bias", b)):
        if arr.shape != (out,):
            raise CheckpointError(f"{where}: 'encoder.proj.{label}' has shape {list(arr.shape)}, expected [{out}]")
    s = gamma / np.sqrt(var + eps)
    tensors["encoder.proj.0.weight"] = (w * s[:, None]).astype(np.float32)
    tensors["encoder.proj.0.bias"] = (s * (b - mean) + beta).astype(np.float32)
    return True
