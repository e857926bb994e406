/*
 * edgekit Helium (MVE) kernels: what they share, and the contract with the generator.
 *
 * Built for an Armv8.1-M core with the integer M-profile Vector Extension (Cortex-M55:
 * -mcpu=cortex-m55 -mfloat-abi=hard, which defines __ARM_FEATURE_MVE); the generator picks these files
 * for that core only (edgekit/codegen/engine.kernel_family), so there is no portable fallback here.
 *
 * Folded input offset. CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (whose weights have no zero
 * point) receive `bias` already folded by the generator (edgekit/codegen/engine_pack_helium.py):
 *     bias'[c] = bias[c] + input_offset * sum of channel c's weights        (never NULL)
 * so that the inner loops are plain int8 x int8 dot products (VMLADAVA over 16 lanes). For the sums to
 * stay equal to the reference's, every filter tap must contribute: a tap in the padding reads the input
 * zero point (-input_offset), whose product with the weight cancels its share of the folded term, just
 * as the reference's skipped tap contributes nothing. All sums are int32 and wrap as the reference's.
 *
 * Requantization (ek_requant_x4) is TFLM's double rounding, four lanes at a time:
 *   x << left                                       VSHL (register, no saturation: wraps like ek_wrap_shl)
 *   rounding doubling high multiply                 VQRDMULH: (2ab + 2^31) >> 32 = floor((ab + 2^30) / 2^31),
 *                                                   which equals gemmlowp's nudge-and-truncate for every ab
 *                                                   (ek_dsp.h derives it); multipliers are never INT32_MIN
 *   rounding divide by 2^right, ties away from 0    VRSHL rounds ties up; subtracting 1 from negative values
 *                                                   first (when right > 0) turns that into ties away from 0:
 *                                                   floor((x - 1) / 2^n + 1/2) for x < 0. VQADD keeps
 *                                                   INT32_MIN at INT32_MIN, where both give INT32_MIN >> n.
 * Semantics of each instruction: Arm v8-M Architecture Reference Manual (DDI 0553), MVE pseudocode.
 */
#ifndef EK_HELIUM_H
#define EK_HELIUM_H

#include <stdint.h>

#include "ek_kernels.h"

#if !defined(__ARM_FEATURE_MVE) || !(__ARM_FEATURE_MVE & 1)
#error "edgekit Helium kernels need integer MVE: compile for an Armv8.1-M core with Helium (-mcpu=cortex-m55)"
#endif

#include <arm_mve.h>

/* Arena scratch of the Helium kernels, in bytes (edgekit/codegen/engine_pack_helium.py mirrors these):
 * CONV_2D gathers up to EK_HELIUM_CONV_CHUNK input patches of kp = kh * kw * in_c rounded up to 16
 * bytes (as many as fit in 2 KB, at least one, at most a row of out_w), DEPTHWISE_CONV_2D keeps a row
 * of input zero points for the taps in the padding. */
#define EK_HELIUM_CONV_KP(h, w, c) ((((h) * (w) * (c)) + 15) & ~15)
#define EK_HELIUM_CONV_CHUNK(kp, out_w) ((2048 / (kp)) < 1 ? 1 : ((2048 / (kp)) > (out_w) ? (out_w) : (2048 / (kp))))
#define EK_HELIUM_CONV_SCRATCH(h, w, c, out_w) \
    (EK_HELIUM_CONV_KP(h, w, c) * EK_HELIUM_CONV_CHUNK(EK_HELIUM_CONV_KP(h, w, c), out_w))
#define EK_HELIUM_DW_SCRATCH(c) (((c) + 15) & ~15)
/* DEPTHWISE_CONV_2D's vector path: depth multiplier 1 and at most this many filter taps. It computes
 * tiles of EK_HELIUM_DW_TILE(taps) consecutive output pixels (an even number, 2 to 8: as many as
 * EK_HELIUM_DW_SLOTS tap pointers allow); engine_pack_helium.dw_tile mirrors it. */
#define EK_HELIUM_DW_MAX_TAPS 64
#define EK_HELIUM_DW_SLOTS 128
#define EK_HELIUM_DW_TILE(taps) ((EK_HELIUM_DW_SLOTS / (taps)) >= 8 ? 8 : (EK_HELIUM_DW_SLOTS / (taps)) & ~1)

/* Per-lane requantization parameters of 4 channels, loaded once per group of channels. */
typedef struct {
    int32x4_t mult;
    int32x4_t left;      /* shift where > 0, else 0 */
    int32x4_t neg_right; /* shift where < 0, else 0 (VRSHL shifts right by minus it) */
} ek_hq_t;

/* Channels c..c+3 of the per-channel arrays; lanes past `pred` read nothing and stay 0. */
EK_INLINE ek_hq_t ek_hq_load(const int32_t *multiplier, const int8_t *shift, mve_pred16_t pred) {
    ek_hq_t q;
    const int32x4_t s = vldrbq_z_s32(shift, pred);
    q.mult = vldrwq_z_s32(multiplier, pred);
    q.left = vmaxq_s32(s, vdupq_n_s32(0));
    q.neg_right = vminq_s32(s, vdupq_n_s32(0));
    return q;
}

/* The same parameters in every lane (per-tensor requantization). */
EK_INLINE ek_hq_t ek_hq_dup(int32_t multiplier, int32_t shift) {
    ek_hq_t q;
    q.mult = vdupq_n_s32(multiplier);
    q.left = vdupq_n_s32(shift > 0 ? shift : 0);
    q.neg_right = vdupq_n_s32(shift < 0 ? shift : 0);
    return q;
}

