/* QUANTIZE: int8 -> int8 requantization (TFLM's reference_ops::Requantize) and float32 -> int8
 * (reference_ops::AffineQuantize: round(x / scale) half away from zero, plus the zero point). */
#include "ek_kernels.h"

void ek_requantize_s8(const ek_requantize_params_t *p, const int8_t *input, int8_t *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t v = ek_mul_by_quantized_mul((int32_t)input[i] - p->input_zero_point, p->multiplier, p->shift) +
                          p->output_zero_point;
        output[i] = (int8_t)ek_clamp32(v, -128, 127);
    }
}

/* round() for floats without libm: exact, since x - trunc(x) is exact in binary floating point. */
static int32_t round_to_int32(float x) {
    float t;
    /* Out of int32 range (and NaN) the C++ cast TFLM uses is undefined; saturate, as Arm does. */
    if (!(x == x)) {
        return 0;
    }
    if (x >= 2147483648.0f) {
        return INT32_MAX;
    }
    if (x < -2147483648.0f) {
        return INT32_MIN;
    }
    t = (float)(int32_t)x;
    if (x - t >= 0.5f) {
        return (int32_t)t + 1;
    }
    if (x - t <= -0.5f) {
        return (int32_t)t - 1;
    }
    return (int32_t)t;
}

void ek_quantize_f32_s8(const ek_float_quant_params_t *p, const float *input, int8_t *output) {
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int32_t q = round_to_int32(input[i] / p->scale);
        /* Saturating add: TFLM's int32 sum cannot overflow for any value that reaches the clamp. */
        const int64_t v = (int64_t)q + p->zero_point;
        output[i] = (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
    }
}
