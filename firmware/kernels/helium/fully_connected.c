/* FULLY_CONNECTED, int8: the Helium (MVE) version of reference/fully_connected.c, with the same results
 * bit for bit.
 *
 * Four outputs per pass over the input row: each 16-byte input load feeds four VMLADAVA (16 MACs each)
 * against the four weight rows, the last step tail-predicated; the four sums are requantized as one
 * vector (ek_requant_x4) and stored with one narrowing, predicated store.
 * With weights that have no zero point (filter_offset 0: every per-channel model, and per-tensor ones
 * from today's converters) `bias` arrives folded with the input offset (ek_helium.h), so the loop is a
 * plain int8 dot product. Weights with a zero point keep the reference's arithmetic and the original
 * bias (the generator does not fold it then).
 *
 * Write order: an output group is written after the whole input row it reads; groups go in the
 * reference's order (last to first when `reverse` is set). */
#include "ek_helium.h"
#include "ek_kernels.h"

/* Outputs o..o+count-1 (count 1..4) of one batch row. */
static void group(const ek_fc_params_t *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                  const int32_t *multiplier, const int8_t *shift, int32_t o, int32_t count, int8_t *out) {
    const int32_t depth = p->accum_depth;
    const mve_pred16_t pred = vctp32q((uint32_t)count);
    const ek_hq_t q = p->per_channel ? ek_hq_load(multiplier + o, shift + o, pred) : ek_hq_dup(multiplier[0], shift[0]);
    const ek_hout_t oo = ek_hout(p->output_offset, p->act_min, p->act_max);
    const int32x4_t acc = vaddq_s32(ek_dot4(in, filter + (size_t)o * depth, depth, count, depth),
                                    vldrwq_z_s32(bias + o, pred));
    vstrbq_p_s32(out + o, ek_requant_out(acc, &q, &oo), pred);
}

/* The reference's arithmetic, for weights with a zero point (bias not folded, may be NULL). */
static void row_with_filter_offset(const ek_fc_params_t *p, const int8_t *in, const int8_t *filter,
                                   const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                                   int8_t *out) {
    const int32_t depth = p->accum_depth;
    int32_t io, d;
    for (io = 0; io < p->out_depth; io++) {
        const int32_t o = EK_REVERSE(io, p->out_depth, p->reverse);
        const int8_t *f = filter + (size_t)o * depth;
        const int32_t qi = p->per_channel ? o : 0;
        int32_t acc = 0;
        for (d = 0; d < depth; d++) {
            acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
        }
        if (bias != NULL) {
            acc += bias[o];
        }
        acc = ek_mul_by_quantized_mul(acc, multiplier[qi], shift[qi]) + p->output_offset;
        out[o] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
    }
}

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t n = p->out_depth;
    int32_t ib, o;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, p->reverse);
        const int8_t *in = input + (size_t)b * p->accum_depth;
        int8_t *out = output + (size_t)b * n;
        if (p->filter_offset != 0) {
            row_with_filter_offset(p, in, filter, bias, multiplier, shift, out);
        } else if (!p->reverse) {
            for (o = 0; o < n; o += 4) {
                group(p, in, filter, bias, multiplier, shift, o, n - o < 4 ? n - o : 4, out);
            }
        } else {
            for (o = n - 4; o > -4; o -= 4) {
                group(p, in, filter, bias, multiplier, shift, o < 0 ? 0 : o, o < 0 ? o + 4 : 4, out);
            }
        }
    }
}
