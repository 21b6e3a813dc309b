/* lewm_main.c - golden-vector check of lewm_ref.c against the zoo's numpy engine.
 *
 * Runs the Q4 GEMV, predict steps, a rollout and (when built with the encoder) encode on the
 * golden inputs of lewm_golden.h, writes every output to stdout as a binary record stream
 *   "LEWMOUT1", then per record: u32 name length, name bytes, u32 count, count x f32 (LE)
 * and exits 0 when every cosine against the golden output is >= LEWM_COS_MIN, 1 otherwise.
 * Host: hosted C99 (stdio). rv32 (-DLEWM_FREESTANDING): own _start and Linux syscalls (ecall),
 * no libc, as under qemu-riscv32.
 */
#include "lewm_model.h"
#include "lewm_ref.h"
#include "lewm_golden.h"

extern const unsigned char _binary_model_bin_start[];

static float scratch[LEWM_SCRATCH_FLOATS];
static float result[LEWM_GOLDEN_MAX_OUT];
static float window_z[LEWM_HIST * LEWM_D];
static float window_a[LEWM_HIST * LEWM_A];

#ifdef LEWM_FREESTANDING
static long sys_call3(long n, long a0, long a1, long a2) {
    register long r_a0 __asm__("a0") = a0;
    register long r_a1 __asm__("a1") = a1;
    register long r_a2 __asm__("a2") = a2;
    register long r_a7 __asm__("a7") = n;
    __asm__ volatile("ecall" : "+r"(r_a0) : "r"(r_a1), "r"(r_a2), "r"(r_a7) : "memory");
    return r_a0;
}
static void out_bytes(const void *p, unsigned long n) {
    const char *c = (const char *)p;
    while (n > 0) {
        long w = sys_call3(64 /* write */, 1, (long)c, (long)n);
        if (w <= 0) break;
        c += w;
        n -= (unsigned long)w;
    }
}
static void lewm_exit(int code) __attribute__((noreturn));
static void lewm_exit(int code) {
    sys_call3(93 /* exit */, code, 0, 0);
    for (;;) {
    }
}
#else
#include <stdio.h>
static void out_bytes(const void *p, unsigned long n) { fwrite(p, 1, n, stdout); }
#endif

static void out_u32(uint32_t v) {
    unsigned char b[4];
    b[0] = (unsigned char)(v & 0xffu);
    b[1] = (unsigned char)((v >> 8) & 0xffu);
    b[2] = (unsigned char)((v >> 16) & 0xffu);
    b[3] = (unsigned char)(v >> 24);
    out_bytes(b, 4);
}

static int failures = 0;

static void record(const char *name, const float *got, const float *want, uint32_t n) {
    uint32_t len = 0, i;
    while (name[len]) len++;
    out_u32(len);
    out_bytes(name, len);
    out_u32(n);
    for (i = 0; i < n; i++) {
        union {
            float f;
            uint32_t u;
        } v;
        v.f = got[i];
        out_u32(v.u);
    }
    if (lewm_cosine(got, want, (int)n) < LEWM_COS_MIN) failures++;
}

static int run(void) {
    const unsigned char *blob = _binary_model_bin_start;
    int k, t;
    uint32_t i;
    out_bytes("LEWMOUT1", 8);

    /* 1. one Q4 GEMV: predictor layer 0 adaLN matrix (no bias) */
    lewm_q4_gemm(blob, &lewm_golden_gemv_w, LEWM_NONE, lewm_golden_gemv_x, 1, result, scratch);
    record("gemv", result, lewm_golden_gemv_y, lewm_golden_gemv_w.out);

    /* 2. predict with a 1-frame and a full-history window */
    if (lewm_predict(blob, 1, lewm_golden_z, lewm_golden_a, result, scratch) != 0) return 2;
    record("predict@T1", result, lewm_golden_predict_t1, LEWM_D);
    if (lewm_predict(blob, LEWM_HIST, lewm_golden_z, lewm_golden_a, result, scratch) != 0) return 2;
    record("predict@Thist", result, lewm_golden_predict_thist, LEWM_D);

    /* 3. rollout: z[t+1] = predict(window of the last LEWM_HIST frames and their actions) */
    {
        static float traj[(LEWM_ROLLOUT_STEPS + 1) * LEWM_D];
        for (i = 0; i < LEWM_D; i++) traj[i] = lewm_golden_rollout_z0[i];
        for (t = 0; t < LEWM_ROLLOUT_STEPS; t++) {
            int lo = t - LEWM_HIST + 1 < 0 ? 0 : t - LEWM_HIST + 1, T = t - lo + 1;
            for (k = 0; k < T; k++) {
                for (i = 0; i < LEWM_D; i++) window_z[(uint32_t)k * LEWM_D + i] = traj[(uint32_t)(lo + k) * LEWM_D + i];
                for (i = 0; i < LEWM_A; i++) window_a[(uint32_t)k * LEWM_A + i] = lewm_golden_rollout_a[(uint32_t)(lo + k) * LEWM_A + i];
            }
            if (lewm_predict(blob, T, window_z, window_a, traj + (uint32_t)(t + 1) * LEWM_D, scratch) != 0) return 2;
        }
        record("rollout", traj + LEWM_D, lewm_golden_rollout, LEWM_ROLLOUT_STEPS * LEWM_D);
    }

#if LEWM_GOLDEN_HAS_ENCODE
    /* 4. encoder on the golden image */
    if (lewm_encode(blob, lewm_golden_image, result, scratch) != 0) return 2;
    record("encode", result, lewm_golden_latent, LEWM_D);
#endif
    return failures ? 1 : 0;
}

#ifdef LEWM_FREESTANDING
void _start(void) __attribute__((noreturn));
void _start(void) { lewm_exit(run()); }
#else
int main(void) {
    int rc = run();
    fflush(stdout);
    return rc;
}
#endif
