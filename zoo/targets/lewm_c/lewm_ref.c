/* lewm_ref.c - portable C99 reference of the LeWM forward pass on an LQ40 blob (see lewm_ref.h).
 *
 * Plain loops, float32 activations, weights decoded from the blob one row at a time; no libc
 * beyond <stdint.h>, no heap, no alignment assumptions about the blob (LQ40 has no padding).
 */
#include "lewm_model.h"
#include "lewm_ref.h"

#ifdef LEWM_FREESTANDING
/* no libc (rv32 harness under qemu, wasm32): the compiler may emit calls to these for struct/array
 * copies and zeroing */
void *memcpy(void *dst, const void *src, unsigned long n);
void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n) {
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    while (n--) *d++ = *s++;
    return dst;
}
void *memset(void *dst, int c, unsigned long n) {
    unsigned char *d = (unsigned char *)dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}
#endif

#define LEWM_ADALN_EPS 1e-6f  /* LayerNorm without affine before modulation */
#define LEWM_AFFINE_EPS 1e-5f /* affine LayerNorms of the predictor */

/* ---------------------------------------------------------------- scratch layout (floats) */
#define LEWM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define LEWM_ACT_HIDDEN (4 * LEWM_D)
#define LEWM_PRED_SCRATCH                                                                              \
    (LEWM_HIST * (5 * LEWM_HP + 6 * LEWM_HP + 4 * LEWM_INNER + LEWM_MAX(LEWM_IP, LEWM_ACT_HIDDEN) +     \
                  2 * LEWM_D + LEWM_AD) +                                                              \
     LEWM_JP + LEWM_ROWBUF)
#if LEWM_HAS_ENCODER
#define LEWM_ENC_HD (LEWM_HE / LEWM_NHE)
#define LEWM_ENC_SCRATCH                                                                               \
    (2 * LEWM_SEQ * LEWM_HE + LEWM_MAX(4 * LEWM_SEQ * LEWM_HE, LEWM_SEQ * LEWM_IE) +                   \
     LEWM_MAX(LEWM_SEQ, LEWM_ENC_HD * LEWM_ENC_HD + LEWM_ENC_HD) + LEWM_CH * LEWM_PATCH * LEWM_PATCH +  \
     LEWM_JE + LEWM_HE + LEWM_ROWBUF)
#else
#define LEWM_ENC_SCRATCH 0
#endif
/* compile-time check that the generated LEWM_SCRATCH_FLOATS covers both passes */
typedef char lewm_scratch_too_small[(LEWM_SCRATCH_FLOATS >= LEWM_PRED_SCRATCH &&
                                     LEWM_SCRATCH_FLOATS >= LEWM_ENC_SCRATCH) ? 1 : -1];

static const lewm_pred_layer_t lewm_pred_layers[LEWM_LP] = LEWM_PRED_LAYERS_INIT;
#if LEWM_HAS_ENCODER
static const lewm_enc_layer_t lewm_enc_layers[LEWM_LE] = LEWM_ENC_LAYERS_INIT;
#endif

/* ---------------------------------------------------------------- math */
typedef union {
    uint32_t u;
    float f;
} lewm_bits_t;

float lewm_expf(float x) {
    lewm_bits_t two_k;
    float r, p;
    int k;
    if (x > 88.0f) x = 88.0f;
    if (x < -87.0f) return 0.0f;
    /* x = k ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), then a degree-6 Taylor polynomial */
    k = (int)(x * 1.44269504f + (x >= 0.0f ? 0.5f : -0.5f));
    r = x - (float)k * 0.693145751953125f;
    r = r - (float)k * 1.428606765330187e-06f;
    p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-1f + r * (4.1666668e-2f + r * (8.3333338e-3f + r * 1.3888889e-3f)))));
    two_k.u = (uint32_t)(k + 127) << 23;
    return p * two_k.f;
}

static float lewm_rsqrtf(float x) {
    lewm_bits_t b;
    float y;
    b.f = x;
    b.u = 0x5f3759dfu - (b.u >> 1);
    y = b.f;
    y = y * (1.5f - 0.5f * x * y * y); /* three Newton steps: relative error below float resolution */
    y = y * (1.5f - 0.5f * x * y * y);
    y = y * (1.5f - 0.5f * x * y * y);
    return y;
}

