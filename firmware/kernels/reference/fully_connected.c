/* FULLY_CONNECTED, int8 (TFLM's reference_integer_ops::FullyConnected and FullyConnectedPerChannel).
 * The per-tensor form keeps the weights' zero point (filter_offset), as TFLM does for old models; the
 * per-channel form has symmetric weights and filter_offset 0. */
#include "ek_kernels.h"

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    const int32_t depth = p->accum_depth;
    int32_t ib, io, d;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, p->reverse);
        const int8_t *in = input + (size_t)b * depth;
        for (io = 0; io < p->out_depth; io++) {
            const int32_t o = EK_REVERSE(io, p->out_depth, p->reverse);
            const int8_t *f = filter + (size_t)o * depth;
            const int32_t q = p->per_channel ? o : 0;
            int32_t acc = 0;
            for (d = 0; d < depth; d++) {
                acc += ((int32_t)f[d] + p->filter_offset) * ((int32_t)in[d] + p->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = ek_mul_by_quantized_mul(acc, multiplier[q], shift[q]);
            acc += p->output_offset;
            output[(size_t)b * p->out_depth + o] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
        }
    }
}
