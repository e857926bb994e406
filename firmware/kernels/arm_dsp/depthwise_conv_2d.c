/* DEPTHWISE_CONV_2D, int8, per-channel requantization: the Arm DSP version of
 * reference/depthwise_conv_2d.c, with the same results bit for bit.
 *
 * Fast path (EK_DW_FAST: depth multiplier 1 or 4k, channels a multiple of 4, up to EK_DW_MAX_TAPS taps):
 * four neighbouring channels share one 32-bit load of input (with a multiplier 4k: one input byte,
 * duplicated into both halfwords with PKHBT) and of weights per filter tap; SXTAB16
 * widens the input and adds the offset, SXTB16 widens the weights, SMLABB/SMLATT multiply the even and
 * odd lanes (10 instructions for 4 MACs). Per output pixel a table holds each tap's input pixel; a tap
 * in the padding points at a row of input zero points in `scratch` instead, which contributes
 * (zero point + input offset) x w = 0, so border pixels take the same unrolled code as the interior.
 * The weights come packed by the generator (engine_ops.pack_depthwise_filter_dsp): per group of 4
 * channels, each tap's 4 weights in tap order. Other shapes take the scalar path, reference layout.
 *
 * Write order: a group of channels of one pixel is written after all its inputs have been read, and
 * pixels and groups follow the reference order (reversed when `reverse` is set), so the planner's
 * in-place overlaps stay safe. */
#include <string.h>

#include "ek_dsp.h"
#include "ek_kernels.h"

typedef struct {
    const int8_t *in_batch;
    int32_t in_y0, in_x0, fy_start, fy_end, fx_start, fx_end;
} window_t;

EK_INLINE int32_t requant_raw(int32_t acc, int32_t mult, int shift, const ek_conv_params_t *p) {
    const ek_requant_t q = ek_requant_setup(mult, shift);
    return ek_requant_apply(&q, acc) + p->output_offset;
}

EK_INLINE int8_t requant(int32_t acc, int32_t mult, int shift, const ek_conv_params_t *p) {
    return ek_clamp_s8(requant_raw(acc, mult, shift, p), p->act_min, p->act_max);
}

/* One filter tap for 4 channels: input bytes at in + c, weights at f (advanced by 4). On a DSP core one
 * asm block: written with intrinsics, gcc hoists the loads of all unrolled taps ahead of the MACs and
 * spills them to the stack. */
