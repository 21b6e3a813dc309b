"""LQ40 constants (spec §3).

Modes ``full``, ``q4-pred``, ``wanda20-q4``, ``wanda40-q4`` are the synapse modes and follow the
spec byte for byte. ``q4-full`` is a **zoo extension**: the same layout as ``full`` but with the
six encoder matrices per layer stored as Q4LIN instead of I8LIN. The original synapse / ESP32 /
WASM runtimes do not read it (the ESP32 rejects unknown modes).
"""

from __future__ import annotations

MAGIC = b"LQ40"
SYNAPSE_MODES = ("full", "q4-pred", "wanda20-q4", "wanda40-q4")
ZOO_EXTENSION_MODES = ("q4-full",)
MODES = SYNAPSE_MODES + ZOO_EXTENSION_MODES

# the encoder matrices are I8LIN in "full", Q4LIN in "q4-full", F32VEC otherwise
ENCODER_MATRIX_KIND = {"full": "I8LIN", "q4-full": "Q4LIN"}

# header JSON keys (spec §3.2); all integer keys but meta_tokens are required
HEADER_INT_KEYS = (
    "action_dim",
    "channels",
    "encoder_heads",
    "encoder_hidden",
    "encoder_inter",
    "encoder_layers",
    "image_size",
    "latent_dim",
    "patch_size",
    "predictor_heads",
    "predictor_hidden",
    "predictor_inner_dim",
    "predictor_inter",
    "predictor_layers",
)
OPTIONAL_HEADER_INT_KEYS = ("meta_tokens",)
MAX_HEADER_INT = 1 << 16  # sanity bound for dimensions read from a header

PHEAD_SLOTS = 3
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 20
TRAILER_ENTRIES = 7  # input_proj w/b, cond_proj w/b, meta_token, enc_proj w/b

BN_EPS = 1e-5  # projector / pred_proj BatchNorm1d eps (folded into slot 0 at export)
# running_var written back by lq40_to_weights so that the re-applied BatchNorm is the identity:
# float32(1 - 1e-5) + float32(1e-5) == 1.0 in float32, and 1/sqrt(var + 1e-5) differs from 1 by
# ~1e-9 in float64, far below half a float32 ulp, so folding it again reproduces the weights.
IDENTITY_BN_RUNNING_VAR = 1.0 - BN_EPS