/* Four scalar sums as one vector. */
EK_INLINE int32x4_t ek_vec4(int32_t a, int32_t b, int32_t c, int32_t d) {
    int32x4_t v = vdupq_n_s32(a);
    v = vsetq_lane_s32(b, v, 1);
    v = vsetq_lane_s32(c, v, 2);
    return vsetq_lane_s32(d, v, 3);
}

/* Dot products of x[0..n) with the weight rows w + r * stride, r < rows (1..4; the missing rows repeat
 * row 0: computed, never stored), int8 x int8 summed in int32: whole 16-byte steps unpredicated with
 * post-incremented pointers, then one tail-predicated step (lanes past n load nothing and add 0). */
EK_INLINE int32x4_t ek_dot4(const int8_t *x, const int8_t *w, int32_t stride, int32_t rows, int32_t n) {
    const int8_t *w1 = rows > 1 ? w + stride : w;
    const int8_t *w2 = rows > 2 ? w + 2 * stride : w;
    const int8_t *w3 = rows > 3 ? w + 3 * stride : w;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int32_t steps = n >> 4;
    const int32_t tail = n & 15;
    while (steps-- > 0) {
        const int8x16_t xv = vldrbq_s8(x);
        a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
        a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w1));
        a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w2));
        a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w3));
        x += 16;
        w += 16;
        w1 += 16;
        w2 += 16;
        w3 += 16;
    }
    if (tail != 0) {
        const mve_pred16_t pr = vctp8q((uint32_t)tail);
        const int8x16_t xv = vldrbq_z_s8(x, pr);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w, pr));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, pr));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, pr));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, pr));
    }
    return ek_vec4(a0, a1, a2, a3);
}

/* Output offset and activation bounds, as vectors, hoisted out of the kernels' loops. */
typedef struct {
    int32x4_t offset, lo, hi;
} ek_hout_t;

EK_INLINE ek_hout_t ek_hout(int32_t output_offset, int32_t act_min, int32_t act_max) {
    ek_hout_t o;
    o.offset = vdupq_n_s32(output_offset);
    o.lo = vdupq_n_s32(act_min);
    o.hi = vdupq_n_s32(act_max);
    return o;
}

/* ek_mul_by_quantized_mul on 4 lanes, then + output offset and the activation clamp. */
EK_INLINE int32x4_t ek_requant_out(int32x4_t x, const ek_hq_t *q, const ek_hout_t *o) {
    int32x4_t fixup;
    x = vshlq_s32(x, q->left);
    x = vqrdmulhq_s32(x, q->mult);
    fixup = vshrq_n_s32(vandq_s32(x, q->neg_right), 31);
    x = vqaddq_s32(x, fixup);
    x = vrshlq_s32(x, q->neg_right);
    x = vaddq_s32(x, o->offset);
    x = vmaxq_s32(x, o->lo);
    return vminq_s32(x, o->hi);
}

/* Requantization parameters packed on the host per group of 8 output channels (32 int32, see
 * engine_pack_helium.pack_requant_helium): multipliers [0, 8), left shifts [8, 16), minus the right
 * shifts [16, 24), folded biases [24, 32); lanes 0..3 then 4..7 of each, zero past the last channel.
 * One pointer, unpredicated loads, no per-value shift splitting. */
#define EK_RQ_GROUP 32

/* Lanes [lane, lane + 4) of a packed group: sums + bias, requantized, + output offset, clamped. */
EK_INLINE int32x4_t ek_rq_apply(int32x4_t sums, const int32_t *rq, int lane, const ek_hout_t *o) {
    ek_hq_t q;
    q.mult = vldrwq_s32(rq + lane);
    q.left = vldrwq_s32(rq + 8 + lane);
    q.neg_right = vldrwq_s32(rq + 16 + lane);
    return ek_requant_out(vaddq_s32(sums, vldrwq_s32(rq + 24 + lane)), &q, o);
}

/* Tables in even/odd lane order (CONV_2D and DEPTHWISE_CONV_2D: each group's channels
 * [c0 c2 c4 c6 c1 c3 c5 c7]): 1 when none of channels [0, n) shifts left and every one shifts right by
 * at least 1, so that the short form of the rounding shift applies (minus 1 for negative values, then
 * VRSHL: no mask needed to spare the channels that do not shift). */
EK_INLINE int ek_rq_right_only(const int32_t *rq, int32_t n) {
    int32_t c;
    for (c = 0; c < n; c++) {
        const int32_t *lane = rq + (size_t)(c / 8) * EK_RQ_GROUP + (c % 2) * 4 + (c % 8) / 2;
        if (lane[8] != 0 || lane[16] >= 0) {
            return 0;
        }
    }
    return 1;
}

/* Sums of a group of 8 channels in even/odd lanes, already holding the folded bias: requantized and
 * clamped, then interleaved back into channel order as 8 int8 in the low byte of each 16-bit lane
 * (what VSTRB.16 stores). */
EK_INLINE int16x8_t ek_rq_even_odd(int32x4_t even, int32x4_t odd, const int32_t *rq, const ek_hout_t *o) {
    ek_hq_t q;
    int16x8_t n = vuninitializedq_s16();
    q.mult = vldrwq_s32(rq);
    q.left = vldrwq_s32(rq + 8);
    q.neg_right = vldrwq_s32(rq + 16);
    even = ek_requant_out(even, &q, o);
    q.mult = vldrwq_s32(rq + 4);
    q.left = vldrwq_s32(rq + 12);
    q.neg_right = vldrwq_s32(rq + 20);
    odd = ek_requant_out(odd, &q, o);
    n = vmovnbq_s32(n, even);
    return vmovntq_s32(n, odd);
}

#endif /* EK_HELIUM_H */
