"""Quantizers (vectorised numpy): INT8, Q4, ternary block types, WANDA pruning, variant pipeline."""

from zoo.quant.base import BlockQuant, QuantizedMatrix, quant_type, quant_types, round_half_away
from zoo.quant.int8 import Int8, Int8Matrix, quantize_int8
from zoo.quant.q4 import Q4, Q4Matrix, pack_nibbles, quantize_q4, unpack_nibbles
from zoo.quant.ternary import Ternary, quantize_ternary, ternary_to_weights, write_ternary
from zoo.quant.wanda import FLAVOURS, WANDA_MODES, predictor_matrix_names, prune_predictor, wanda_prune

__all__ = [
    "FLAVOURS",
    "Q4",
    "WANDA_MODES",
    "BlockQuant",
    "Int8",
    "Int8Matrix",
    "Q4Matrix",
    "QuantizedMatrix",
    "Ternary",
    "pack_nibbles",
    "predictor_matrix_names",
    "prune_predictor",
    "quant_type",
    "quant_types",
    "quantize_int8",
    "quantize_q4",
    "quantize_ternary",
    "round_half_away",
    "ternary_to_weights",
    "unpack_nibbles",
    "wanda_prune",
    "write_ternary",
]
