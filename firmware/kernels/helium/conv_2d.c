/* CONV_2D, int8, per-channel requantization: the Helium (MVE) version of reference/conv_2d.c, with the
 * same results bit for bit.
 *
 * One output pixel at a time, eight output channels per pass over its input patch (the pixel's
 * filter_h x filter_w x in_c window, in the order of a filter row). Each 16-byte patch load feeds eight
 * VMLADAVA (16 MACs each) against the eight channels' weights; the eight sums are requantized as two
 * vectors (ek_requant_out) and stored with narrowing stores, the last group of channels predicated.
 * The patch is read where it lies when every filter row is one run of input bytes of whole 16-byte
 * steps inside the image (1x1 filters with in_c % 16 == 0; 3x3 windows over 16, 32, 64 channels);
 * otherwise it is gathered into `scratch` with the input zero point where the window lies in the
 * padding (ek_helium.h: the bias arrives folded with the input offset, so a padding tap must cancel its
 * share), up to EK_HELIUM_CONV_CHUNK patches of a row at a time, so that one call computes them all.
 * `scratch` holds EK_HELIUM_CONV_SCRATCH(...) bytes (engine_pack_helium mirrors it); the signature's
 * int16_t type is the reference's.
 *
 * With groups == 1, `bias` is the generator's packed requantization table (ek_helium.h EK_RQ_GROUP:
 * multipliers, split shifts and folded biases per 8 channels; `multiplier` and `shift` are then unused)
 * and the weights come packed too (engine_pack_helium.pack_conv_filter_helium): per
 * group of 8 output channels (zero rows past out_c), per 16-byte step of the patch, the 8 channels'
 * 16 weights one after the other, each row zero-padded to a multiple of 16 (kp). One pointer walks
 * them with immediate offsets, and lanes past the patch's end multiply zero weights. Grouped
 * convolutions keep the reference layout and take a scalar loop with the same arithmetic.
 *
 * Write order: all inputs a pixel reads are read (or gathered) before any of its outputs is written,
 * pixels and channel groups follow the reference order (reversed when `reverse` is set), so the
 * in-place overlaps the planner computes for the reference stay safe. */
#include "ek_helium.h"
#include "ek_kernels.h"

/* n bytes (n <= 16) from src to dst: one predicated vector load and store. */
EK_INLINE void copy16(int8_t *dst, const int8_t *src, int32_t n) {
    const mve_pred16_t pr = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
}

EK_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
    for (; n > 16; n -= 16, dst += 16, src += 16) {
        vstrbq_s8(dst, vldrbq_s8(src));
    }
    copy16(dst, src, n);
}

EK_INLINE void fill_bytes(int8_t *dst, int8_t v, int32_t n) {
    const int8x16_t vv = vdupq_n_s8(v);
    for (; n > 16; n -= 16, dst += 16) {
        vstrbq_s8(dst, vv);
    }
    vstrbq_p_s8(dst, vv, vctp8q((uint32_t)n));
}

/* Gather the patch of the pixel whose window starts at (in_y0, in_x0) into col (groups == 1). */
static void gather(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0, int8_t *col) {
    const int32_t c = p->in_c;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t fy, fx;
    for (fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int row_inside = in_y >= 0 && in_y < p->in_h;
        if (row_inside && p->dilation_w == 1 && in_x0 >= 0 && in_x0 + p->filter_w <= p->in_w) {
            copy_bytes(col, in_batch + ((size_t)in_y * p->in_w + in_x0) * c, p->filter_w * c);
            col += p->filter_w * c;
            continue;
        }
        for (fx = 0; fx < p->filter_w; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            if (row_inside && in_x >= 0 && in_x < p->in_w) {
                copy_bytes(col, in_batch + ((size_t)in_y * p->in_w + in_x) * c, c);
            } else {
                fill_bytes(col, zero_point, c);
            }
            col += c;
        }
    }
}

