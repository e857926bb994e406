/* DEPTHWISE_CONV_2D, int8, AArch64 Advanced SIMD (NEON) variant of reference/depthwise_conv_2d.c (TFLM's
 * reference_integer_ops::DepthwiseConvPerChannel). Same signature and results. With depth multiplier 1,
 * eight adjacent channels of one output pixel are accumulated together (channels are adjacent in the
 * input and in the filter); each product is exact (16 x 16 -> 32 bits) and each channel sums the same
 * products as the reference, so the int32 sums are equal; they are requantized four at a time
 * (ek_neon.h shows that bit-exact too).
 * Outputs are written in ascending channel order (descending when reversed), and every input of a
 * group of eight is read before any of the group's outputs is written: each output still has all its
 * inputs read before it is written, and no earlier write precedes a read than in the reference, so
 * the planner's in-place overlap stays valid. Other depth multipliers take the reference loop. */
#include "ek_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include "ek_neon.h"
#define EK_DW_LANES 8
#else
#define EK_DW_LANES 0
#endif

/* One output channel, as the reference computes it. */
static int32_t channel_sum(const ek_conv_params_t *p, const int8_t *in_batch, const int8_t *filter, int32_t in_y0,
                           int32_t in_x0, int32_t fy_start, int32_t fy_end, int32_t fx_start, int32_t fx_end,
                           int32_t oc) {
    const int32_t ic = oc / p->depth_multiplier;
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = fy_start; fy < fy_end; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int8_t *in_row = in_batch + (size_t)in_y * p->in_w * p->in_c + ic;
        const int8_t *f_row = filter + (size_t)fy * p->filter_w * p->out_c + oc;
        for (fx = fx_start; fx < fx_end; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            acc += (int32_t)f_row[(size_t)fx * p->out_c] * ((int32_t)in_row[(size_t)in_x * p->in_c] + p->input_offset);
        }
    }
    return acc;
}

#if EK_DW_LANES
/* Channels c .. c+7 (depth multiplier 1): sums, requantized four at a time, stored to out[c .. c+7]. */
static void group_outputs(const ek_conv_params_t *p, const int8_t *in_batch, const int8_t *filter, int32_t in_y0,
                          int32_t in_x0, int32_t fy_start, int32_t fy_end, int32_t fx_start, int32_t fx_end,
                          int32_t c, const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                          int8_t *out) {
    const int16x8_t x_off = vdupq_n_s16((int16_t)p->input_offset);
    int32x4_t lo = vdupq_n_s32(0);
    int32x4_t hi = vdupq_n_s32(0);
    int32_t fy, fx;
    for (fy = fy_start; fy < fy_end; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int8_t *in_row = in_batch + (size_t)in_y * p->in_w * p->in_c + c;
        const int8_t *f_row = filter + (size_t)fy * p->filter_w * p->out_c + c;
        for (fx = fx_start; fx < fx_end; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            const int16x8_t x = vaddq_s16(vmovl_s8(vld1_s8(in_row + (size_t)in_x * p->in_c)), x_off);
            const int16x8_t f = vmovl_s8(vld1_s8(f_row + (size_t)fx * p->out_c));
            lo = vmlal_s16(lo, vget_low_s16(f), vget_low_s16(x));
            hi = vmlal_high_s16(hi, f, x);
        }
    }
    if (bias != NULL) {
        lo = vaddq_s32(lo, vld1q_s32(bias + c));
        hi = vaddq_s32(hi, vld1q_s32(bias + c + 4));
    }
    lo = ek_neon_requant(lo, vld1q_s32(multiplier + c), ek_neon_shift4(shift + c), p->output_offset, p->act_min,
                         p->act_max);
    hi = ek_neon_requant(hi, vld1q_s32(multiplier + c + 4), ek_neon_shift4(shift + c + 4), p->output_offset,
                         p->act_min, p->act_max);
    ek_neon_store4(out + c, lo);
    ek_neon_store4(out + c + 4, hi);
}
#endif

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch) {
    (void)scratch; /* padding taps are skipped, not read from a padding row */
    const int32_t out_c = p->out_c;
    const int32_t rev = p->reverse;
    const int32_t lanes = p->depth_multiplier == 1 ? EK_DW_LANES : 0;
    const int32_t groups = lanes > 0 ? out_c / lanes : 0;
    int32_t ib, iy, ix, ig, ioc;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            int32_t fy_start, fy_end;
            ek_tap_range(in_y0, p->dilation_h, p->filter_h, p->in_h, &fy_start, &fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * out_c;
                int32_t fx_start, fx_end;
                ek_tap_range(in_x0, p->dilation_w, p->filter_w, p->in_w, &fx_start, &fx_end);
                /* Channels past the last whole group of eight come after the groups in memory: walk them
                 * first when reversed, last otherwise, so that writes stay in one direction. */
                if (rev) {
                    for (ioc = out_c - 1; ioc >= groups * lanes; ioc--) {
                        out[ioc] = ek_conv_output(p, channel_sum(p, in_batch, filter, in_y0, in_x0, fy_start, fy_end,
                                                             fx_start, fx_end, ioc),
                                              bias, multiplier, shift, ioc);
                    }
                }
#if EK_DW_LANES
                for (ig = 0; ig < groups; ig++) {
                    const int32_t c = EK_REVERSE(ig, groups, rev) * lanes;
                    group_outputs(p, in_batch, filter, in_y0, in_x0, fy_start, fy_end, fx_start, fx_end, c, bias,
                                  multiplier, shift, out);
                }
#else
                (void)ig;
#endif
                if (!rev) {
                    for (ioc = groups * lanes; ioc < out_c; ioc++) {
                        out[ioc] = ek_conv_output(p, channel_sum(p, in_batch, filter, in_y0, in_x0, fy_start, fy_end,
                                                             fx_start, fx_end, ioc),
                                              bias, multiplier, shift, ioc);
                    }
                }
            }
        }
    }
}