float lewm_sqrtf(float x) { return x > 0.0f ? x * lewm_rsqrtf(x) : 0.0f; }

float lewm_erff(float x) {
    /* Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 (same formula as the numpy engine) */
    float ax = x < 0.0f ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    float y = 1.0f - poly * lewm_expf(-ax * ax);
    return x < 0.0f ? -y : y;
}

static float lewm_gelu(float x) { return 0.5f * x * (1.0f + lewm_erff(x * 0.70710678f)); }

static float lewm_silu(float x) {
    float e = x < -80.0f ? lewm_expf(80.0f) : lewm_expf(-x);
    return x / (1.0f + e);
}

float lewm_cosine(const float *a, const float *b, int n) {
    double dot = 0.0, na = 0.0, nb = 0.0, den;
    int i;
    for (i = 0; i < n; i++) {
        dot += (double)a[i] * (double)b[i];
        na += (double)a[i] * (double)a[i];
        nb += (double)b[i] * (double)b[i];
    }
    den = (double)lewm_sqrtf((float)na) * (double)lewm_sqrtf((float)nb);
    return den < 1e-12 ? 0.0f : (float)(dot / den);
}

/* ---------------------------------------------------------------- blob access (unaligned, LE) */
static float ldf(const unsigned char *p) {
    lewm_bits_t v;
    v.u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
    return v.f;
}

static float vecf(const unsigned char *blob, uint32_t off, uint32_t i) { return ldf(blob + off + 4u * i); }

#if defined(__wasm_simd128__)
/* wasm32 + SIMD128 (the wasm target): lane k of one f32x4 accumulator sums the products i = k mod 4,
 * exactly the four scalar partial sums of the portable dot() below, so both give the same floats. */
#include <wasm_simd128.h>
static float hsum4(v128_t v, float tail) {
    return (wasm_f32x4_extract_lane(v, 0) + tail + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

static float dot(const float *a, const float *b, uint32_t n) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    float tail = 0.0f;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(a + i), wasm_v128_load(b + i)));
    for (; i < n; i++) tail += a[i] * b[i];
    return hsum4(acc, tail);
}

/* y[t*ystride] = (w . x[t]) * scale + bias for ntok rows x[t] (n floats at x + t*xstride): four tokens per pass
 * share each load of w (register blocking), same per-token floats as dot(). */