/* What every pixel of a layer shares. */
/* pixels() is compiled without instruction scheduling so that its loads and VMLADAVA stay in the
 * source's alternating order: the M55 overlaps a vector load with a neighbouring vector multiply (beat
 * overlap, Arm Cortex-M55 Software Optimization Guide), which gcc's scheduler, grouping the loads
 * first, gives away. */
typedef struct {
    const int8_t *filter; /* packed */
    const int32_t *rq;    /* packed requantization, EK_RQ_GROUP per group of 8 channels */
    ek_hout_t out;
    int32_t out_c, kp, reverse;
} layer_t;

/* All output channels of `npix` pixels (patches x_step bytes apart, outputs out_step apart: negative
 * when reversed), 8 per pass over a patch: `rows` runs of `run` bytes, the runs `row_stride` apart (several runs: multiples of 16 each; a gathered patch is one run of kp bytes, its
 * bytes past k multiplying zero weights; one run read in place may end in a partial step). A function of its own: inlined into the pixel loop, gcc runs out of registers and
 * keeps the eight sums on the stack. */
static __attribute__((noinline, optimize("no-schedule-insns", "no-schedule-insns2"))) void pixels(const layer_t *l, const int8_t *x, int32_t x_step, int32_t npix,
                                             int32_t rows, int32_t run, int32_t row_stride, int8_t *out,
                                             int32_t out_step) {
    const int32_t groups8 = (l->out_c + 7) / 8;
    /* Bytes past the whole 16-byte steps: only a single run has them (its row's read in place). */
    const int32_t tail = rows == 1 ? run & 15 : 0;
    int32_t ig, ip;
    for (ip = 0; ip < npix; ip++, x += x_step, out += out_step)
    for (ig = 0; ig < groups8; ig++) {
        const int32_t g = EK_REVERSE(ig, groups8, l->reverse) * 8;
        const int32_t count = l->out_c - g < 8 ? l->out_c - g : 8;
        const int8_t *w = l->filter + (size_t)g * l->kp;
        const int8_t *xr = x;
        const int8_t *xs = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        int32_t r, n;
        for (r = 0; r < rows; r++, xr += row_stride) {
            xs = xr;
            for (n = run >> 4; n > 0; n--) {
                const int8x16_t xv = vldrbq_s8(xs);
                a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
                a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + 16));
                a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 32));
                a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 48));
                a4 = vmladavaq_s8(a4, xv, vldrbq_s8(w + 64));
                a5 = vmladavaq_s8(a5, xv, vldrbq_s8(w + 80));
                a6 = vmladavaq_s8(a6, xv, vldrbq_s8(w + 96));
                a7 = vmladavaq_s8(a7, xv, vldrbq_s8(w + 112));
                xs += 16;
                w += 128;
            }
        }
        if (tail != 0) {
            /* A single run's last bytes (rows == 1): lanes past it load nothing, against zero weights. */
            const int8x16_t xv = vldrbq_z_s8(xs, vctp8q((uint32_t)tail));
            a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
            a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + 16));
            a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 32));
            a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 48));
            a4 = vmladavaq_s8(a4, xv, vldrbq_s8(w + 64));
            a5 = vmladavaq_s8(a5, xv, vldrbq_s8(w + 80));
            a6 = vmladavaq_s8(a6, xv, vldrbq_s8(w + 96));
            a7 = vmladavaq_s8(a7, xv, vldrbq_s8(w + 112));
        }
        {
            const int32_t *rq = l->rq + (size_t)(g / 8) * EK_RQ_GROUP;
            const int32x4_t lo = ek_rq_apply(ek_vec4(a0, a1, a2, a3), rq, 0, &l->out);
            const int32x4_t hi = ek_rq_apply(ek_vec4(a4, a5, a6, a7), rq, 4, &l->out);
            if (count == 8) {
                /* Reversed, the upper four go first: outputs stay in descending order. */
                if (l->reverse) {
                    vstrbq_s32(out + g + 4, hi);
                    vstrbq_s32(out + g, lo);
                } else {
                    vstrbq_s32(out + g, lo);
                    vstrbq_s32(out + g + 4, hi);
                }
            } else {
                const mve_pred16_t p_hi = vctp32q((uint32_t)(count > 4 ? count - 4 : 0));
                if (l->reverse) {
                    vstrbq_p_s32(out + g + 4, hi, p_hi);
                    vstrbq_p_s32(out + g, lo, vctp32q((uint32_t)count));
                } else {
                    vstrbq_p_s32(out + g, lo, vctp32q((uint32_t)count));
                    vstrbq_p_s32(out + g + 4, hi, p_hi);
                }
            }
        }
    }
}

