/* lewm_wasm.c - WebAssembly export layer over the shared C reference (zoo/targets/lewm_c/lewm_ref.c).
 *
 * Built by `zoo build NAME --target wasm` with clang --target=wasm32 -msimd128, freestanding: no
 * libc, no heap. Every buffer is static and sized at compile time from lewm_model.h, so a call
 * allocates nothing. The model file is not embedded: lewm.js grows the linear memory, copies the
 * bytes of model.bin there and passes their address to lewm_set_blob().
 *
 * Exports (all int / pointer arguments, see lewm.js):
 *   lewm_info(key)        configuration value (LEWM_INFO_* below)
 *   lewm_buffer(which)    address of a static float buffer (LEWM_BUF_* below)
 *   lewm_set_blob(p, n)   0 when n bytes at p look like this build's model file, else -1
 *   lewm_run_encode()     image buffer -> out[D]                          (0 ok, -1 no encoder)
 *   lewm_run_predict(T)   z[T][D], a[T][A] -> out[D]                       (0 ok, -1 bad T)
 *   lewm_run_rollout(n)   z[0][D] (start latent), a[n][A] -> out[n][D]    (0 ok, -1 bad n)
 */
#include "lewm_model.h"
#include "lewm_ref.h"

#define LEWM_MAX_STEPS 256
#define LEWM_IMAGE_FLOATS (LEWM_CH * LEWM_IMG * LEWM_IMG)

enum { LEWM_INFO_D, LEWM_INFO_A, LEWM_INFO_HIST, LEWM_INFO_IMG, LEWM_INFO_CH, LEWM_INFO_MAX_STEPS,
       LEWM_INFO_HAS_ENCODER, LEWM_INFO_BLOB_SIZE, LEWM_INFO_SCRATCH_FLOATS };
enum { LEWM_BUF_IMAGE, LEWM_BUF_Z, LEWM_BUF_A, LEWM_BUF_OUT };

static float scratch[LEWM_SCRATCH_FLOATS];
#if LEWM_HAS_ENCODER
static float buf_image[LEWM_IMAGE_FLOATS];
#else
static float buf_image[1];
#endif
static float buf_z[LEWM_HIST * LEWM_D];
static float buf_a[(LEWM_MAX_STEPS > LEWM_HIST ? LEWM_MAX_STEPS : LEWM_HIST) * LEWM_A];
static float buf_out[(LEWM_MAX_STEPS + 1) * LEWM_D];
static float win_z[LEWM_HIST * LEWM_D];
static float win_a[LEWM_HIST * LEWM_A];
static const unsigned char *blob = 0;

#define EXPORT(name) __attribute__((export_name(#name))) 

EXPORT(lewm_info) int lewm_info(int key) {
    switch (key) {
    case LEWM_INFO_D: return LEWM_D;
    case LEWM_INFO_A: return LEWM_A;
    case LEWM_INFO_HIST: return LEWM_HIST;
    case LEWM_INFO_IMG: return LEWM_IMG;
    case LEWM_INFO_CH: return LEWM_CH;
    case LEWM_INFO_MAX_STEPS: return LEWM_MAX_STEPS;
    case LEWM_INFO_HAS_ENCODER: return LEWM_HAS_ENCODER;
    case LEWM_INFO_BLOB_SIZE: return (int)LEWM_BLOB_SIZE;
    case LEWM_INFO_SCRATCH_FLOATS: return LEWM_SCRATCH_FLOATS;
    default: return -1;
    }
}

EXPORT(lewm_buffer) float *lewm_buffer(int which) {
    switch (which) {
    case LEWM_BUF_IMAGE: return buf_image;
    case LEWM_BUF_Z: return buf_z;
    case LEWM_BUF_A: return buf_a;
    case LEWM_BUF_OUT: return buf_out;
    default: return 0;
    }
}

EXPORT(lewm_set_blob) int lewm_set_blob(const unsigned char *p, unsigned n) {
    if (n != LEWM_BLOB_SIZE || p[0] != 'L' || p[1] != 'Q' || p[2] != '4' || p[3] != '0') return -1;
    blob = p;
    return 0;
}

EXPORT(lewm_run_encode) int lewm_run_encode(void) {
    if (!blob) return -2;
    return lewm_encode(blob, buf_image, buf_out, scratch);
}

EXPORT(lewm_run_predict) int lewm_run_predict(int T) {
    if (!blob) return -2;
    return lewm_predict(blob, T, buf_z, buf_a, buf_out, scratch);
}

/* z[t+1] = predict(the last LEWM_HIST frames and their actions), as lewm_main.c and the numpy engine */
EXPORT(lewm_run_rollout) int lewm_run_rollout(int steps) {
    static float traj[(LEWM_MAX_STEPS + 1) * LEWM_D];
    int t, k, i;
    if (!blob) return -2;
    if (steps < 1 || steps > LEWM_MAX_STEPS) return -1;
    for (i = 0; i < LEWM_D; i++) traj[i] = buf_z[i];
    for (t = 0; t < steps; t++) {
        int lo = t - LEWM_HIST + 1 < 0 ? 0 : t - LEWM_HIST + 1, T = t - lo + 1;
        for (k = 0; k < T; k++) {
            for (i = 0; i < LEWM_D; i++) win_z[k * LEWM_D + i] = traj[(lo + k) * LEWM_D + i];
            for (i = 0; i < LEWM_A; i++) win_a[k * LEWM_A + i] = buf_a[(lo + k) * LEWM_A + i];
        }
        if (lewm_predict(blob, T, win_z, win_a, traj + (t + 1) * LEWM_D, scratch) != 0) return -1;
    }
    for (i = 0; i < steps * LEWM_D; i++) buf_out[i] = traj[LEWM_D + i];
    return 0;
}
