/* LEAKY_RELU, int8 (TFLM's reference_ops::QuantizeLeakyRelu): separate requantizations for x >= 0
 * and x < 0; a negative alpha is applied as a positive multiplier and a negation. */
#include "ek_kernels.h"

void ek_leaky_relu_s8(const ek_leaky_relu_params_t *p, const int8_t *input, int8_t *output) {
    const int alpha_negative = p->multiplier_alpha < 0;
    const int32_t alpha = alpha_negative ? -p->multiplier_alpha : p->multiplier_alpha;
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t x = (int32_t)input[i] - p->input_zero_point;
        int32_t v = p->output_zero_point;
        if (x >= 0) {
            v += ek_mul_by_quantized_mul(x, p->multiplier_identity, p->shift_identity);
        } else {
            const int32_t scaled = ek_mul_by_quantized_mul(x, alpha, p->shift_alpha);
            v += alpha_negative ? -scaled : scaled;
        }
        output[i] = (int8_t)ek_clamp32(v, -128, 127);
    }
}
