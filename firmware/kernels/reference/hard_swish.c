/* HARD_SWISH, int8 (TFLM's reference_ops::HardSwish<int8_t>): x * relu6(x + 3) / 6 in 16-bit fixed
 * point. The int16 arithmetic below mirrors gemmlowp's int16 specializations step by step; the
 * generator only emits exponents for which the shifts stay in range. */
#include "ek_kernels.h"

static int16_t srdhm16(int16_t a, int16_t b) {
    int32_t ab, nudge;
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    ab = (int32_t)a * (int32_t)b;
    nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
    return (int16_t)((ab + nudge) / (1 << 15));
}

/* Like srdhm16 but truncating toward zero (ARM SQDMULH). */
static int16_t sdhm16(int16_t a, int16_t b) {
    if (a == b && a == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}

static int16_t sat_shl16(int16_t value, int amount) {
    const int64_t r = (int64_t)value * ((int64_t)1 << amount);
    return (int16_t)(r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : r));
}

static int16_t rdbpot16(int16_t x, int exponent) {
    return (int16_t)ek_rounding_divide_by_pot(x, exponent);
}

void ek_hard_swish_s8(const ek_hard_swish_params_t *p, const int8_t *input, int8_t *output) {
    const int16_t out_mult = (int16_t)p->output_multiplier_fixedpoint_int16;
    const int16_t reluish_mult = (int16_t)p->reluish_multiplier_fixedpoint_int16;
    const int reluish_exp = (int)p->reluish_multiplier_exponent;
    int32_t k;
    for (k = 0; k < p->size; k++) {
        const int32_t i = EK_REVERSE(k, p->size, p->reverse);
        const int16_t x = (int16_t)((int32_t)input[i] - p->input_zero_point);
        const int16_t x_hires = (int16_t)(x * (1 << 7));
        const int16_t x_preshift_out = srdhm16(x_hires, out_mult);
        int16_t reluish = x_hires;
        int16_t out;
        if (reluish_exp > 0) {
            reluish = sat_shl16(reluish, reluish_exp - 1);
        }
        reluish = srdhm16(reluish, reluish_mult);
        if (reluish_exp > 0) {
            reluish = sat_shl16(reluish, 1);
        }
        if (reluish_exp < 0) {
            reluish = rdbpot16(reluish, -reluish_exp);
        }
        reluish = (int16_t)(((int32_t)reluish + (1 << 15)) >> 1);
        out = rdbpot16(sdhm16(reluish, x_preshift_out), -(int)p->output_multiplier_exponent);
        out = (int16_t)(out + p->output_zero_point);
        output[i] = (int8_t)(out > 127 ? 127 : (out < -128 ? -128 : out));
    }
}
