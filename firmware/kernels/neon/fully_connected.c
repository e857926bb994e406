/* FULLY_CONNECTED, int8, AArch64 Advanced SIMD (NEON) variant of reference/fully_connected.c (TFLM's
 * reference_integer_ops::FullyConnected and FullyConnectedPerChannel). Same signature and results:
 * four outputs at a time share each load of the input, and are requantized together (ek_neon.h says
 * why both are bit-exact). Outputs are written in ascending order (descending when reversed): the
 * outputs past the last group of four first when reversed, last otherwise. */
#include "ek_kernels.h"

#if defined(__aarch64__) && defined(__ARM_NEON)
#include "ek_neon.h"
#define EK_FC_LANES 4
#else
#define EK_FC_LANES 0
#endif

static int8_t one_output(const ek_fc_params_t *p, const int8_t *in, const int8_t *filter, const int32_t *bias,
                         const int32_t *multiplier, const int8_t *shift, int32_t o) {
    const int32_t depth = p->accum_depth;
    const int8_t *f = filter + (size_t)o * depth;
    const int32_t q = p->per_channel ? o : 0;
    int32_t acc = 0;
    int32_t d;
    for (d = 0; d < depth; d++) {
        acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
    }
    if (bias != NULL) {
        acc += bias[o];
    }
    acc = ek_mul_by_quantized_mul(acc, multiplier[q], shift[q]);
    acc += p->output_offset;
    return (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
}

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t depth = p->accum_depth;
    const int32_t rev = p->reverse;
    const int32_t groups = EK_FC_LANES > 0 ? p->out_depth / EK_FC_LANES : 0;
    const int32_t grouped = groups * EK_FC_LANES;
    int32_t ib, io, ig;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in = input + (size_t)b * depth;
        int8_t *out = output + (size_t)b * p->out_depth;
        if (rev) {
            for (io = p->out_depth - 1; io >= grouped; io--) {
                out[io] = one_output(p, in, filter, bias, multiplier, shift, io);
            }
        }
#if EK_FC_LANES
        for (ig = 0; ig < groups; ig++) {
            const int32_t o = EK_REVERSE(ig, groups, rev) * EK_FC_LANES;
            int32x4_t acc = ek_neon_dot4(filter + (size_t)o * depth, (size_t)depth, in, depth, p->filter_offset,
                                         p->input_offset);
            int32x4_t mult, sh;
            if (bias != NULL) {
                acc = vaddq_s32(acc, vld1q_s32(bias + o));
            }
            if (p->per_channel) {
                mult = vld1q_s32(multiplier + o);
                sh = ek_neon_shift4(shift + o);
            } else {
                mult = vdupq_n_s32(multiplier[0]);
                sh = vdupq_n_s32(shift[0]);
            }
            ek_neon_store4(out + o, ek_neon_requant(acc, mult, sh, p->output_offset, p->act_min, p->act_max));
        }
#else
        (void)ig;
#endif
        if (!rev) {
            for (io = grouped; io < p->out_depth; io++) {
                out[io] = one_output(p, in, filter, bias, multiplier, shift, io);
            }
        }
    }
}
