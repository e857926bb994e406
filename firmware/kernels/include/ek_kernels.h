/*
 * edgekit reference kernels: shared fixed-point helpers and kernel signatures.
 *
 * Every int8 kernel here reproduces TensorFlow Lite Micro's reference kernels bit for bit: the same
 * requantization (gemmlowp-style double rounding, as TFLM builds without TFLITE_SINGLE_ROUNDING), the
 * same saturation, the same fixed-point exp/logistic/tanh. All parameters that TFLM derives from float
 * scales in its Prepare step (multipliers, shifts, offsets, activation ranges, radii) are computed on
 * the host by the edgekit generator and arrive here as integers: no float on the integer paths, no
 * malloc, no global state.
 *
 * C99. Signed right shifts are assumed arithmetic (true of gcc, clang and armcc), as in TFLM.
 */
#ifndef EK_KERNELS_H
#define EK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EK_INLINE static inline __attribute__((always_inline))
#else
#define EK_INLINE static inline
#endif

/* ---------------------------------------------------------------------------------------------
 * Fixed-point helpers. Arithmetic that may wrap goes through uint32_t, where wrapping is defined;
 * TFLM relies on the same two's-complement wrap (it only silences the sanitizer).
 * ------------------------------------------------------------------------------------------- */

EK_INLINE int32_t ek_wrap_add(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

EK_INLINE int32_t ek_wrap_sub(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

EK_INLINE int32_t ek_wrap_shl(int32_t a, int n) { return (int32_t)((uint32_t)a << n); }

EK_INLINE int32_t ek_min32(int32_t a, int32_t b) { return a < b ? a : b; }

EK_INLINE int32_t ek_max32(int32_t a, int32_t b) { return a > b ? a : b; }

EK_INLINE int32_t ek_clamp32(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* (a * b) / 2^31 rounded to nearest, ties away from zero; INT32_MIN * INT32_MIN saturates (VQRDMULH). */
EK_INLINE int32_t ek_sat_rounding_doubling_high_mul(int32_t a, int32_t b) {
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (1LL << 30) : (1LL - (1LL << 30));
    /* Division, not a shift: it truncates toward zero, which the nudge above assumes. */
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
EK_INLINE int32_t ek_rounding_divide_by_pot(int32_t x, int exponent) {
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM's MultiplyByQuantizedMultiplier(int32_t, ...) on the double-rounding path: a left shift
 * (shift > 0), the rounding doubling high multiply, then a rounding right shift (shift < 0). */
EK_INLINE int32_t ek_mul_by_quantized_mul(int32_t x, int32_t multiplier, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    return ek_rounding_divide_by_pot(ek_sat_rounding_doubling_high_mul(ek_wrap_shl(x, left), multiplier), right);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: a saturating left shift. */
EK_INLINE int32_t ek_sat_shl(int32_t x, int exponent) {
    const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return ek_wrap_shl(x, exponent);
}

/* Rescale a fixed-point raw value from `src_bits` to `dst_bits` integer bits (gemmlowp::Rescale). */
EK_INLINE int32_t ek_rescale(int32_t x, int src_bits, int dst_bits) {
    const int exponent = src_bits - dst_bits;
    if (exponent > 0) {
        return ek_sat_shl(x, exponent);
    }
    if (exponent < 0) {
        return ek_rounding_divide_by_pot(x, -exponent);
    }
    return x;
}

/* (a + b) / 2 rounded to nearest, ties away from zero. */
EK_INLINE int32_t ek_rounding_half_sum(int32_t a, int32_t b) {
    const int64_t sum = (int64_t)a + (int64_t)b;
    const int64_t sign = sum >= 0 ? 1 : -1;
    return (int32_t)((sum + sign) / 2);
}

EK_INLINE int ek_count_leading_zeros(uint32_t x) {
#if defined(__GNUC__)
    return x == 0 ? 32 : __builtin_clz(x);
#else
    int n = 0;
    if (x == 0) {
        return 32;
    }
    while ((x & 0x80000000u) == 0) {
        x <<= 1;
        n++;
    }
    return n;
#endif
}

/* Fixed-point transcendental functions of gemmlowp (raw int32 values; Q0.31 results). Defined in
 * reference/fixedpoint.c so that every kernel uses one copy. */
int32_t ek_exp_on_negative_values(int32_t a, int integer_bits);
int32_t ek_one_over_one_plus_x_for_x_in_0_1(int32_t a);
int32_t ek_logistic(int32_t a, int integer_bits);
int32_t ek_tanh(int32_t a, int integer_bits);
/* 1 / x for x with `x_integer_digits` integer bits, as TFLM's GetReciprocal. */
int32_t ek_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit);

/* Loop index `i` of `n`, walked backwards when `reverse` is set. Kernels that take a reverse flag
 * write their output elements strictly in ascending (or, reversed, descending) memory order and read
 * all inputs of an element before writing it: that is what lets the generator place an output over
 * the input it consumes, overlapping by an amount it computes from the op's read pattern. */
#define EK_REVERSE(i, n, reverse) ((reverse) ? (n) - 1 - (i) : (i))

/* ---------------------------------------------------------------------------------------------
 * Kernels. Tensors are NHWC, int8 unless said otherwise. "offset" means minus the zero point for an
 * input and the zero point for an output, as in TFLM's op params. Per-channel multipliers and shifts
 * have one entry per output channel; shifts are TFLM's exponent convention (positive = left).
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, in_c;
    int32_t out_h, out_w, out_c;
    int32_t filter_h, filter_w, filter_in_c; /* CONV_2D: in_c / filter_in_c groups */
    int32_t depth_multiplier;                /* DEPTHWISE_CONV_2D only */
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_h, pad_w; /* top and left padding */
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t reverse; /* 1: compute the outputs from the last to the first (EK_REVERSE) */
    /* 1: the generator proved that the optimized kernels' short requantization (ek_dsp.h ek_rq_fast)
     * equals TFLM's for every input of this layer; the reference kernels ignore it. */
    int32_t requant_fast;
} ek_conv_params_t;

/* An output pixel (batch, row, column) walked in flat order, forward or backward, without divisions
 * (the optimized families' convolutions). */
typedef struct {
    int32_t b, y, x;
} ek_pixel_t;

EK_INLINE ek_pixel_t ek_pixel_first(const ek_conv_params_t *p) {
    ek_pixel_t q;
    q.b = p->reverse ? p->batches - 1 : 0;
    q.y = p->reverse ? p->out_h - 1 : 0;
    q.x = p->reverse ? p->out_w - 1 : 0;
    return q;
}

/* `q` one pixel on in flat order, or back when `back`. */
EK_INLINE void ek_pixel_step(const ek_conv_params_t *p, ek_pixel_t *q, int back) {
    if (!back) {
        if (++q->x == p->out_w) {
            q->x = 0;
            if (++q->y == p->out_h) {
                q->y = 0;
                q->b++;
            }
        }
    } else if (--q->x < 0) {
        q->x = p->out_w - 1;
        if (--q->y < 0) {
            q->y = p->out_h - 1;
            q->b--;
        }
    }
}

/* The next pixel in the kernel's order (backwards when reversed). */
EK_INLINE void ek_pixel_next(const ek_conv_params_t *p, ek_pixel_t *q) { ek_pixel_step(p, q, p->reverse); }

/* First and one-past-last filter tap whose input coordinate origin + dilation * tap is inside [0, size):
 * convolutions walk only those taps instead of testing each one. */
EK_INLINE void ek_tap_range(int32_t origin, int32_t dilation, int32_t taps, int32_t size, int32_t *start,
                            int32_t *end) {
    int32_t s = 0;
    int32_t e;
    if (origin < 0) {
        s = (-origin + dilation - 1) / dilation;
    }
    e = size - origin <= 0 ? 0 : (size - origin + dilation - 1) / dilation;
    *start = s;
    *end = e < taps ? e : taps;
}

/* One convolution output from its accumulator: bias, TFLM's requantization, output offset, clamp. */
EK_INLINE int8_t ek_conv_output(const ek_conv_params_t *p, int32_t acc, const int32_t *bias,
                                const int32_t *multiplier, const int8_t *shift, int32_t oc) {
    if (bias != NULL) {
        acc += bias[oc];
    }
    acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]);
    acc += p->output_offset;
    return (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
}

/* `scratch`: working memory in the arena for optimized variants (the Arm DSP kernel widens input
 * patches into it); NULL for the reference kernel, which ignores it. */
void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch);

/* `scratch`: as for CONV_2D (the Arm DSP kernel keeps a row of padding values there); NULL: unused. */
void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch);

typedef struct {
    int32_t batches, accum_depth, out_depth;
    int32_t input_offset, filter_offset, output_offset;
    int32_t act_min, act_max;
    int32_t per_channel; /* 0: multiplier[0] and shift[0] apply to every output */
    int32_t reverse;
} ek_fc_params_t;

void ek_fully_connected_s8(const ek_fc_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                           const int32_t *multiplier, const int8_t *shift, int8_t *output);

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
    int32_t filter_h, filter_w, stride_h, stride_w, pad_h, pad_w;
    int32_t act_min, act_max;
    int32_t reverse;
} ek_pool_params_t;