#if EK_HAS_DSP && defined(__GNUC__)
#define EK_DW_TAP(in, c, f)                                                                      \
    do {                                                                                         \
        uint32_t x_, w_, x02_, w02_;                                                             \
        __asm__("ldr %[x], [%[pin], %[pc]]\n\t"                                                  \
                "ldr %[w], [%[pf]], #4\n\t"                                                      \
                "sxtab16 %[x02], %[off], %[x]\n\t"                                               \
                "sxtab16 %[x], %[off], %[x], ror #8\n\t"                                         \
                "sxtb16 %[w02], %[w]\n\t"                                                        \
                "sxtb16 %[w], %[w], ror #8\n\t"                                                  \
                "smlabb %[s0], %[w02], %[x02], %[s0]\n\t"                                        \
                "smlatt %[s2], %[w02], %[x02], %[s2]\n\t"                                        \
                "smlabb %[s1], %[w], %[x], %[s1]\n\t"                                            \
                "smlatt %[s3], %[w], %[x], %[s3]"                                                 \
                : [x] "=&r"(x_), [w] "=&r"(w_), [x02] "=&r"(x02_), [w02] "=&r"(w02_), [s0] "+r"(s0), \
                  [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [pf] "+r"(f)                      \
                : [pin] "r"(in), [pc] "r"(c), [off] "r"(offset2)                                  \
                : "memory");                                                                     \
    } while (0)
/* The same for a depth multiplier that is a multiple of 4: the 4 channels read one input channel `ic`,
 * its value (offset added) in both halfwords. */
#define EK_DW_TAP_SHARED(in, ic, f)                                                              \
    do {                                                                                         \
        uint32_t x_, w_, w02_;                                                                   \
        __asm__("ldrsb %[x], [%[pin], %[pc]]\n\t"                                                \
                "ldr %[w], [%[pf]], #4\n\t"                                                      \
                "add %[x], %[x], %[offs]\n\t"                                                    \
                "pkhbt %[x], %[x], %[x], lsl #16\n\t"                                            \
                "sxtb16 %[w02], %[w]\n\t"                                                        \
                "sxtb16 %[w], %[w], ror #8\n\t"                                                  \
                "smlabb %[s0], %[w02], %[x], %[s0]\n\t"                                          \
                "smlatt %[s2], %[w02], %[x], %[s2]\n\t"                                          \
                "smlabb %[s1], %[w], %[x], %[s1]\n\t"                                            \
                "smlatt %[s3], %[w], %[x], %[s3]"                                                 \
                : [x] "=&r"(x_), [w] "=&r"(w_), [w02] "=&r"(w02_), [s0] "+r"(s0), [s1] "+r"(s1),     \
                  [s2] "+r"(s2), [s3] "+r"(s3), [pf] "+r"(f)                                     \
                : [pin] "r"(in), [pc] "r"(ic), [offs] "r"(p->input_offset)                       \
                : "memory");                                                                     \
    } while (0)
#else
#define EK_DW_TAP_SHARED(in, ic, f)                                                             \
    do {                                                                                        \
        const uint32_t x_ = ek_dup16((int32_t)(in)[ic] + p->input_offset);                      \
        const uint32_t w_ = ek_load32(f);                                                       \
        const uint32_t w02_ = ek_sxtb16(w_), w13_ = ek_sxtb16_ror8(w_);                         \
        (f) += 4;                                                                               \
        s0 = ek_smlabb(w02_, x_, s0);                                                           \
        s2 = ek_smlatt(w02_, x_, s2);                                                           \
        s1 = ek_smlabb(w13_, x_, s1);                                                           \
        s3 = ek_smlatt(w13_, x_, s3);                                                           \
    } while (0)
#define EK_DW_TAP(in, c, f)                                                                     \
    do {                                                                                        \
        const uint32_t x_ = ek_load32((in) + (c));                                              \
        const uint32_t w_ = ek_load32(f);                                                       \
        const uint32_t x02_ = ek_sxtab16(offset2, x_), x13_ = ek_sxtab16_ror8(offset2, x_);     \
        const uint32_t w02_ = ek_sxtb16(w_), w13_ = ek_sxtb16_ror8(w_);                         \
        (f) += 4;                                                                               \
        s0 = ek_smlabb(w02_, x02_, s0);                                                         \
        s2 = ek_smlatt(w02_, x02_, s2);                                                         \
        s1 = ek_smlabb(w13_, x13_, s1);                                                         \
        s3 = ek_smlatt(w13_, x13_, s3);                                                         \
    } while (0)
#endif

EK_INLINE void store_four(const ek_conv_params_t *p, const int32_t *bias, const int32_t *multiplier,
                          const int8_t *shift, int32_t c, int32_t s0, int32_t s1, int32_t s2, int32_t s3,
                          int8_t *out) {
    if (bias != NULL) {
        s0 += bias[c];
        s1 += bias[c + 1];
        s2 += bias[c + 2];
        s3 += bias[c + 3];
    }
    if (ek_full_range(p->act_min, p->act_max)) {
        out[c] = ek_sat_s8(requant_raw(s0, multiplier[c], shift[c], p));
        out[c + 1] = ek_sat_s8(requant_raw(s1, multiplier[c + 1], shift[c + 1], p));
        out[c + 2] = ek_sat_s8(requant_raw(s2, multiplier[c + 2], shift[c + 2], p));
        out[c + 3] = ek_sat_s8(requant_raw(s3, multiplier[c + 3], shift[c + 3], p));
    } else {
        out[c] = requant(s0, multiplier[c], shift[c], p);
        out[c + 1] = requant(s1, multiplier[c + 1], shift[c + 1], p);
        out[c + 2] = requant(s2, multiplier[c + 2], shift[c + 2], p);
        out[c + 3] = requant(s3, multiplier[c + 3], shift[c + 3], p);
    }
}

/* Fast path, channels c .. c + 3 of one pixel: `taps` holds each tap's input pixel (or the padding
 * row), `f` the group's packed weights. Nine taps (3x3) are unrolled. */
static void four_channels_fast(const ek_conv_params_t *p, const int8_t *const *taps, int32_t ntaps, const int8_t *f,
                               const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int32_t c,
                               int8_t *out) {
    const uint32_t offset2 = ek_dup16(p->input_offset);
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (p->depth_multiplier != 1) {
        /* Depth multiplier 4k: output channels c .. c + 3 all read input channel c / dm. */
        const int32_t ic = c / p->depth_multiplier;
        int32_t t;
        (void)offset2;
        for (t = 0; t < ntaps; t++) {
            EK_DW_TAP_SHARED(taps[t], ic, f);
        }
    } else if (ntaps == 9) {
        EK_DW_TAP(taps[0], c, f);
        EK_DW_TAP(taps[1], c, f);
        EK_DW_TAP(taps[2], c, f);
        EK_DW_TAP(taps[3], c, f);
        EK_DW_TAP(taps[4], c, f);
        EK_DW_TAP(taps[5], c, f);
        EK_DW_TAP(taps[6], c, f);
        EK_DW_TAP(taps[7], c, f);
        EK_DW_TAP(taps[8], c, f);
    } else {
        int32_t t;
        for (t = 0; t < ntaps; t++) {
            EK_DW_TAP(taps[t], c, f);
        }
    }
    store_four(p, bias, multiplier, shift, c, s0, s1, s2, s3, out);
}

/* Output channels c .. c + 3 (depth multiplier 1), any window. */
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
            const int8_t *f_next = f_tap;
            EK_DW_TAP(in_px, 0, f_next);
            in_px += col_step;
            f_tap += p->out_c;
        }
        in_row += row_step;
    }
    store_four(p, bias, multiplier, shift, c, s0, s1, s2, s3, out);
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

