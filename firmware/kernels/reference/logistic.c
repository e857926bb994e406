/* LOGISTIC, int8 (TFLM's reference_integer_ops::Logistic): output scale 1/256, zero point -128. */
#include "ek_kernels.h"

#define INPUT_INTEGER_BITS 4
#define OUTPUT_INTEGER_BITS 8

void ek_logistic_s8(const ek_sigmoid_params_t *p, const int8_t *input, int8_t *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        if (x <= -p->input_range_radius) {
            output[i] = -128;
        } else if (x >= p->input_range_radius) {
            output[i] = 127;
        } else {
            const int32_t in_q4 = ek_mul_by_quantized_mul(x, p->input_multiplier, p->input_left_shift);
            const int32_t out_q0 = ek_logistic(in_q4, INPUT_INTEGER_BITS);
            const int32_t out = ek_rounding_divide_by_pot(out_q0, 31 - OUTPUT_INTEGER_BITS) - 128;
            output[i] = (int8_t)ek_clamp32(out, -128, 127);
        }
    }
}