/* Returns -1 when a window holds no input element (TFLM fails the invoke then), else 0. */
int ek_average_pool_2d_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output);
void ek_max_pool_2d_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output);

/* AVERAGE_POOL_2D's division: the sum over the window's `count` elements, rounded half away from zero
 * (C division truncates toward zero, as TFLM's does), clamped to the activation. */
EK_INLINE int8_t ek_pool_average(int32_t acc, int32_t count, int32_t act_min, int32_t act_max) {
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)ek_clamp32(acc, act_min, act_max);
}

/* TFLM's reference_integer_ops::AveragePool: the window clipped to the image, the sum divided by the
 * number of elements inside. The reference kernel is this loop; the optimized families fall back to it
 * for the windows they do not take. */
EK_INLINE int ek_average_pool_2d_ref(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t channels = p->channels;
    const int32_t rev = p->reverse;
    int32_t ib, iy, ix, ic, fy, fx;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * channels;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy_start = ek_max32(0, -in_y0);
            const int32_t fy_end = ek_min32(p->filter_h, p->in_h - in_y0);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx_start = ek_max32(0, -in_x0);
                const int32_t fx_end = ek_min32(p->filter_w, p->in_w - in_x0);
                const int32_t count = (fy_end - fy_start) * (fx_end - fx_start);
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * channels;
                if (fy_end <= fy_start || fx_end <= fx_start) {
                    return -1;
                }
                for (ic = 0; ic < channels; ic++) {
                    const int32_t c = EK_REVERSE(ic, channels, rev);
                    int32_t acc = 0;
                    for (fy = fy_start; fy < fy_end; fy++) {
                        const int8_t *in_row = in_batch + ((size_t)(in_y0 + fy) * p->in_w + in_x0) * channels + c;
                        for (fx = fx_start; fx < fx_end; fx++) {
                            acc += in_row[(size_t)fx * channels];
                        }
                    }
                    out[c] = ek_pool_average(acc, count, p->act_min, p->act_max);
                }
            }
        }
    }
    return 0;
}

