/* RELU and RELU_N1_TO_1, int8 (TFLM's ReluQuantized): requantize to the output scale, then clamp. */
#include "ek_kernels.h"

void ek_relu_s8(const ek_relu_params_t *p, const int8_t *input, int8_t *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t v = p->output_zero_point +
                          ek_mul_by_quantized_mul((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift);
        output[i] = (int8_t)ek_clamp32(v, p->act_min, p->act_max);
    }
}
