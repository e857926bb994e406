/* DEPTHWISE_CONV_2D, int8, per-channel requantization: the Helium (MVE) version of
 * reference/depthwise_conv_2d.c, with the same results bit for bit.
 *
 * Depth multiplier 1 (every MLPerf Tiny model): one output pixel at a time, eight channels per step.
 * Pixels whose window lies inside the image go in runs, their taps fixed offsets from the window's
 * corner (interior_run); for a border pixel a table holds each tap's input pixel, or for a tap in the
 * padding a row of input zero points kept in `scratch` (EK_HELIUM_DW_SCRATCH(in_c) bytes; ek_helium.h: the bias arrives folded with the
 * input offset, so a padding tap must cancel its share). Per tap and 8 channels: two widening loads
 * (VLDRB.S16), VMULLB + VMULLT and two VADD (MVE has no vector-by-vector VMLA); the last group of
 * channels is tail-predicated. On this path `bias` is the generator's packed requantization table
 * (ek_helium.h EK_RQ_GROUP) with each group's lanes in the accumulators' order [c0 c2 c4 c6 c1 c3 c5 c7]
 * (engine_pack_helium.even_odd_order), and `multiplier` / `shift` are unused; in channel order (the
 * folded bias only) otherwise. Other depth multipliers, or filters with more than EK_HELIUM_DW_MAX_TAPS
 * taps, take a scalar loop with the same arithmetic.
 *
 * Write order: an output group is written after every input it reads; pixels and channel groups follow
 * the reference order (reversed when `reverse` is set). */
#include <string.h>

#include "ek_helium.h"
#include "ek_kernels.h"

/* Output channels c..c+count-1 (count 1..8) of one pixel, from its tap table. Per tap, 8 channels of
 * input and weights are widened to int16 as they load; VMULLB / VMULLT multiply the even and the odd
 * lanes into int32 products (exact: int8 x int8), added to one accumulator each. `rq` is the group's
 * packed requantization table in even/odd lane order (see the file comment), so the two accumulators
 * requantize with plain loads; VMOVNB / VMOVNT interleave them back into channel order. `full`
 * (count == 8, a constant where it is inlined) drops the predication. */
EK_INLINE void channels(const int8_t *const *taps, int32_t ntaps, int32_t oc, const int8_t *filter, const int32_t *rq,
                        const ek_hout_t *o, int32_t c, int32_t count, int full, int8_t *out) {
    const mve_pred16_t pred = vctp16q((uint32_t)count);
    const int8_t *w = filter + c;
    int32x4_t even = vdupq_n_s32(0);
    int32x4_t odd = vdupq_n_s32(0);
    int16x8_t narrowed = vdupq_n_s16(0);
    int32_t t;
    for (t = 0; t < ntaps; t++) {
        const int16x8_t x = full ? vldrbq_s16(taps[t] + c) : vldrbq_z_s16(taps[t] + c, pred);
        const int16x8_t k = full ? vldrbq_s16(w) : vldrbq_z_s16(w, pred);
        even = vaddq_s32(even, vmullbq_int_s16(x, k));
        odd = vaddq_s32(odd, vmulltq_int_s16(x, k));
        w += oc;
    }
    narrowed = vmovnbq_s32(narrowed, ek_rq_apply(even, rq, 0, o));
    narrowed = vmovntq_s32(narrowed, ek_rq_apply(odd, rq, 4, o));
    if (full) {
        vstrbq_s16(out + c, narrowed);
    } else {
        vstrbq_p_s16(out + c, narrowed, pred);
    }
}

/* What the pixels of a layer share, for runs of pixels whose windows lie inside the image. */
typedef struct {
    const int8_t *filter;
    const int32_t *rq;
    const int32_t *offsets; /* each tap's input offset from the window's corner */
    ek_hout_t out;
    int32_t oc, ntaps, reverse;
} dw_t;

/* `npix` pixels whose windows lie inside the image, corners corner_step apart and outputs out_step
 * apart (negative when reversed): the taps are fixed offsets from the corner, so no table is built.
 * A function of its own, so that its loop keeps its values in registers, compiled without gcc's
 * instruction scheduling so that the software-pipelined order below stays as written. */
static __attribute__((noinline, optimize("no-schedule-insns", "no-schedule-insns2"))) void interior_run(const dw_t *d, const int8_t *corner, int32_t corner_step,
                                                   int32_t npix, int8_t *out, int32_t out_step) {
    const int32_t oc = d->oc;
    const int32_t groups8 = (oc + 7) / 8;
    int32_t ip, ig, t;
    for (ip = 0; ip < npix; ip++, corner += corner_step, out += out_step) {
        for (ig = 0; ig < groups8; ig++) {
            const int32_t c = EK_REVERSE(ig, groups8, d->reverse) * 8;
            const int32_t count = oc - c < 8 ? oc - c : 8;
            const mve_pred16_t pred = vctp16q((uint32_t)count);
            const int8_t *x = corner + c;
            const int8_t *w = d->filter + c;
            const int32_t *rq = d->rq + (size_t)(c / 8) * EK_RQ_GROUP;
            int32x4_t even = vdupq_n_s32(0);
            int32x4_t odd = vdupq_n_s32(0);
            int16x8_t narrowed = vdupq_n_s16(0);
            if (count == 8) {
                /* Software-pipelined: the next tap's loads sit between this tap's multiplies and adds,
                 * so that memory and arithmetic instructions alternate (beat overlap). */
                int16x8_t xv = vldrbq_s16(x + d->offsets[0]);
                int16x8_t kv = vldrbq_s16(w);
                for (t = 1; t < d->ntaps; t++) {
                    const int32x4_t pb = vmullbq_int_s16(xv, kv);
                    const int32x4_t pt = vmulltq_int_s16(xv, kv);
                    w += oc;
                    xv = vldrbq_s16(x + d->offsets[t]);
                    even = vaddq_s32(even, pb);
                    kv = vldrbq_s16(w);
                    odd = vaddq_s32(odd, pt);
                }
                even = vaddq_s32(even, vmullbq_int_s16(xv, kv));
                odd = vaddq_s32(odd, vmulltq_int_s16(xv, kv));
            } else {
                /* The last group when out_c % 8 != 0: lanes past it load nothing. */
                for (t = 0; t < d->ntaps; t++, w += oc) {
                    const int16x8_t xv = vldrbq_z_s16(x + d->offsets[t], pred);
                    const int16x8_t kv = vldrbq_z_s16(w, pred);
                    even = vaddq_s32(even, vmullbq_int_s16(xv, kv));
                    odd = vaddq_s32(odd, vmulltq_int_s16(xv, kv));
                }
            }
            narrowed = vmovnbq_s32(narrowed, ek_rq_apply(even, rq, 0, &d->out));
            narrowed = vmovntq_s32(narrowed, ek_rq_apply(odd, rq, 4, &d->out));
            vstrbq_p_s16(out + c, narrowed, pred);
        }
    }
}

