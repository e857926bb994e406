/* DEPTHWISE_CONV_2D, int8, per-channel requantization: the Arm DSP version of
 * reference/depthwise_conv_2d.c, with the same results bit for bit.
 *
 * With depth multiplier 1, four neighbouring channels share one 32-bit load of input and of weights
 * per filter tap: SXTAB16 widens the input and adds the offset, SXTB16 widens the weights, and
 * SMLABB/SMLATT multiply the even and odd lanes (10 instructions for 4 MACs, against ~4 per MAC in
 * the reference). Other depth multipliers and the last channels (< 4) take the scalar path.
 *
 * Write order: a group of channels of one pixel is written after all its inputs have been read, and
 * pixels and groups follow the reference order (reversed when `reverse` is set), so the planner's
 * in-place overlaps stay safe. */
#include "ek_dsp.h"
#include "ek_kernels.h"

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

typedef struct {
    const int8_t *in_batch;
    int32_t in_y0, in_x0, fy_start, fy_end, fx_start, fx_end;
} window_t;

EK_INLINE int8_t requant(int32_t acc, int32_t mult, int shift, const ek_conv_params_t *p) {
    acc = ek_requant_fast(acc, mult, shift) + p->output_offset;
    return (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
}

/* Output channels c .. c + 3 (depth multiplier 1). */
static void four_channels(const ek_conv_params_t *p, const window_t *win, const int8_t *filter, const int32_t *bias,
                          const int32_t *multiplier, const int8_t *shift, int32_t c, int8_t *out) {
    const uint32_t offset2 = ek_dup16(p->input_offset);
    const int32_t row_step = p->dilation_h * p->in_w * p->in_c;
    const int32_t col_step = p->dilation_w * p->in_c;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t fy, fx;
    const int8_t *in_row = win->in_batch + ((size_t)(win->in_y0 + p->dilation_h * win->fy_start) * p->in_w +
                                            (win->in_x0 + p->dilation_w * win->fx_start)) * p->in_c + c;
    for (fy = win->fy_start; fy < win->fy_end; fy++) {
        const int8_t *in_px = in_row;
        const int8_t *f_tap = filter + ((size_t)fy * p->filter_w + win->fx_start) * p->out_c + c;
        for (fx = win->fx_start; fx < win->fx_end; fx++) {
            const uint32_t x = ek_load32(in_px);
            const uint32_t w = ek_load32(f_tap);
            const uint32_t x02 = ek_sxtab16(offset2, x), x13 = ek_sxtab16(offset2, ek_ror8(x));
            const uint32_t w02 = ek_sxtb16(w), w13 = ek_sxtb16(ek_ror8(w));
            s0 = ek_smlabb(w02, x02, s0);
            s2 = ek_smlatt(w02, x02, s2);
            s1 = ek_smlabb(w13, x13, s1);
            s3 = ek_smlatt(w13, x13, s3);
            in_px += col_step;
            f_tap += p->out_c;
        }
        in_row += row_step;
    }
    if (bias != NULL) {
        s0 += bias[c];
        s1 += bias[c + 1];
        s2 += bias[c + 2];
        s3 += bias[c + 3];
    }
    out[c] = requant(s0, multiplier[c], shift[c], p);
    out[c + 1] = requant(s1, multiplier[c + 1], shift[c + 1], p);
    out[c + 2] = requant(s2, multiplier[c + 2], shift[c + 2], p);
    out[c + 3] = requant(s3, multiplier[c + 3], shift[c + 3], p);
}

/* One output channel, any depth multiplier. */
static int8_t one_channel(const ek_conv_params_t *p, const window_t *win, const int8_t *filter, const int32_t *bias,
                          const int32_t *multiplier, const int8_t *shift, int32_t oc) {
    const int32_t ic = oc / p->depth_multiplier;
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = win->fy_start; fy < win->fy_end; fy++) {
        const int32_t in_y = win->in_y0 + p->dilation_h * fy;
        const int8_t *in_row = win->in_batch + (size_t)in_y * p->in_w * p->in_c + ic;
        const int8_t *f_row = filter + (size_t)fy * p->filter_w * p->out_c + oc;
        for (fx = win->fx_start; fx < win->fx_end; fx++) {
            const int32_t in_x = win->in_x0 + p->dilation_w * fx;
            acc += (int32_t)f_row[(size_t)fx * p->out_c] * ((int32_t)in_row[(size_t)in_x * p->in_c] + p->input_offset);
        }
    }
    if (bias != NULL) {
        acc += bias[oc];
    }
    return requant(acc, multiplier[oc], shift[oc], p);
}

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t out_c = p->out_c;
    const int32_t rev = p->reverse;
    const int32_t groups = p->depth_multiplier == 1 ? out_c / 4 : 0;
    int32_t ib, iy, ix, ig, ioc;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        window_t win;
        win.in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            win.in_y0 = oy * p->stride_h - p->pad_h;
            tap_range(win.in_y0, p->dilation_h, p->filter_h, p->in_h, &win.fy_start, &win.fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * out_c;
                win.in_x0 = ox * p->stride_w - p->pad_w;
                tap_range(win.in_x0, p->dilation_w, p->filter_w, p->in_w, &win.fx_start, &win.fx_end);
                if (!rev) {
                    for (ig = 0; ig < groups; ig++) {
                        four_channels(p, &win, filter, bias, multiplier, shift, ig * 4, out);
                    }
                    for (ioc = groups * 4; ioc < out_c; ioc++) {
                        out[ioc] = one_channel(p, &win, filter, bias, multiplier, shift, ioc);
                    }
                } else {
                    for (ioc = out_c - 1; ioc >= groups * 4; ioc--) {
                        out[ioc] = one_channel(p, &win, filter, bias, multiplier, shift, ioc);
                    }
                    for (ig = groups - 1; ig >= 0; ig--) {
                        four_channels(p, &win, filter, bias, multiplier, shift, ig * 4, out);
                    }
                }
            }
        }
    }
}
