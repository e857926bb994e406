/* SOFTMAX, int8 in, int8 out with scale 1/256 and zero point -128 (TFLM's reference_ops::Softmax
 * for quantized types): exp of the scaled differences to the row maximum in gemmlowp fixed point
 * (Q5.26 in, Q0.31 out), summed in Q12.19, then one fixed-point reciprocal per row. */
#include "ek_kernels.h"

#define SCALED_DIFF_INTEGER_BITS 5
#define ACCUMULATION_INTEGER_BITS 12

void ek_softmax_s8(const ek_softmax_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t depth = p->depth;
    int32_t i, c;
    for (i = 0; i < p->outer; i++) {
        const int8_t *in = input + (size_t)i * depth;
        int8_t *out = output + (size_t)i * depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0;
        int num_bits_over_unit;
        int32_t shifted_scale;
        int exponent;
        for (c = 0; c < depth; c++) {
            max_in_row = ek_max32(max_in_row, in[c]);
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = ek_mul_by_quantized_mul(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = ek_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
                sum_of_exps = ek_wrap_add(sum_of_exps, ek_rescale(e, 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        shifted_scale = ek_get_reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS, &num_bits_over_unit);
        exponent = num_bits_over_unit + 31 - 8;
        for (c = 0; c < depth; c++) {
            const int32_t diff = (int32_t)in[c] - max_in_row;
            if (diff >= p->diff_min) {
                const int32_t rescaled = ek_mul_by_quantized_mul(diff, p->input_multiplier, p->input_left_shift);
                const int32_t e = ek_exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS);
                /* TFLM aborts (TFLITE_CHECK) when the row's exps sum past 2^8, i.e. exponent > 31; every
                 * output then rounds to zero probability, which is what this gives instead. */
                const int32_t unsat = exponent > 31 ? 0 :
                    ek_rounding_divide_by_pot(ek_sat_rounding_doubling_high_mul(shifted_scale, e), exponent);
                out[c] = (int8_t)ek_clamp32(unsat - 128, -128, 127);
            } else {
                out[c] = -128;
            }
        }
    }
}
