/* FULLY_CONNECTED, int8, per-tensor or per-channel: the Arm DSP version of reference/fully_connected.c,
 * with the same results bit for bit.
 *
 * Two outputs at a time share the widened input: per 4 inputs, 1 load + 2 SXTAB16 for the input (its
 * offset added), and per output 1 load + 2 SXTAB16 (the weights' offset added) + 2 SMLAD. Widened
 * values fit int16: an int8 plus an offset in [-128, 128] (TFLM's zero points are in [-128, 127]).
 *
 * Write order: each output is written after the whole input row it reads, as in the reference. */
#include "ek_dsp.h"
#include "ek_kernels.h"

EK_INLINE int8_t requant(int32_t acc, int32_t mult, int shift, const ek_fc_params_t *p) {
    acc = ek_requant_fast(acc, mult, shift) + p->output_offset;
    return (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
}

/* Outputs o and (when `two`) o + 1 of one batch row. */
static void outputs(const ek_fc_params_t *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                    const int32_t *multiplier, const int8_t *shift, int32_t o, int two, int8_t *out) {
    const int32_t depth = p->accum_depth;
    const uint32_t in_off2 = ek_dup16(p->input_offset);
    const uint32_t f_off2 = ek_dup16(p->filter_offset);
    const int8_t *f0 = filter + (size_t)o * depth;
    const int8_t *f1 = two ? f0 + depth : f0;
    int32_t s0 = 0, s1 = 0;
    int32_t d;
    for (d = 0; d + 4 <= depth; d += 4) {
        const uint32_t x = ek_load32(in + d);
        const uint32_t wa = ek_load32(f0 + d);
        const uint32_t wb = ek_load32(f1 + d);
        const uint32_t x02 = ek_sxtab16(in_off2, x), x13 = ek_sxtab16(in_off2, ek_ror8(x));
        s0 = ek_smlad(ek_sxtab16(f_off2, wa), x02, s0);
        s0 = ek_smlad(ek_sxtab16(f_off2, ek_ror8(wa)), x13, s0);
        s1 = ek_smlad(ek_sxtab16(f_off2, wb), x02, s1);
        s1 = ek_smlad(ek_sxtab16(f_off2, ek_ror8(wb)), x13, s1);
    }
    for (; d < depth; d++) {
        const int32_t x = (int32_t)in[d] + p->input_offset;
        s0 += ((int32_t)f0[d] + p->filter_offset) * x;
        s1 += ((int32_t)f1[d] + p->filter_offset) * x;
    }
    if (bias != NULL) {
        s0 += bias[o];
        s1 += two ? bias[o + 1] : 0;
    }
    out[o] = requant(s0, multiplier[p->per_channel ? o : 0], shift[p->per_channel ? o : 0], p);
    if (two) {
        out[o + 1] = requant(s1, multiplier[p->per_channel ? o + 1 : 0], shift[p->per_channel ? o + 1 : 0], p);
    }
}

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t n = p->out_depth;
    int32_t ib, io;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, p->reverse);
        const int8_t *in = input + (size_t)b * p->accum_depth;
        int8_t *out = output + (size_t)b * n;
        /* Pairs (o, o + 1) in the reference's order; an odd last output goes alone. */
        for (io = 0; io + 1 < n; io += 2) {
            const int32_t o = p->reverse ? n - 2 - io : io;
            outputs(p, in, filter, bias, multiplier, shift, o, 1, out);
        }
        if (io < n) {
            outputs(p, in, filter, bias, multiplier, shift, p->reverse ? 0 : io, 0, out);
        }
    }
}
