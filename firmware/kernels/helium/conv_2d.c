/* CONV_2D, int8, per-channel requantization: the Helium (MVE) version of reference/conv_2d.c, with the
 * same results bit for bit.
 *
 * One output pixel at a time. Its input patch (filter_h x filter_w x filter_in_c bytes, in the order of
 * a filter row) is either read in place (1x1 filters: the pixel's own channels) or gathered into
 * `scratch` as int8, with the input zero point where the window lies in the padding (ek_helium.h: the
 * bias arrives folded with the input offset, so a padding tap must cancel its share). Then four output
 * channels per pass over the patch: each 16-byte patch load feeds four VMLADAVA against the four filter
 * rows (64 MACs), the last step tail-predicated; the four sums are requantized as one vector.
 * `scratch` holds EK_HELIUM_CONV_SCRATCH(...) bytes (the generator puts it in the arena:
 * engine_pack_helium mirrors the size); the signature's int16_t type is the reference's.
 *
 * Write order: all inputs a pixel's channel group reads are read (or gathered) before any of its
 * outputs is written, and pixels, groups and channels follow the reference order (reversed when
 * `reverse` is set), so the in-place overlaps the planner computes for the reference stay safe. */
#include <string.h>

#include "ek_helium.h"
#include "ek_kernels.h"

/* Gather the patch of the pixel whose window starts at (in_y0, in_x0), channels from group_base. */
static void gather(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                   int32_t group_base, int8_t *col) {
    const int32_t fc = p->filter_in_c;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    int32_t fy, fx;
    for (fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int row_inside = in_y >= 0 && in_y < p->in_h;
        /* A whole filter row in one copy when it is one run of input bytes. */
        if (row_inside && p->dilation_w == 1 && fc == p->in_c && in_x0 >= 0 && in_x0 + p->filter_w <= p->in_w) {
            memcpy(col, in_batch + ((size_t)in_y * p->in_w + in_x0) * p->in_c, (size_t)p->filter_w * fc);
            col += p->filter_w * fc;
            continue;
        }
        for (fx = 0; fx < p->filter_w; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            if (row_inside && in_x >= 0 && in_x < p->in_w) {
                memcpy(col, in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + group_base, (size_t)fc);
            } else {
                memset(col, zero_point, (size_t)fc);
            }
            col += fc;
        }
    }
}

/* Output channels oc..oc+count-1 (count 1..4) of one pixel from its patch. */
EK_INLINE void channels(const ek_conv_params_t *p, const int8_t *patch, const int8_t *filter, const int32_t *bias,
                        const int32_t *multiplier, const int8_t *shift, int32_t oc, int32_t count, int32_t k,
                        int8_t *out) {
    const mve_pred16_t pred = vctp32q((uint32_t)count);
    const int8_t *w0 = filter + (size_t)oc * k;
    /* Rows past the group's end repeat its first row: computed, never stored. */
    const int8_t *w1 = count > 1 ? w0 + k : w0;
    const int8_t *w2 = count > 2 ? w0 + 2 * k : w0;
    const int8_t *w3 = count > 3 ? w0 + 3 * k : w0;
    const ek_hq_t q = ek_hq_load(multiplier + oc, shift + oc, pred);
    const int32x4_t acc = vaddq_s32(ek_dot4(patch, w0, w1, w2, w3, k), vldrwq_z_s32(bias + oc, pred));
    vstrbq_p_s32(out + oc, ek_requant_x4(acc, &q, p->output_offset, p->act_min, p->act_max), pred);
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t fc = p->filter_in_c;
    const int32_t groups = p->in_c / fc;
    const int32_t per_group = p->out_c / groups;
    const int32_t k = p->filter_h * p->filter_w * fc;
    const int32_t rev = p->reverse;
    const int direct_1x1 = p->filter_h == 1 && p->filter_w == 1;
    int8_t *col = (int8_t *)(void *)scratch;
    int32_t ib, iy, ix, ig, c;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                const int inside = in_y0 >= 0 && in_y0 < p->in_h && in_x0 >= 0 && in_x0 < p->in_w;
                for (ig = 0; ig < groups; ig++) {
                    const int32_t g = EK_REVERSE(ig, groups, rev);
                    const int32_t first = g * per_group;
                    const int8_t *patch;
                    if (direct_1x1 && inside) {
                        patch = in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c + g * fc;
                    } else {
                        gather(p, in_batch, in_y0, in_x0, g * fc, col);
                        patch = col;
                    }
                    if (!rev) {
                        for (c = 0; c < per_group; c += 4) {
                            channels(p, patch, filter, bias, multiplier, shift, first + c,
                                     per_group - c < 4 ? per_group - c : 4, k, out);
                        }
                    } else {
                        for (c = per_group - 4; c > -4; c -= 4) {
                            channels(p, patch, filter, bias, multiplier, shift, first + (c < 0 ? 0 : c),
                                     c < 0 ? c + 4 : 4, k, out);
                        }
                    }
                }
            }
        }
    }
}
