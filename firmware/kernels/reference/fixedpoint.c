/*
 * gemmlowp's fixed-point transcendental functions on raw int32 values, as TFLM's int8 SOFTMAX,
 * LOGISTIC and TANH use them. A value with `integer_bits` integer bits has 31 - integer_bits
 * fractional bits; results are Q0.31. Each step (constants, rounding, saturation) matches gemmlowp's
 * scalar implementation, because a different but "equally accurate" formula would not be bit-exact.
 */
#include "ek_kernels.h"

#define EK_ONE_F0 INT32_MAX     /* 1.0 in Q0.31 saturates to the largest raw value */
#define EK_ONE_F2 (1 << 29)     /* 1.0 in Q2.29 */

static int32_t mul(int32_t a, int32_t b) { return ek_sat_rounding_doubling_high_mul(a, b); }

/* exp(a) for a in [-1/4, 0): Taylor expansion around -1/8 to the fourth order. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
    const int32_t constant_term = 1895147668;   /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = ek_wrap_add(a, 1 << 28); /* a + 1/8 */
    const int32_t x2 = mul(x, x);
    const int32_t x3 = mul(x2, x);
    const int32_t x4 = mul(x2, x2);
    const int32_t x4_over_4 = ek_rounding_divide_by_pot(x4, 2);
    const int32_t poly =
        ek_rounding_divide_by_pot(ek_wrap_add(mul(ek_wrap_add(x4_over_4, x3), constant_1_over_3), x2), 1);
    return ek_wrap_add(constant_term, mul(constant_term, ek_wrap_add(x, poly)));
}

int32_t ek_exp_on_negative_values(int32_t a, int integer_bits) {
    /* exp(-2^k) for k = -2 .. 4, in Q0.31: applied for each bit set in the part above 1/4. */
    static const int32_t barrel[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = ek_wrap_sub(a & mask, one_quarter);
    int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        ek_rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0));
    const int32_t remainder = ek_wrap_sub(a_mod_quarter_minus_one_quarter, a);
    int exponent;
    for (exponent = -2; exponent <= 4; exponent++) {
        if (integer_bits > exponent) {
            const int shift = fractional_bits + exponent;
            if (remainder & ((int32_t)1 << shift)) {
                result = mul(result, barrel[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5) {
        /* Below -32 the result is flushed to zero. */
        const int32_t clamp = -((int32_t)1 << (36 - integer_bits));
        if (a < clamp) {
            result = 0;
        }
    }
    if (a == 0) {
        result = EK_ONE_F0;
    }
    return result;
}

/* Newton-Raphson division shared by 1/(1+x) and (1-x)/(1+x): returns 1/(1+a) in Q2.29. */
static int32_t newton_reciprocal_f2(int32_t a) {
    const int32_t constant_48_over_17 = 1515870810;
    const int32_t constant_neg_32_over_17 = -1010580540;
    const int32_t half_denominator = ek_rounding_half_sum(a, EK_ONE_F0);
    int32_t x = ek_wrap_add(constant_48_over_17, mul(half_denominator, constant_neg_32_over_17));
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t half_denominator_times_x = mul(half_denominator, x);
        const int32_t one_minus_half_denominator_times_x = ek_wrap_sub(EK_ONE_F2, half_denominator_times_x);
        x = ek_wrap_add(x, ek_rescale(mul(x, one_minus_half_denominator_times_x), 4, 2));
    }
    return x;
}

int32_t ek_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
    /* x holds 2 / (1 + a) in Q2.29; reading it as Q1.30 halves it. */
    return ek_rescale(newton_reciprocal_f2(a), 1, 0);
}

static int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
    return ek_rescale(ek_wrap_sub(newton_reciprocal_f2(a), EK_ONE_F2), 2, 0);
}

int32_t ek_logistic(int32_t a, int integer_bits) {
    int32_t positive;
    if (a == 0) {
        return 1 << 30; /* 0.5 */
    }
    positive = ek_one_over_one_plus_x_for_x_in_0_1(
        ek_exp_on_negative_values(a > 0 ? ek_wrap_sub(0, a) : a, integer_bits));
    return a > 0 ? positive : ek_wrap_sub(EK_ONE_F0, positive);
}

int32_t ek_tanh(int32_t a, int integer_bits) {
    int32_t t;
    if (a == 0) {
        return 0;
    }
    /* -tanh(n) for n = -|a|; exp(2n) is read with one more integer bit. */
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(
        ek_exp_on_negative_values(a < 0 ? a : ek_wrap_sub(0, a), integer_bits + 1));
    return a < 0 ? ek_wrap_sub(0, t) : t;
}

int32_t ek_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
    const int headroom_plus_one = ek_count_leading_zeros((uint32_t)x);
    const int32_t shifted_sum_minus_one =
        (int32_t)(((uint32_t)x << (headroom_plus_one & 31)) - ((uint32_t)1 << 31));
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    return ek_one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
}
