/* DEQUANTIZE, int8 -> float32 (TFLM's reference_ops::Dequantize). TFLM multiplies in double; the
 * exact product of a float scale and an integer below 2^9 fits a double, and both roundings to float
 * then give the same value, so single precision is bit-exact here. */
#include "ek_kernels.h"

void ek_dequantize_s8_f32(const ek_float_quant_params_t *p, const int8_t *input, float *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        output[i] = p->scale * (float)((int32_t)input[i] - p->zero_point);
    }
}
