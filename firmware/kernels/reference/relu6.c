/* RELU6, int8 (TFLM's Relu6Quantized): a clamp in the input's own quantization. */
#include "ek_kernels.h"

void ek_relu6_s8(const ek_relu6_params_t *p, const int8_t *input, int8_t *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t v = input[i];
        output[i] = (int8_t)(v > p->upper ? p->upper : (v < p->lower ? p->lower : v));
    }
}
