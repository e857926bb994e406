/* CONV_2D, int8, AArch64 Advanced SIMD (NEON) variant of reference/conv_2d.c (TFLM's
 * reference_integer_ops::ConvPerChannel). Same signature and results.
 *
 * When the taps of a filter row are adjacent in memory (dilation 1 across, no groups) and the filter
 * window is at most EK_CONV_PATCH_BYTES, the input under the window becomes one contiguous vector: the
 * input itself for a one-row window inside the input (1x1 convolutions), else a patch on the stack
 * with the window's rows copied next to each other. Each output channel is then one dot product with
 * that vector, four channels at a time (sharing the input loads), requantized four at a time
 * (ek_neon.h shows both bit-exact). In a border window the taps outside the input hold the input zero
 * point, whose offset value is exactly 0, where the reference skips them: the sums are equal. Other
 * convolutions take the reference loops.
 *
 * Order: per pixel, the channels past the last group of four come first when reversed, last
 * otherwise, and groups walk in the reference's direction; every input a group reads is read before
 * the group's outputs are written, so no output is written before an input it needs is read, and no
 * write comes earlier than in the reference: the planner's in-place overlap stays valid. */
#include <string.h>

#include "ek_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include "ek_neon.h"
#define EK_CONV_LANES 4
#else
#define EK_CONV_LANES 0
#endif

/* Largest filter window (taps x channels, bytes) gathered into a patch on the stack. */
#define EK_CONV_PATCH_BYTES 1024

static int32_t dot(const int8_t *f, const int8_t *x, int32_t n, int32_t x_off) {
#if EK_CONV_LANES
    return ek_neon_dot(f, x, n, 0, x_off);
#else
    int32_t acc = 0;
    int32_t d;
    for (d = 0; d < n; d++) {
        acc += (int32_t)f[d] * ((int32_t)x[d] + x_off);
    }
    return acc;
#endif
}

/* Every output channel of one pixel from its window vector x (filter_size bytes). */
static void pixel_from_window(const ek_conv_params_t *p, const int8_t *x, int32_t filter_size, const int8_t *filter,
                              const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *out) {
    const int32_t groups = EK_CONV_LANES > 0 ? p->out_c / EK_CONV_LANES : 0;
    const int32_t grouped = groups * EK_CONV_LANES;
    int32_t ioc, ig;
    if (p->reverse) {
        for (ioc = p->out_c - 1; ioc >= grouped; ioc--) {
            out[ioc] = ek_conv_output(p, dot(filter + (size_t)ioc * filter_size, x, filter_size, p->input_offset), bias,
                                  multiplier, shift, ioc);
        }
    }
#if EK_CONV_LANES
    for (ig = 0; ig < groups; ig++) {
        const int32_t oc = EK_REVERSE(ig, groups, p->reverse) * EK_CONV_LANES;
        int32x4_t acc = ek_neon_dot4(filter + (size_t)oc * filter_size, (size_t)filter_size, x, filter_size, 0,
                                     p->input_offset);
        if (bias != NULL) {
            acc = vaddq_s32(acc, vld1q_s32(bias + oc));
        }
        ek_neon_store4(out + oc, ek_neon_requant(acc, vld1q_s32(multiplier + oc), ek_neon_shift4(shift + oc),
                                                 p->output_offset, p->act_min, p->act_max));
    }
#else
    (void)ig;
#endif
    if (!p->reverse) {
        for (ioc = grouped; ioc < p->out_c; ioc++) {
            out[ioc] = ek_conv_output(p, dot(filter + (size_t)ioc * filter_size, x, filter_size, p->input_offset), bias,
                                  multiplier, shift, ioc);
        }
    }
}

/* One pixel the reference way (groups, dilated rows, large windows). */
static void pixel_reference(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                            int32_t fy_start, int32_t fy_end, int32_t fx_start, int32_t fx_end, const int8_t *filter,
                            const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *out) {
    const int32_t filter_in_c = p->filter_in_c;
    const int32_t filters_per_group = p->out_c / (p->in_c / filter_in_c);
    const int32_t filter_size = p->filter_h * p->filter_w * filter_in_c;
    int32_t ioc, fy, fx;
    for (ioc = 0; ioc < p->out_c; ioc++) {
        const int32_t oc = EK_REVERSE(ioc, p->out_c, p->reverse);
        const int32_t group_base = (oc / filters_per_group) * filter_in_c;
        const int8_t *f_oc = filter + (size_t)oc * filter_size;
        int32_t acc = 0;
        for (fy = fy_start; fy < fy_end; fy++) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            for (fx = fx_start; fx < fx_end; fx++) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                const int8_t *in_px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + group_base;
                const int8_t *f_px = f_oc + ((size_t)fy * p->filter_w + fx) * filter_in_c;
                acc += dot(f_px, in_px, filter_in_c, p->input_offset);
            }
        }
        out[oc] = ek_conv_output(p, acc, bias, multiplier, shift, oc);
    }
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    (void)scratch; /* the NEON kernel reads its patches in place */
    const int32_t filter_in_c = p->filter_in_c;
    const int32_t filter_size = p->filter_h * p->filter_w * filter_in_c;
    const int32_t rev = p->reverse;
    const int32_t row_bytes = p->filter_w * filter_in_c;
    /* Zero point of the input: (zero_point + input_offset) == 0. An int8 value for every int8 model. */
    const int32_t zero_point = -p->input_offset;
    const int32_t windows = p->dilation_w == 1 && filter_in_c == p->in_c && filter_size <= EK_CONV_PATCH_BYTES &&
                            zero_point >= INT8_MIN && zero_point <= INT8_MAX;
    int8_t patch[EK_CONV_PATCH_BYTES];
    int32_t ib, iy, ix, fy;

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
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int32_t fx_start, fx_end;
                int32_t full;
                ek_tap_range(in_x0, p->dilation_w, p->filter_w, p->in_w, &fx_start, &fx_end);
                if (!windows) {
                    pixel_reference(p, in_batch, in_y0, in_x0, fy_start, fy_end, fx_start, fx_end, filter, bias,
                                    multiplier, shift, out);
                    continue;
                }
                full = fy_start == 0 && fy_end == p->filter_h && fx_start == 0 && fx_end == p->filter_w;
                if (full && p->filter_h == 1) {
                    /* One row inside the input: the input itself is the window vector. */
                    pixel_from_window(p, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c, filter_size, filter,
                                      bias, multiplier, shift, out);
                    continue;
                }
                if (!full) {
                    memset(patch, zero_point, (size_t)filter_size);
                }
                for (fy = fy_start; fy < fy_end && fx_end > fx_start; fy++) {
                    const int32_t in_y = in_y0 + p->dilation_h * fy;
                    memcpy(patch + (size_t)fy * row_bytes + (size_t)fx_start * filter_in_c,
                           in_batch + ((size_t)in_y * p->in_w + in_x0 + fx_start) * p->in_c,
                           (size_t)(fx_end - fx_start) * filter_in_c);
                }
                pixel_from_window(p, patch, filter_size, filter, bias, multiplier, shift, out);
            }
        }
    }
}