/* pixels() for the commonest cases, a single run of whole 16-byte steps per pixel (1x1 filters over
 * in_c % 16 == 0 channels, the pointwise layers of MobileNet-style models; gathered patches), with
 * fewer values live across its loops, so that gcc keeps them in registers. */
static __attribute__((noinline, optimize("no-schedule-insns", "no-schedule-insns2"))) void pointwise_run(
    const layer_t *l, const int8_t *x, int32_t x_step, int32_t npix, int32_t steps, int8_t *out, int32_t out_step) {
    const int32_t groups8 = (l->out_c + 7) / 8;
    const int32_t full8 = l->out_c / 8; /* groups without a channel tail */
    const int32_t group_bytes = 8 * l->kp;
    int32_t ip;
    for (ip = 0; ip < npix; ip++, x += x_step, out += out_step) {
        int32_t ig;
        for (ig = 0; ig < groups8; ig++) {
            const int32_t gi = l->reverse ? groups8 - 1 - ig : ig;
            const int8_t *w = l->filter + (size_t)gi * group_bytes;
            const int8_t *xs = x;
            const int32_t *rq = l->rq + (size_t)gi * EK_RQ_GROUP;
            int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
            int32_t n;
            int32x4_t lo, hi;
            for (n = steps; n > 0; n--) {
                const int8x16_t xv = vldrbq_s8(xs);
                a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
                a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + 16));
                a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 32));
                a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 48));
                a4 = vmladavaq_s8(a4, xv, vldrbq_s8(w + 64));
                a5 = vmladavaq_s8(a5, xv, vldrbq_s8(w + 80));
                a6 = vmladavaq_s8(a6, xv, vldrbq_s8(w + 96));
                a7 = vmladavaq_s8(a7, xv, vldrbq_s8(w + 112));
                xs += 16;
                w += 128;
            }
            lo = ek_rq_apply(ek_vec4(a0, a1, a2, a3), rq, 0, &l->out);
            hi = ek_rq_apply(ek_vec4(a4, a5, a6, a7), rq, 4, &l->out);
            if (gi < full8) {
                int8_t *o = out + gi * 8;
                if (l->reverse) {
                    vstrbq_s32(o + 4, hi);
                    vstrbq_s32(o, lo);
                } else {
                    vstrbq_s32(o, lo);
                    vstrbq_s32(o + 4, hi);
                }
            } else {
                const int32_t count = l->out_c - gi * 8;
                const mve_pred16_t p_hi = vctp32q((uint32_t)(count > 4 ? count - 4 : 0));
                const mve_pred16_t p_lo = vctp32q((uint32_t)count);
                if (l->reverse) {
                    vstrbq_p_s32(out + gi * 8 + 4, hi, p_hi);
                    vstrbq_p_s32(out + gi * 8, lo, p_lo);
                } else {
                    vstrbq_p_s32(out + gi * 8, lo, p_lo);
                    vstrbq_p_s32(out + gi * 8 + 4, hi, p_hi);
                }
            }
        }
    }
}

/* The reference loop for grouped convolutions (weights in the reference layout), padding taps reading
 * the zero point against the folded bias. */
