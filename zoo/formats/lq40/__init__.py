"""LQ40: the synapse binary format for quantized LeWM models (spec §3), plus the zoo's ``q4-full``
extension mode. ``write_lq40`` / ``read_lq40`` / ``lq40_to_weights`` / ``describe_lq40``."""

from zoo.formats.lq40.constants import MAGIC, MODES, SYNAPSE_MODES, ZOO_EXTENSION_MODES
from zoo.formats.lq40.convert import check_runnable, describe_lq40, lq40_to_weights
from zoo.formats.lq40.layout import Item, body_layout
from zoo.formats.lq40.reader import LQ40File, Section, read_lq40
from zoo.formats.lq40.writer import encode_lq40, fold_batchnorm, header_dict, write_lq40

__all__ = [
    "MAGIC",
    "MODES",
    "SYNAPSE_MODES",
    "ZOO_EXTENSION_MODES",
    "Item",
    "LQ40File",
    "Section",
    "body_layout",
    "check_runnable",
    "describe_lq40",
    "encode_lq40",
    "fold_batchnorm",
    "header_dict",
    "lq40_to_weights",
    "read_lq40",
    "write_lq40",
]