/* Broadcasting binary ops walk the output as a 6-D array; an input's stride is 0 along a dimension
 * it broadcasts. broadcast == 0: all three have the same shape and are walked flat. */
#define EK_MAX_DIMS 6
typedef struct {
    int32_t broadcast;
    int32_t reverse;
    int32_t size; /* output elements */
    int32_t out_dims[EK_MAX_DIMS];
    int32_t in1_strides[EK_MAX_DIMS];
    int32_t in2_strides[EK_MAX_DIMS];
} ek_broadcast_t;

typedef struct {
    ek_broadcast_t shape;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t left_shift;
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} ek_add_params_t;

void ek_add_s8(const ek_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

typedef struct {
    ek_broadcast_t shape;
    int32_t input1_offset, input2_offset, output_offset;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} ek_mul_params_t;

void ek_mul_s8(const ek_mul_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output);

typedef struct {
    int32_t outer, depth;
    int32_t input_multiplier, input_left_shift;
    int32_t diff_min;
} ek_softmax_params_t;

void ek_softmax_s8(const ek_softmax_params_t *p, const int8_t *input, int8_t *output);

/* Elementwise unary ops walk `size` elements, last to first when `reverse` is set. */

/* RELU, RELU_N1_TO_1 (requantize, then clamp to [act_min, act_max]). */
typedef struct {
    int32_t size, reverse;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
    int32_t act_min, act_max;
} ek_relu_params_t;

void ek_relu_s8(const ek_relu_params_t *p, const int8_t *input, int8_t *output);

/* RELU6: a clamp to [lower, upper] in the input's quantization; TFLM does not requantize. */
typedef struct {
    int32_t size, reverse;
    int32_t lower, upper;
} ek_relu6_params_t;

void ek_relu6_s8(const ek_relu6_params_t *p, const int8_t *input, int8_t *output);

/* LOGISTIC and TANH: input rescaled to Q4.27, gemmlowp fixed-point function, output in Q0.7 (TANH,
 * zero point 0) or Q0.8 with zero point -128 (LOGISTIC). Inputs beyond +-radius saturate. */
typedef struct {
    int32_t size, reverse;
    int32_t input_zero_point, input_range_radius;
    int32_t input_multiplier, input_left_shift;
} ek_sigmoid_params_t;

void ek_logistic_s8(const ek_sigmoid_params_t *p, const int8_t *input, int8_t *output);
void ek_tanh_s8(const ek_sigmoid_params_t *p, const int8_t *input, int8_t *output);

/* HARD_SWISH in 16-bit fixed point (TFLM's reference_ops::HardSwish for int8). */
typedef struct {
    int32_t size, reverse;
    int32_t input_zero_point, output_zero_point;
    int32_t reluish_multiplier_fixedpoint_int16, reluish_multiplier_exponent;
    int32_t output_multiplier_fixedpoint_int16, output_multiplier_exponent;
} ek_hard_swish_params_t;

void ek_hard_swish_s8(const ek_hard_swish_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size, reverse;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier_identity, shift_identity;
    int32_t multiplier_alpha, shift_alpha; /* multiplier_alpha < 0 for a negative alpha */
} ek_leaky_relu_params_t;

void ek_leaky_relu_s8(const ek_leaky_relu_params_t *p, const int8_t *input, int8_t *output);

/* QUANTIZE: int8 -> int8 requantization, or float32 -> int8 (round half away from zero). */
typedef struct {
    int32_t size, reverse;
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} ek_requantize_params_t;

void ek_requantize_s8(const ek_requantize_params_t *p, const int8_t *input, int8_t *output);

typedef struct {
    int32_t size, reverse;
    float scale; /* QUANTIZE divides by it, as TFLM does (not a multiply by 1/scale) */
    int32_t zero_point;
} ek_float_quant_params_t;

void ek_quantize_f32_s8(const ek_float_quant_params_t *p, const float *input, int8_t *output);
/* DEQUANTIZE: int8 -> float32, scale * (q - zero_point). */
void ek_dequantize_s8_f32(const ek_float_quant_params_t *p, const int8_t *input, float *output);

/* Data movement. Up to 6 dimensions; shapes are padded with leading 1s. */

/* PAD / PADV2 with a constant value. */
typedef struct {
    int32_t out_dims[EK_MAX_DIMS];
    int32_t in_dims[EK_MAX_DIMS];
    int32_t before[EK_MAX_DIMS];
    int32_t pad_value;
} ek_pad_params_t;

void ek_pad_s8(const ek_pad_params_t *p, const int8_t *input, int8_t *output);

/* TRANSPOSE and STRIDED_SLICE: output element (i0..i5) is input element
 * offset + sum(ik * in_strides[k]); elem_bytes is 1, 2 or 4. */
typedef struct {
    int32_t out_dims[EK_MAX_DIMS];
    int32_t in_strides[EK_MAX_DIMS];
    int32_t offset;
    int32_t elem_bytes;
} ek_gather_params_t;

void ek_transpose(const ek_gather_params_t *p, const void *input, void *output);
void ek_strided_slice(const ek_gather_params_t *p, const void *input, void *output);

/* CONCATENATION along one axis: for each of `outer` rows, input i contributes chunk_bytes[i]. */
#define EK_MAX_CONCAT 16
typedef struct {
    int32_t num_inputs, outer;
    int32_t chunk_bytes[EK_MAX_CONCAT];
} ek_concat_params_t;

void ek_concatenation(const ek_concat_params_t *p, const void *const *inputs, void *output);

/* MEAN over any set of axes, int8 (TFLM's QuantizedMeanOrSum): each output sums its input elements
 * in int32, then one requantization folds the division by the count. Output element o has kept
 * coordinates o = (k0..k5) over kept_dims; its inputs are base(o) + sum(rk * reduced_strides[k]). */
typedef struct {
    int32_t out_size;
    int32_t kept_dims[EK_MAX_DIMS];
    int32_t kept_strides[EK_MAX_DIMS];
    int32_t reduced_dims[EK_MAX_DIMS];
    int32_t reduced_strides[EK_MAX_DIMS];
    int32_t count; /* input elements per output */
    int32_t input_zero_point, output_zero_point;
    int32_t multiplier, shift;
} ek_mean_params_t;

void ek_mean_s8(const ek_mean_params_t *p, const int8_t *input, int8_t *output);

/* RESHAPE / SQUEEZE / EXPAND_DIMS normally alias their input; this copy is the fallback when they
 * cannot (a constant input, say). Overlapping buffers are allowed. */
void ek_copy(const void *input, void *output, size_t bytes);

#ifdef __cplusplus
}
#endif

#endif /* EK_KERNELS_H */