static void dot_tokens(const float *w, const float *x, uint32_t n, uint32_t xstride, int ntok, float *y,
                       uint32_t ystride, float scale, float bias) {
    int t = 0;
    if ((n & 3u) == 0) {
        for (; t + 4 <= ntok; t += 4) {
            const float *x0 = x + (uint32_t)t * xstride, *x1 = x0 + xstride, *x2 = x1 + xstride, *x3 = x2 + xstride;
            v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
            uint32_t i;
            for (i = 0; i < n; i += 4) {
                v128_t wv = wasm_v128_load(w + i);
                a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wv, wasm_v128_load(x0 + i)));
                a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wv, wasm_v128_load(x1 + i)));
                a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wv, wasm_v128_load(x2 + i)));
                a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wv, wasm_v128_load(x3 + i)));
            }
            y[(uint32_t)t * ystride] = hsum4(a0, 0.0f) * scale + bias;
            y[(uint32_t)(t + 1) * ystride] = hsum4(a1, 0.0f) * scale + bias;
            y[(uint32_t)(t + 2) * ystride] = hsum4(a2, 0.0f) * scale + bias;
            y[(uint32_t)(t + 3) * ystride] = hsum4(a3, 0.0f) * scale + bias;
        }
    }
    for (; t < ntok; t++) y[(uint32_t)t * ystride] = dot(w, x + (uint32_t)t * xstride, n) * scale + bias;
}
#else
static float dot(const float *a, const float *b, uint32_t n) {
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* y[t*ystride] = (w . x[t]) * scale + bias for ntok rows x[t] (n floats at x + t*xstride) */
static void dot_tokens(const float *w, const float *x, uint32_t n, uint32_t xstride, int ntok, float *y,
                       uint32_t ystride, float scale, float bias) {
    int t;
    for (t = 0; t < ntok; t++) y[(uint32_t)t * ystride] = dot(w, x + (uint32_t)t * xstride, n) * scale + bias;
}
#endif

/* y[t][r] = W[r] . x[t] + b[r] for a f32 [out][in] matrix stored at w_off */
static void f32_gemm(const unsigned char *blob, uint32_t w_off, uint32_t b_off, uint32_t out, uint32_t in,
                     const float *x, int ntok, float *y, float *rowbuf) {
    uint32_t r, c;
    for (r = 0; r < out; r++) {
        float bias = b_off == LEWM_NONE ? 0.0f : vecf(blob, b_off, r);
        const unsigned char *row = blob + w_off + 4u * r * in;
        for (c = 0; c < in; c++) rowbuf[c] = ldf(row + 4u * c);
        dot_tokens(rowbuf, x, in, in, ntok, y + r, out, 1.0f, bias);
    }
}

/* Q4 code n stands for the integer n - 8 */
static const float q4_codes[16] = {-8.0f, -7.0f, -6.0f, -5.0f, -4.0f, -3.0f, -2.0f, -1.0f,
                                   0.0f,  1.0f,  2.0f,  3.0f,  4.0f,  5.0f,  6.0f,  7.0f};

void lewm_q4_gemm(const unsigned char *blob, const lewm_q4_t *w, uint32_t bias_off, const float *x, int ntok,
                  float *y, float *rowbuf) {
    const uint32_t bpr = (w->in + 31u) / 32u;
    const unsigned char *bitmap = blob + w->bitmap;
    const unsigned char *block = blob + w->blocks; /* next stored (non-zero) block, in row-major order */
    uint32_t r, b, i;
    if (w->bitmap == LEWM_NONE) { /* float32 [out][in] at w->blocks (the wasm target's f32 builds) */
        f32_gemm(blob, w->blocks, bias_off, w->out, w->in, x, ntok, y, rowbuf);
        return;
    }
    for (r = 0; r < w->out; r++) {
        float bias = bias_off == LEWM_NONE ? 0.0f : vecf(blob, bias_off, r);
        for (b = 0; b < bpr; b++) {
            uint32_t bi = r * bpr + b;
            float *dst = rowbuf + 32u * b;
            if ((bitmap[bi >> 3] >> (bi & 7u)) & 1u) {
                /* the 16 dequantized values (code - 8) * scale of this block, then a table lookup per
                 * weight: same products as multiplying each weight, a quarter of the float ops */
                float scale = ldf(block), level[16];
                for (i = 0; i < 16u; i++) level[i] = q4_codes[i] * scale;
                for (i = 0; i < 16u; i++) {
                    unsigned q = block[4 + i];
                    dst[2 * i] = level[q & 15u];    /* element 2i: low nibble */
                    dst[2 * i + 1] = level[q >> 4]; /* element 2i+1: high nibble */
                }
                block += 20;
            } else {
                for (i = 0; i < 32u; i++) dst[i] = 0.0f;
            }
        }
        dot_tokens(rowbuf, x, w->in, w->in, ntok, y + r, w->out, 1.0f, bias);
    }
}

/* LayerNorm of one row; w_off/b_off == LEWM_NONE means no affine weight / bias */
static void layer_norm(const unsigned char *blob, const float *x, float *y, uint32_t n, uint32_t w_off, uint32_t b_off,
                       float eps) {
    float mean = 0.0f, var = 0.0f, inv;
    uint32_t i;
    for (i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    for (i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    inv = lewm_rsqrtf(var / (float)n + eps);
    for (i = 0; i < n; i++) {
        float v = (x[i] - mean) * inv;
        if (w_off != LEWM_NONE) v *= vecf(blob, w_off, i);
        if (b_off != LEWM_NONE) v += vecf(blob, b_off, i);
        y[i] = v;
    }
}

/* in-place softmax of n scores */
static void softmax(float *s, uint32_t n) {
    float m = s[0], sum = 0.0f;
    uint32_t i;
    for (i = 1; i < n; i++)
        if (s[i] > m) m = s[i];
    for (i = 0; i < n; i++) {
        s[i] = lewm_expf(s[i] - m);
        sum += s[i];
    }
    for (i = 0; i < n; i++) s[i] /= sum;
}

/* ---------------------------------------------------------------- predictor */
int lewm_predict(const unsigned char *blob, int T, const float *z, const float *a, float *out, float *scratch) {
    const uint32_t hp = LEWM_HP, inner = LEWM_INNER, dh = LEWM_INNER / LEWM_NHP;
    float *x = scratch;
    float *cs = x + LEWM_HIST * LEWM_HP;
    float *mod = cs + LEWM_HIST * LEWM_HP;
    float *u = mod + LEWM_HIST * 6 * LEWM_HP;
    float *t2 = u + LEWM_HIST * LEWM_HP;
    float *qkv = t2 + LEWM_HIST * LEWM_HP;
    float *ctx = qkv + LEWM_HIST * 3 * LEWM_INNER;
    float *h = ctx + LEWM_HIST * LEWM_INNER;
    float *e = h + LEWM_HIST * LEWM_MAX(LEWM_IP, LEWM_ACT_HIDDEN);
    float *xin = e + LEWM_HIST * LEWM_D;
    float *c10 = xin + LEWM_HIST * LEWM_D;
    float *pj = c10 + LEWM_HIST * LEWM_AD;
    float *rowbuf = pj + LEWM_JP;
    float qscale = lewm_rsqrtf((float)dh);
    uint32_t i, l, hd;
    int t, s;

    if (T < 1 || T > LEWM_HIST) return -1;
    /* action encoder: Conv1d(k=1) as a Linear, Linear, SiLU, Linear */
    f32_gemm(blob, LEWM_OFF_ACT_CONV_W, LEWM_OFF_ACT_CONV_B, LEWM_AD, LEWM_A, a, T, c10, rowbuf);
    f32_gemm(blob, LEWM_OFF_ACT1_W, LEWM_OFF_ACT1_B, LEWM_ACT_HIDDEN, LEWM_AD, c10, T, h, rowbuf);
    for (i = 0; i < (uint32_t)T * LEWM_ACT_HIDDEN; i++) h[i] = lewm_silu(h[i]);
    f32_gemm(blob, LEWM_OFF_ACT2_W, LEWM_OFF_ACT2_B, LEWM_D, LEWM_ACT_HIDDEN, h, T, e, rowbuf);

    for (t = 0; t < T; t++)
        for (i = 0; i < LEWM_D; i++) xin[(uint32_t)t * LEWM_D + i] = z[(uint32_t)t * LEWM_D + i] + vecf(blob, LEWM_OFF_PRED_POS, (uint32_t)t * LEWM_D + i);
#if LEWM_HAS_INPUT_PROJ
    f32_gemm(blob, LEWM_OFF_IN_W, LEWM_OFF_IN_B, LEWM_HP, LEWM_D, xin, T, x, rowbuf);
    f32_gemm(blob, LEWM_OFF_COND_W, LEWM_OFF_COND_B, LEWM_HP, LEWM_D, e, T, cs, rowbuf);
#else
    for (i = 0; i < (uint32_t)T * LEWM_HP; i++) {
        x[i] = xin[i];
        cs[i] = e[i];
    }
#endif
    for (i = 0; i < (uint32_t)T * hp; i++) cs[i] = lewm_silu(cs[i]);

    for (l = 0; l < LEWM_LP; l++) {
        const lewm_pred_layer_t *L = &lewm_pred_layers[l];
        /* per-token modulation: shift1, scale1, gate1, shift2, scale2, gate2 */
        lewm_q4_gemm(blob, &L->adaln, L->adaln_b, cs, T, mod, rowbuf);
        for (t = 0; t < T; t++) {
            float *m = mod + (uint32_t)t * 6 * hp, *ut = u + (uint32_t)t * hp;
            layer_norm(blob, x + (uint32_t)t * hp, ut, hp, LEWM_NONE, LEWM_NONE, LEWM_ADALN_EPS);
            for (i = 0; i < hp; i++) ut[i] = ut[i] * (1.0f + m[hp + i]) + m[i];
            layer_norm(blob, ut, ut, hp, L->attn_norm_w, L->attn_norm_b, LEWM_AFFINE_EPS);
        }
        lewm_q4_gemm(blob, &L->qkv, LEWM_NONE, u, T, qkv, rowbuf);
        /* causal multi-head attention over the T tokens */
        for (hd = 0; hd < LEWM_NHP; hd++) {
            for (t = 0; t < T; t++) {
                float sc[LEWM_HIST];
                const float *q = qkv + (uint32_t)t * 3 * inner + hd * dh;
                float *c = ctx + (uint32_t)t * inner + hd * dh;
                for (s = 0; s <= t; s++) sc[s] = dot(q, qkv + (uint32_t)s * 3 * inner + inner + hd * dh, dh) * qscale;
                softmax(sc, (uint32_t)t + 1);
                for (i = 0; i < dh; i++) c[i] = 0.0f;
                for (s = 0; s <= t; s++) {
                    const float *v = qkv + (uint32_t)s * 3 * inner + 2 * inner + hd * dh;
                    for (i = 0; i < dh; i++) c[i] += sc[s] * v[i];
                }
            }
        }
        lewm_q4_gemm(blob, &L->out, L->out_b, ctx, T, t2, rowbuf);
        for (t = 0; t < T; t++) {
            float *m = mod + (uint32_t)t * 6 * hp, *ut = u + (uint32_t)t * hp, *xt = x + (uint32_t)t * hp;
            for (i = 0; i < hp; i++) xt[i] += m[2 * hp + i] * t2[(uint32_t)t * hp + i];
            layer_norm(blob, xt, ut, hp, LEWM_NONE, LEWM_NONE, LEWM_ADALN_EPS);
            for (i = 0; i < hp; i++) ut[i] = ut[i] * (1.0f + m[4 * hp + i]) + m[3 * hp + i];
            layer_norm(blob, ut, ut, hp, L->mlp_norm_w, L->mlp_norm_b, LEWM_AFFINE_EPS);
        }
        lewm_q4_gemm(blob, &L->up, L->up_b, u, T, h, rowbuf);
        for (i = 0; i < (uint32_t)T * LEWM_IP; i++) h[i] = lewm_gelu(h[i]);
        lewm_q4_gemm(blob, &L->down, L->down_b, h, T, t2, rowbuf);
        for (t = 0; t < T; t++) {
            float *m = mod + (uint32_t)t * 6 * hp, *xt = x + (uint32_t)t * hp;
            for (i = 0; i < hp; i++) xt[i] += m[5 * hp + i] * t2[(uint32_t)t * hp + i];
        }
    }
    /* final affine LN of the last token, then pred_proj: Linear(BN folded) -> GELU -> Linear */
    layer_norm(blob, x + (uint32_t)(T - 1) * hp, u, hp, LEWM_OFF_PRED_NORM_W, LEWM_OFF_PRED_NORM_B, LEWM_AFFINE_EPS);
    f32_gemm(blob, LEWM_OFF_PP0_W, LEWM_OFF_PP0_B, LEWM_JP, LEWM_HP, u, 1, pj, rowbuf);
    for (i = 0; i < LEWM_JP; i++) pj[i] = lewm_gelu(pj[i]);
    f32_gemm(blob, LEWM_OFF_PP1_W, LEWM_OFF_PP1_B, LEWM_D, LEWM_JP, pj, 1, out, rowbuf);
    return 0;
}

/* ---------------------------------------------------------------- encoder */
#if LEWM_HAS_ENCODER
/* y[t][r] = W[r] . x[t] + b[r] for an encoder matrix (f32 [out][in] or INT8 [in][out] + scales) */
static void mat_gemm(const unsigned char *blob, const lewm_mat_t *w, uint32_t b_off, const float *x, int ntok,
                     float *y, float *rowbuf) {
    uint32_t r, c;
    if (w->kind == 0) {
        f32_gemm(blob, w->data, b_off, w->out, w->in, x, ntok, y, rowbuf);
        return;
    }
    if (w->kind == 2) { /* Q4LIN (q4-full); lewm_q4_gemm reads only out, in, bitmap and blocks */
        lewm_q4_t q;
        q.out = w->out;
        q.in = w->in;
        q.total_blocks = w->out * ((w->in + 31u) / 32u);
        q.nonzero = 0;
        q.bitmap = w->data;
        q.blocks = w->scales;
        lewm_q4_gemm(blob, &q, b_off, x, ntok, y, rowbuf);
        return;
    }
    for (r = 0; r < w->out; r++) {
        float bias = b_off == LEWM_NONE ? 0.0f : vecf(blob, b_off, r);
        float scale = vecf(blob, w->scales, r);
        const unsigned char *col = blob + w->data + r; /* stored transposed: element (r, c) at c*out + r */
        for (c = 0; c < w->in; c++) rowbuf[c] = (float)(signed char)col[c * w->out];
        dot_tokens(rowbuf, x, w->in, w->in, ntok, y + r, w->out, scale, bias);
    }
}

int lewm_encode(const unsigned char *blob, const float *image_chw, float *out, float *scratch) {
    const uint32_t he = LEWM_HE, n = LEWM_SEQ, hd = LEWM_ENC_HD, pdim = LEWM_CH * LEWM_PATCH * LEWM_PATCH;
    float *x = scratch;
    float *ln = x + LEWM_SEQ * LEWM_HE;
    float *q = ln + LEWM_SEQ * LEWM_HE;
    float *k = q + LEWM_SEQ * LEWM_HE;
    float *v = k + LEWM_SEQ * LEWM_HE;
    float *ctx = v + LEWM_SEQ * LEWM_HE;
    float *hbig = q; /* MLP hidden [SEQ][IE] reuses the q/k/v/ctx region */
    float *sc = q + LEWM_MAX(4 * LEWM_SEQ * LEWM_HE, LEWM_SEQ * LEWM_IE);
    float *patch = sc + LEWM_MAX(LEWM_SEQ, LEWM_ENC_HD * LEWM_ENC_HD + LEWM_ENC_HD);
    float *pj = patch + LEWM_CH * LEWM_PATCH * LEWM_PATCH;
    float *cls = pj + LEWM_JE;
    float *rowbuf = cls + LEWM_HE;
    const float qscale = lewm_rsqrtf((float)hd);
    uint32_t i, j, l, h, p, c, py, px, o;

    /* [CLS, meta..., patches] + position embeddings */
    for (i = 0; i < he; i++) x[i] = vecf(blob, LEWM_OFF_ENC_CLS, i) + vecf(blob, LEWM_OFF_ENC_POS, i);
#if LEWM_M > 0
    for (j = 0; j < LEWM_M; j++)
        for (i = 0; i < he; i++)
            x[(1 + j) * he + i] = vecf(blob, LEWM_OFF_ENC_META, j * he + i) + vecf(blob, LEWM_OFF_ENC_POS, (1 + j) * he + i);
#endif
    for (p = 0; p < LEWM_NPATCH; p++) {
        uint32_t ph = p / LEWM_GRID, pw = p % LEWM_GRID, tok = 1 + LEWM_M + p;
        for (c = 0; c < LEWM_CH; c++) /* patch vector ordered (c, py, px) like the conv weight */
            for (py = 0; py < LEWM_PATCH; py++)
                for (px = 0; px < LEWM_PATCH; px++)
                    patch[(c * LEWM_PATCH + py) * LEWM_PATCH + px] =
                        image_chw[(c * LEWM_IMG + ph * LEWM_PATCH + py) * LEWM_IMG + pw * LEWM_PATCH + px];
        for (o = 0; o < he; o++) {
            const unsigned char *row = blob + LEWM_OFF_ENC_PATCH_W + 4u * o * pdim;
            float s = 0.0f;
#if defined(__wasm__) /* little-endian, unaligned loads allowed: read the weights in place */
            s = dot((const float *)(const void *)row, patch, pdim);
#else
            for (i = 0; i < pdim; i++) s += ldf(row + 4u * i) * patch[i];
#endif
            x[tok * he + o] = s + vecf(blob, LEWM_OFF_ENC_PATCH_B, o) + vecf(blob, LEWM_OFF_ENC_POS, tok * he + o);
        }
    }

    for (l = 0; l < LEWM_LE; l++) {
        const lewm_enc_layer_t *L = &lewm_enc_layers[l];
        for (j = 0; j < n; j++) layer_norm(blob, x + j * he, ln + j * he, he, L->ln1_w, L->ln1_b, LEWM_ENC_LN_EPS);
        mat_gemm(blob, &L->q, L->q_b, ln, (int)n, q, rowbuf);
        mat_gemm(blob, &L->k, L->k_b, ln, (int)n, k, rowbuf);
        mat_gemm(blob, &L->v, L->v_b, ln, (int)n, v, rowbuf);
        for (h = 0; h < LEWM_NHE; h++) {
            if (!L->linear_attn) { /* softmax attention, no mask */
                for (i = 0; i < n; i++) {
                    dot_tokens(q + i * he + h * hd, k + h * hd, hd, he, (int)n, sc, 1, qscale, 0.0f);
                    softmax(sc, n);
                    { /* j outer, o inner: contiguous rows of v; each ctx[o] sums over j in the same order */
                        float *ci = ctx + i * he + h * hd;
                        for (o = 0; o < hd; o++) ci[o] = 0.0f;
                        for (j = 0; j < n; j++) {
                            const float *vj = v + j * he + h * hd;
                            const float pj = sc[j];
                            for (o = 0; o < hd; o++) ci[o] += pj * vj[o];
                        }
                    }
                }
            } else { /* linear attention, phi = ELU + 1: phi(q) (sum phi(k) v^T) / (phi(q) . sum phi(k) + 1e-6) */
                float *kv = sc, *ksum = sc + hd * hd;
                for (i = 0; i < hd * hd + hd; i++) sc[i] = 0.0f;
                for (j = 0; j < n; j++) {
                    float *kj = k + j * he + h * hd, *qj = q + j * he + h * hd;
                    for (i = 0; i < hd; i++) {
                        kj[i] = kj[i] > 0.0f ? kj[i] + 1.0f : lewm_expf(kj[i]);
                        qj[i] = qj[i] > 0.0f ? qj[i] + 1.0f : lewm_expf(qj[i]);
                        ksum[i] += kj[i];
                    }
                    for (i = 0; i < hd; i++)
                        for (o = 0; o < hd; o++) kv[i * hd + o] += kj[i] * v[j * he + h * hd + o];
                }
                for (j = 0; j < n; j++) {
                    const float *qj = q + j * he + h * hd;
                    float den = dot(qj, ksum, hd) + 1e-6f;
                    for (o = 0; o < hd; o++) {
                        float s = 0.0f;
                        for (i = 0; i < hd; i++) s += qj[i] * kv[i * hd + o];
                        ctx[j * he + h * hd + o] = s / den;
                    }
                }
            }
        }
        mat_gemm(blob, &L->o, L->o_b, ctx, (int)n, ln, rowbuf);
        for (i = 0; i < n * he; i++) x[i] += ln[i];
        for (j = 0; j < n; j++) layer_norm(blob, x + j * he, ln + j * he, he, L->ln2_w, L->ln2_b, LEWM_ENC_LN_EPS);
        mat_gemm(blob, &L->up, L->up_b, ln, (int)n, hbig, rowbuf);
        for (i = 0; i < n * LEWM_IE; i++) hbig[i] = lewm_gelu(hbig[i]);
        mat_gemm(blob, &L->down, L->down_b, hbig, (int)n, ln, rowbuf);
        for (i = 0; i < n * he; i++) x[i] += ln[i];
    }
    /* final LN of the CLS row, then the projector: Linear(BN folded) -> GELU -> Linear */
    layer_norm(blob, x, cls, he, LEWM_OFF_ENC_NORM_W, LEWM_OFF_ENC_NORM_B, LEWM_ENC_LN_EPS);
    f32_gemm(blob, LEWM_OFF_PJ0_W, LEWM_OFF_PJ0_B, LEWM_JE, LEWM_HE, cls, 1, pj, rowbuf);
    for (i = 0; i < LEWM_JE; i++) pj[i] = lewm_gelu(pj[i]);
    f32_gemm(blob, LEWM_OFF_PJ1_W, LEWM_OFF_PJ1_B, LEWM_D, LEWM_JE, pj, 1, out, rowbuf);
    return 0;
}
#else
int lewm_encode(const unsigned char *blob, const float *image_chw, float *out, float *scratch) {
    (void)blob;
    (void)image_chw;
    (void)out;
    (void)scratch;
    return -1;
}
#endif