static void fast_path(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *multiplier, const int8_t *shift, int8_t *output, int8_t *pad_row) {
    const int32_t ntaps = p->filter_h * p->filter_w;
    const int32_t groups = p->out_c / 4;
    const int32_t rev = p->reverse;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int8_t *taps[EK_DW_MAX_TAPS];
    int32_t offsets[EK_DW_MAX_TAPS]; /* each tap's input byte offset from the window's corner */
    /* A window wholly inside the input starts at in_y0 in [0, y_last] and in_x0 in [0, x_last]. */
    const int32_t y_last = p->in_h - 1 - p->dilation_h * (p->filter_h - 1);
    const int32_t x_last = p->in_w - 1 - p->dilation_w * (p->filter_w - 1);
    ek_pixel_t q = ek_pixel_first(p);
    int32_t i, ig, fy, fx, n = 0;

    memset(pad_row, (int)(int8_t)(-p->input_offset), (size_t)p->in_c);
    for (fy = 0; fy < p->filter_h; fy++) {
        for (fx = 0; fx < p->filter_w; fx++, n++) {
            offsets[n] = (p->dilation_h * fy * p->in_w + p->dilation_w * fx) * p->in_c;
        }
    }
    for (i = 0; i < pixels; i++, ek_pixel_next(p, &q)) {
        const int32_t in_y0 = q.y * p->stride_h - p->pad_h;
        const int32_t in_x0 = q.x * p->stride_w - p->pad_w;
        const int8_t *in_batch = input + (size_t)q.b * p->in_h * p->in_w * p->in_c;
        int8_t *out = output + (size_t)ek_pixel_index(p, &q) * p->out_c;
        n = 0;
        if (in_y0 >= 0 && in_y0 <= y_last && in_x0 >= 0 && in_x0 <= x_last) {
            /* Interior pixel: one add per tap. */
            const int8_t *corner = in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c;
            for (n = 0; n < ntaps; n++) {
                taps[n] = corner + offsets[n];
            }
        } else {
            for (fy = 0; fy < p->filter_h; fy++) {
                const int32_t in_y = in_y0 + p->dilation_h * fy;
                for (fx = 0; fx < p->filter_w; fx++, n++) {
                    const int32_t in_x = in_x0 + p->dilation_w * fx;
                    const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                    taps[n] = inside ? in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c : pad_row;
                }
            }
        }
        for (ig = 0; ig < groups; ig++) {
            const int32_t g = rev ? groups - 1 - ig : ig;
            four_channels_fast(p, taps, ntaps, filter + (size_t)g * ntaps * 4, bias, multiplier, shift, g * 4, out);
        }
    }
}

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch) {
    const int32_t out_c = p->out_c;
    const int32_t rev = p->reverse;
    const int32_t groups = p->depth_multiplier == 1 ? out_c / 4 : 0;
    int32_t ib, iy, ix, ig, ioc;

    if (EK_DW_FAST(p)) {
        fast_path(p, input, filter, bias, multiplier, shift, output, scratch);
        return;
    }
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        window_t win;
        win.in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            win.in_y0 = oy * p->stride_h - p->pad_h;
            ek_tap_range(win.in_y0, p->dilation_h, p->filter_h, p->in_h, &win.fy_start, &win.fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * out_c;
                win.in_x0 = ox * p->stride_w - p->pad_w;
                ek_tap_range(win.in_x0, p->dilation_w, p->filter_w, p->in_w, &win.fx_start, &win.fx_end);
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
