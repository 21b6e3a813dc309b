/* lewm_ref.h - portable C99 reference of the LeWM forward pass, reading an LQ40 blob in place.
 *
 * Generated alongside lewm_model.h by lewm-zoo (`zoo build NAME --target esp32`). The blob is the
 * LQ40 file unchanged (model.bin); lewm_model.h holds the configuration and the byte offset of
 * every tensor inside it, so nothing is parsed at run time. Semantics: the trained LeWM model
 * (per-token action conditioning, causal attention over up to LEWM_HIST frames, adaLN with
 * shift/scale/gate order and SiLU, LayerNorm without affine before modulation and the affine LN
 * inside each sublayer, exact-erf GELU, BatchNorm folded into the projectors' first Linear).
 * Weights stay in their stored precision: Q4 blocks and INT8 rows are dequantized on the fly
 * one row at a time; activations are float32.
 */
#ifndef LEWM_REF_H
#define LEWM_REF_H

#include <stdint.h>

#define LEWM_NONE 0xFFFFFFFFu /* offset of an absent (empty) tensor */

/* Q4LIN (spec §3.1): bitmap and 20-byte blocks (f32 scale + 16 nibble bytes) inside the blob.
 * bitmap == LEWM_NONE: a float32 [out][in] matrix at offset `blocks` instead (wasm f32 builds). */
typedef struct {
    uint32_t out, in, total_blocks, nonzero, bitmap, blocks;
} lewm_q4_t;

/* Encoder matrix: kind 0 = f32 [out][in] at data; kind 1 = INT8 [in][out] at data + f32 scales[out];
 * kind 2 = Q4LIN (LQ40 q4-full) with its bitmap at data and its blocks at scales. */
typedef struct {
    uint32_t kind, out, in, data, scales;
} lewm_mat_t;

typedef struct {
    lewm_q4_t adaln;
    uint32_t adaln_b;
    lewm_q4_t qkv, out;
    uint32_t out_b, attn_norm_w, attn_norm_b, mlp_norm_w, mlp_norm_b;
    lewm_q4_t up;
    uint32_t up_b;
    lewm_q4_t down;
    uint32_t down_b;
} lewm_pred_layer_t;

typedef struct {
    uint32_t linear_attn; /* 1 for hybrid "L" blocks (no q/k/v bias) */
    uint32_t ln1_w, ln1_b;
    lewm_mat_t q;
    uint32_t q_b;
    lewm_mat_t k;
    uint32_t k_b;
    lewm_mat_t v;
    uint32_t v_b;
    lewm_mat_t o;
    uint32_t o_b, ln2_w, ln2_b;
    lewm_mat_t up;
    uint32_t up_b;
    lewm_mat_t down;
    uint32_t down_b;
} lewm_enc_layer_t;

/* y[r] = sum_c W[r][c] x[c] (+ bias[r] when bias_off != LEWM_NONE) for one Q4 matrix; ntok
 * input rows x[t*in ...] give ntok output rows y[t*out ...]. rowbuf holds LEWM_ROWBUF floats. */
void lewm_q4_gemm(const unsigned char *blob, const lewm_q4_t *w, uint32_t bias_off, const float *x, int ntok,
                  float *y, float *rowbuf);

/* One predictor step: latents z[T][D] and raw actions a[T][A] (1 <= T <= LEWM_HIST) ->
 * out[D], the prediction of frame T (the last output token). scratch: LEWM_SCRATCH_FLOATS. */
int lewm_predict(const unsigned char *blob, int T, const float *z, const float *a, float *out, float *scratch);

/* Encoder: image [C][H][W] (ImageNet-normalised float) -> latent out[D]. Returns -1 when the
 * build has no encoder (LEWM_HAS_ENCODER == 0). */
int lewm_encode(const unsigned char *blob, const float *image_chw, float *out, float *scratch);

/* Math helpers (own approximations so host and rv32 builds need no libm). */
float lewm_expf(float x);
float lewm_erff(float x);
float lewm_sqrtf(float x);
float lewm_cosine(const float *a, const float *b, int n);

#endif
