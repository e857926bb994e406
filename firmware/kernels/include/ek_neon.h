/*
 * Helpers shared by the AArch64 NEON kernels: int8 dot products with offsets, and TFLM's
 * requantization of four outputs at once. Included only when __aarch64__ and __ARM_NEON are defined.
 *
 * Bit-exactness (the reference kernels in ../reference are the specification):
 *  - dot products: every product (f + f_off) * (x + x_off) is formed exactly (16 x 16 -> 32 bits;
 *    both factors fit int16) and int32 addition is associative, so each sum equals the reference's.
 *  - requantization follows ek_mul_by_quantized_mul step by step. The left shift is a wrapping
 *    shift (SSHL). SQRDMULH computes saturate((2ab + 2^31) >> 32) = floor((ab + 2^30) / 2^31), which
 *    equals gemmlowp's SaturatingRoundingDoublingHighMul for ab >= 0 (same expression) and for ab < 0
 *    (trunc((ab + 1 - 2^30) / 2^31) = -floor((|ab| + 2^30 - 1) / 2^31) = -ceil((|ab| - 2^30) / 2^31)),
 *    saturating INT32_MIN * INT32_MIN alike. The rounding right shift by e > 0 adds -1 to a negative
 *    x (saturating, which only changes INT32_MIN, whose result it does not change) and then rounds
 *    half up (SRSHL, computed without overflow): for x = q 2^e + r, 0 <= r < 2^e, that is q + 1 exactly
 *    when r > 2^(e-1) for negative x and r >= 2^(e-1) otherwise, as ek_rounding_divide_by_pot.
 *    The output offset and the clamp are plain int32 operations.
 */
#ifndef EK_NEON_H
#define EK_NEON_H

#include <arm_neon.h>
#include <string.h>

#include "ek_kernels.h"

/* sum over d < n of (f[d] + f_off) * (x[d] + x_off), 16 lanes per step, scalar tail. */
EK_INLINE int32_t ek_neon_dot(const int8_t *f, const int8_t *x, int32_t n, int32_t f_off, int32_t x_off) {
    const int16x8_t vf_off = vdupq_n_s16((int16_t)f_off);
    const int16x8_t vx_off = vdupq_n_s16((int16_t)x_off);
    int32x4_t acc0 = vdupq_n_s32(0);
    int32x4_t acc1 = vdupq_n_s32(0);
    int32_t d = 0;
    int32_t acc;
    for (; d + 16 <= n; d += 16) {
        const int8x16_t f8 = vld1q_s8(f + d);
        const int8x16_t x8 = vld1q_s8(x + d);
        const int16x8_t f_lo = vaddq_s16(vmovl_s8(vget_low_s8(f8)), vf_off);
        const int16x8_t f_hi = vaddq_s16(vmovl_high_s8(f8), vf_off);
        const int16x8_t x_lo = vaddq_s16(vmovl_s8(vget_low_s8(x8)), vx_off);
        const int16x8_t x_hi = vaddq_s16(vmovl_high_s8(x8), vx_off);
        acc0 = vmlal_s16(acc0, vget_low_s16(f_lo), vget_low_s16(x_lo));
        acc1 = vmlal_high_s16(acc1, f_lo, x_lo);
        acc0 = vmlal_s16(acc0, vget_low_s16(f_hi), vget_low_s16(x_hi));
        acc1 = vmlal_high_s16(acc1, f_hi, x_hi);
    }
    for (; d + 8 <= n; d += 8) {
        const int16x8_t f16 = vaddq_s16(vmovl_s8(vld1_s8(f + d)), vf_off);
        const int16x8_t x16 = vaddq_s16(vmovl_s8(vld1_s8(x + d)), vx_off);
        acc0 = vmlal_s16(acc0, vget_low_s16(f16), vget_low_s16(x16));
        acc1 = vmlal_high_s16(acc1, f16, x16);
    }
    acc = vaddvq_s32(vaddq_s32(acc0, acc1));
    for (; d < n; d++) {
        acc += ((int32_t)f[d] + f_off) * ((int32_t)x[d] + x_off);
    }
    return acc;
}

/* The dot products of four filter rows f, f + stride, f + 2 stride, f + 3 stride with one input
 * vector x (loaded and offset once for all four), as lanes 0..3. Four named accumulators, so that
 * they stay in registers. */
