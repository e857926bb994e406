/* FULLY_CONNECTED, int8, AArch64 Advanced SIMD (NEON) variant of reference/fully_connected.c.
 * Same signature and results: only the dot product is vectorized. Each product (f + filter_offset) *
 * (in + input_offset) is formed exactly in 16 bits x 16 bits -> 32 bits (both factors fit int16), and
 * int32 addition is associative, so the sum equals the reference's; the requantization is the
 * reference's scalar code. Outputs are written in the same order as the reference (reverse flag). */
#include "ek_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>

/* sum over d < n of (f[d] + f_off) * (x[d] + x_off), 16 lanes per step, scalar tail. Inlined: most calls
 * are short (one output of a 1x1 convolution over a few channels), where a call would cost as much as
 * the sum. */
EK_INLINE int32_t dot_s8(const int8_t *f, const int8_t *x, int32_t n, int32_t f_off, int32_t x_off) {
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
#else
EK_INLINE int32_t dot_s8(const int8_t *f, const int8_t *x, int32_t n, int32_t f_off, int32_t x_off) {
    int32_t acc = 0;
    int32_t d;
    for (d = 0; d < n; d++) {
        acc += ((int32_t)f[d] + f_off) * ((int32_t)x[d] + x_off);
    }
    return acc;
}
#endif

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t depth = p->accum_depth;
    int32_t ib, io;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, p->reverse);
        const int8_t *in = input + (size_t)b * depth;
        for (io = 0; io < p->out_depth; io++) {
            const int32_t o = EK_REVERSE(io, p->out_depth, p->reverse);
            const int32_t q = p->per_channel ? o : 0;
            int32_t acc = dot_s8(filter + (size_t)o * depth, in, depth, p->filter_offset, p->input_offset);
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = ek_mul_by_quantized_mul(acc, multiplier[q], shift[q]);
            acc += p->output_offset;
            output[(size_t)b * p->out_depth + o] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
        }
    }
}
