/* CONV_2D, int8, AArch64 Advanced SIMD (NEON) variant of reference/conv_2d.c (TFLM's
 * reference_integer_ops::ConvPerChannel). Same signature and results: only the dot product of a filter
 * row with the input is vectorized. When the filter taps of one row are adjacent in memory (dilation 1,
 * no groups) the whole row, (taps x channels) bytes, is one dot product. Each product is formed exactly
 * (16 x 16 -> 32 bits) and int32 addition is associative, so the sum equals the reference's; the
 * requantization is the reference's scalar code, and the output order is the reference's.
 * When the filter window is small, the input rows under it are first
 * copied next to each other (one pixel's patch, read before any of the pixel's outputs is written) so
 * that each output channel is a single long dot product: this is what makes a first layer with one
 * input channel (KWS: 10x4 taps) vector work. In a border window the taps outside the input are filled
 * with the input's zero point, whose offset input is exactly 0: the sum equals the reference's, which
 * skips those taps. */
#include <string.h>

#include "ek_kernels.h"

/* Largest filter window (taps x channels, bytes) gathered into a patch on the stack. */
#define EK_CONV_PATCH_BYTES 1024

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

/* First and one-past-last filter tap whose input coordinate origin + dilation * tap is inside [0, size). */
static void tap_range(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *start, int32_t *end) {
    int32_t s = 0;
    int32_t e;
    if (origin < 0) {
        s = (-origin + dilation - 1) / dilation;
    }
    e = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    *start = s;
    *end = e < taps ? e : taps;
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t filter_in_c = p->filter_in_c;
    const int32_t filters_per_group = p->out_c / (p->in_c / filter_in_c);
    const int32_t filter_size = p->filter_h * p->filter_w * filter_in_c;
    const int32_t input_offset = p->input_offset;
    const int32_t rev = p->reverse;
    /* Adjacent taps of a row are adjacent in memory, in the input and in the filter. */
    const int32_t row_contiguous = p->dilation_w == 1 && filter_in_c == p->in_c;
    const int32_t row_bytes = p->filter_w * filter_in_c;
    /* A patch pays off when the window has several rows; a one-row window is one dot product already. */
    const int32_t use_patch = row_contiguous && p->filter_h > 1 && filter_size <= EK_CONV_PATCH_BYTES;
    /* Border windows can use the patch too when the zero point is an int8 value (always, for int8). */
    const int32_t pad_patch = -input_offset >= INT8_MIN && -input_offset <= INT8_MAX;
    int8_t patch[EK_CONV_PATCH_BYTES];
    int32_t ib, iy, ix, ioc, fy, fx;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            int32_t fy_start, fy_end;
            tap_range(in_y0, p->dilation_h, p->filter_h, p->in_h, &fy_start, &fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int32_t fx_start, fx_end;
                tap_range(in_x0, p->dilation_w, p->filter_w, p->in_w, &fx_start, &fx_end);
                const int32_t full = fy_start == 0 && fy_end == p->filter_h && fx_start == 0 && fx_end == p->filter_w;
                if (use_patch && (full || pad_patch)) {
                    if (!full) {
                        /* Taps outside the input hold the input zero point: (zp + input_offset) is 0, so they
                         * add exactly nothing, as the reference's skipped taps. */
                        memset(patch, -input_offset, (size_t)filter_size);
                    }
                    for (fy = fy_start; fy < fy_end && fx_end > fx_start; fy++) {
                        const int32_t in_y = in_y0 + p->dilation_h * fy;
                        memcpy(patch + (size_t)fy * row_bytes + (size_t)fx_start * filter_in_c,
                               in_batch + ((size_t)in_y * p->in_w + in_x0 + fx_start) * p->in_c,
                               (size_t)(fx_end - fx_start) * filter_in_c);
                    }
                    for (ioc = 0; ioc < p->out_c; ioc++) {
                        const int32_t oc = EK_REVERSE(ioc, p->out_c, rev);
                        int32_t acc = dot_s8(filter + (size_t)oc * filter_size, patch, filter_size, 0, input_offset);
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]);
                        acc += p->output_offset;
                        out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
                    }
                    continue;
                }
                for (ioc = 0; ioc < p->out_c; ioc++) {
                    const int32_t oc = EK_REVERSE(ioc, p->out_c, rev);
                    const int32_t group_base = (oc / filters_per_group) * filter_in_c;
                    const int8_t *f_oc = filter + (size_t)oc * filter_size;
                    int32_t acc = 0;
                    for (fy = fy_start; fy < fy_end; fy++) {
                        const int32_t in_y = in_y0 + p->dilation_h * fy;
                        if (row_contiguous) {
                            const int32_t in_x = in_x0 + fx_start;
                            const int8_t *in_px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c;
                            const int8_t *f_px = f_oc + ((size_t)fy * p->filter_w + fx_start) * filter_in_c;
                            if (fx_end > fx_start) {
                                acc += dot_s8(f_px, in_px, (fx_end - fx_start) * filter_in_c, 0, input_offset);
                            }
                            continue;
                        }
                        for (fx = fx_start; fx < fx_end; fx++) {
                            const int32_t in_x = in_x0 + p->dilation_w * fx;
                            const int8_t *in_px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + group_base;
                            const int8_t *f_px = f_oc + ((size_t)fy * p->filter_w + fx) * filter_in_c;
                            acc += dot_s8(f_px, in_px, filter_in_c, 0, input_offset);
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]);
                    acc += p->output_offset;
                    out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