EK_INLINE int32x4_t ek_neon_dot4(const int8_t *f, size_t stride, const int8_t *x, int32_t n, int32_t f_off,
                                 int32_t x_off) {
    const int16x8_t vf_off = vdupq_n_s16((int16_t)f_off);
    const int16x8_t vx_off = vdupq_n_s16((int16_t)x_off);
    const int8_t *f0 = f;
    const int8_t *f1 = f + stride;
    const int8_t *f2 = f + 2 * stride;
    const int8_t *f3 = f + 3 * stride;
    int32x4_t a0 = vdupq_n_s32(0);
    int32x4_t a1 = vdupq_n_s32(0);
    int32x4_t a2 = vdupq_n_s32(0);
    int32x4_t a3 = vdupq_n_s32(0);
    int32_t tail[4] = {0, 0, 0, 0};
    int32_t d = 0;
    for (; d + 8 <= n; d += 8) {
        const int16x8_t x16 = vaddq_s16(vmovl_s8(vld1_s8(x + d)), vx_off);
        const int16x8_t g0 = vaddq_s16(vmovl_s8(vld1_s8(f0 + d)), vf_off);
        const int16x8_t g1 = vaddq_s16(vmovl_s8(vld1_s8(f1 + d)), vf_off);
        const int16x8_t g2 = vaddq_s16(vmovl_s8(vld1_s8(f2 + d)), vf_off);
        const int16x8_t g3 = vaddq_s16(vmovl_s8(vld1_s8(f3 + d)), vf_off);
        a0 = vmlal_high_s16(vmlal_s16(a0, vget_low_s16(g0), vget_low_s16(x16)), g0, x16);
        a1 = vmlal_high_s16(vmlal_s16(a1, vget_low_s16(g1), vget_low_s16(x16)), g1, x16);
        a2 = vmlal_high_s16(vmlal_s16(a2, vget_low_s16(g2), vget_low_s16(x16)), g2, x16);
        a3 = vmlal_high_s16(vmlal_s16(a3, vget_low_s16(g3), vget_low_s16(x16)), g3, x16);
    }
    for (; d < n; d++) {
        const int32_t xd = (int32_t)x[d] + x_off;
        tail[0] += ((int32_t)f0[d] + f_off) * xd;
        tail[1] += ((int32_t)f1[d] + f_off) * xd;
        tail[2] += ((int32_t)f2[d] + f_off) * xd;
        tail[3] += ((int32_t)f3[d] + f_off) * xd;
    }
    /* Pairwise sums: lane k of the result is the sum of the four lanes of a<k>. */
    return vaddq_s32(vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3)), vld1q_s32(tail));
}

/* ek_mul_by_quantized_mul(acc + bias, multiplier, shift) + output offset, clamped, for four lanes. */
EK_INLINE int32x4_t ek_neon_requant(int32x4_t acc, int32x4_t multiplier, int32x4_t shift, int32_t output_offset,
                                    int32_t act_min, int32_t act_max) {
    const int32x4_t zero = vdupq_n_s32(0);
    const int32x4_t left = vmaxq_s32(shift, zero);
    const int32x4_t right = vminq_s32(shift, zero); /* minus the right shift, as SRSHL wants it */
    int32x4_t x = vshlq_s32(acc, left);
    x = vqrdmulhq_s32(x, multiplier);
    /* -1 for negative x when shifting right: the sign bit of (x & right) is set exactly then. */
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, right), 31));
    x = vrshlq_s32(x, right);
    x = vaddq_s32(x, vdupq_n_s32(output_offset));
    return vminq_s32(vmaxq_s32(x, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

/* Four per-channel shifts (int8 in the parameter arrays) as int32 lanes, without reading past them. */
EK_INLINE int32x4_t ek_neon_shift4(const int8_t *shift) {
    const int32_t lanes[4] = {shift[0], shift[1], shift[2], shift[3]};
    return vld1q_s32(lanes);
}

/* Four clamped int8 values (lanes 0..3) to out[0..3], in one store. */
EK_INLINE void ek_neon_store4(int8_t *out, int32x4_t v) {
    const int16x4_t narrow16 = vmovn_s32(v);
    const int8x8_t narrow8 = vmovn_s16(vcombine_s16(narrow16, narrow16));
    const int32_t word = vget_lane_s32(vreinterpret_s32_s8(narrow8), 0);
    memcpy(out, &word, sizeof word); /* little-endian: lane 0 is out[0] */
}

#endif /* EK_NEON_H */