/* Any depth multiplier: the reference loop over every tap, padding taps reading the zero point. */
static void scalar_pixel(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                         const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                         int8_t *out) {
    const int32_t oc_n = p->out_c;
    int32_t ioc, fy, fx;
    for (ioc = 0; ioc < oc_n; ioc++) {
        const int32_t oc = EK_REVERSE(ioc, oc_n, p->reverse);
        const int32_t ic = oc / p->depth_multiplier;
        int32_t acc = bias[oc];
        for (fy = 0; fy < p->filter_h; fy++) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            for (fx = 0; fx < p->filter_w; fx++) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                const int32_t x = inside ? (int32_t)in_batch[((size_t)in_y * p->in_w + in_x) * p->in_c + ic]
                                         : -p->input_offset;
                acc += (int32_t)filter[((size_t)fy * p->filter_w + fx) * oc_n + oc] * x;
            }
        }
        acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]) + p->output_offset;
        out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
    }
}

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch) {
    const int32_t oc = p->out_c;
    const int32_t ntaps = p->filter_h * p->filter_w;
    const int32_t rev = p->reverse;
    const int vector = p->depth_multiplier == 1 && ntaps <= EK_HELIUM_DW_MAX_TAPS;
    const ek_hout_t o = ek_hout(p->output_offset, p->act_min, p->act_max);
    const int8_t *taps[EK_HELIUM_DW_MAX_TAPS];
    int32_t offsets[EK_HELIUM_DW_MAX_TAPS]; /* each tap's input offset from the window's corner */
    /* Output columns whose windows lie inside the image's width: [ox_lo, ox_hi). */
    const int32_t last_x = p->in_w - 1 - p->dilation_w * (p->filter_w - 1) + p->pad_w;
    const int32_t ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
    const int32_t ox_hi = last_x < 0 ? 0 : (last_x / p->stride_w + 1 < p->out_w ? last_x / p->stride_w + 1 : p->out_w);
    dw_t d;
    int32_t ib, iy, ix, fy, fx, c;

    d.filter = filter;
    d.rq = bias;
    d.offsets = offsets;
    d.out = o;
    d.oc = oc;
    d.ntaps = ntaps;
    d.reverse = rev;

    if (vector) {
        memset(scratch, (int8_t)(-p->input_offset), (size_t)p->in_c);
        for (fy = 0; fy < p->filter_h; fy++) {
            for (fx = 0; fx < p->filter_w; fx++) {
                offsets[fy * p->filter_w + fx] = (fy * p->dilation_h * p->in_w + fx * p->dilation_w) * p->in_c;
            }
        }
    }
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int rows_inside = in_y0 >= 0 && in_y0 + p->dilation_h * (p->filter_h - 1) < p->in_h;
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * oc;
                int32_t t = 0;
                if (!vector) {
                    scalar_pixel(p, in_batch, in_y0, in_x0, filter, bias, multiplier, shift, out);
                    continue;
                }
                if (rows_inside && ox >= ox_lo && ox < ox_hi) {
                    /* The run of pixels whose windows are inside, in the order of the loop, in one call. */
                    const int32_t npix = rev ? ox - ox_lo + 1 : ox_hi - ox;
                    interior_run(&d, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c,
                                 (rev ? -1 : 1) * p->stride_w * p->in_c, npix, out, (rev ? -1 : 1) * oc);
                    ix += npix - 1;
                    continue;
                }
                {
                    for (fy = 0; fy < p->filter_h; fy++) {
                        const int32_t in_y = in_y0 + p->dilation_h * fy;
                        for (fx = 0; fx < p->filter_w; fx++, t++) {
                            const int32_t in_x = in_x0 + p->dilation_w * fx;
                            const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                            taps[t] = inside ? in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c : scratch;
                        }
                    }
                }
                /* Groups of 8 channels from channel 0; reversed, the same groups last to first. */
                for (c = 0; c < oc; c += 8) {
                    const int32_t g = rev ? ((oc - 1) / 8 - c / 8) * 8 : c;
                    const int32_t *rq = bias + (size_t)(g / 8) * EK_RQ_GROUP;
                    if (oc - g >= 8) {
                        channels(taps, ntaps, oc, filter, rq, &o, g, 8, 1, out);
                    } else {
                        channels(taps, ntaps, oc, filter, rq, &o, g, oc - g, 0, out);
                    }
                }
            }
        }
    }
}