static void grouped_pixel(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                          const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                          const int8_t *shift, int8_t *out) {
    const int32_t fc = p->filter_in_c;
    const int32_t per_group = p->out_c / (p->in_c / fc);
    const int32_t k = p->filter_h * p->filter_w * fc;
    int32_t ioc, fy, fx, ic;
    for (ioc = 0; ioc < p->out_c; ioc++) {
        const int32_t oc = EK_REVERSE(ioc, p->out_c, p->reverse);
        const int32_t base = (oc / per_group) * fc;
        const int8_t *f = filter + (size_t)oc * k;
        int32_t acc = bias[oc];
        for (fy = 0; fy < p->filter_h; fy++) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            for (fx = 0; fx < p->filter_w; fx++, f += fc) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                const int8_t *px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + base;
                for (ic = 0; ic < fc; ic++) {
                    acc += (int32_t)f[ic] * (inside ? (int32_t)px[ic] : -p->input_offset);
                }
            }
        }
        acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]) + p->output_offset;
        out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
    }
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t oc_n = p->out_c;
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int32_t kp = (k + 15) & ~15;
    const int32_t run = p->filter_w * p->in_c;
    const int32_t rev = p->reverse;
    const int grouped = p->filter_in_c != p->in_c;
    /* Filter rows read in place: one run of bytes per row, whole 16-byte steps unless there is one row. */
    const int rows_in_place = p->dilation_w == 1 && ((run & 15) == 0 || p->filter_h == 1);
    /* Output columns whose windows lie inside the image's width: [ox_lo, ox_hi). */
    const int32_t ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
    const int32_t ox_hi_raw = (p->in_w - p->filter_w + p->pad_w) / p->stride_w + 1;
    const int32_t ox_hi = p->in_w - p->filter_w + p->pad_w < 0 ? 0 : (ox_hi_raw < p->out_w ? ox_hi_raw : p->out_w);
    const int32_t chunk = EK_HELIUM_CONV_CHUNK(kp, p->out_w);
    layer_t l;
    int8_t *col = (int8_t *)(void *)scratch;
    int32_t ib, iy, ix;

    l.filter = filter;
    l.rq = bias;
    l.out = ek_hout(p->output_offset, p->act_min, p->act_max);
    l.out_c = oc_n;
    l.kp = kp;
    l.reverse = rev;

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
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * oc_n;
                if (grouped) {
                    grouped_pixel(p, in_batch, in_y0, in_x0, filter, bias, multiplier, shift, out);
                } else if (rows_in_place && rows_inside && ox >= ox_lo && ox < ox_hi) {
                    /* The run of pixels whose windows are inside, in the order of the loop, in one call. */
                    const int32_t npix = rev ? ox - ox_lo + 1 : ox_hi - ox;
                    if (p->filter_h == 1 && (run & 15) == 0) {
                        pointwise_run(&l, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c,
                                      (rev ? -1 : 1) * p->stride_w * p->in_c, npix, run >> 4, out,
                                      (rev ? -1 : 1) * oc_n);
                    } else {
                        pixels(&l, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c,
                               (rev ? -1 : 1) * p->stride_w * p->in_c, npix, p->filter_h, run,
                               p->dilation_h * p->in_w * p->in_c, out, (rev ? -1 : 1) * oc_n);
                    }
                    ix += npix - 1;
                } else {
                    /* Up to `chunk` pixels in a row that need their patch gathered, in the loop's order:
                     * all their inputs are read before any of their outputs is written. */
                    int32_t n = 0;
                    for (;;) {
                        const int32_t gx = EK_REVERSE(ix, p->out_w, rev);
                        gather(p, in_batch, in_y0, gx * p->stride_w - p->pad_w, col + (size_t)n * kp);
                        n++;
                        if (n == chunk || ix + 1 >= p->out_w) {
                            break;
                        }
                        {
                            const int32_t nx = EK_REVERSE(ix + 1, p->out_w, rev);
                            if (rows_in_place && rows_inside && nx >= ox_lo && nx < ox_hi) {
                                break;
                            }
                        }
                        ix++;
                    }
                    pointwise_run(&l, col, kp, n, kp >> 4, out, (rev ? -1 : 1) * oc_n);
                }
            }
        }
    }
}
