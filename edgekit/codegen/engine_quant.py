"""Host-side versions of the parameter computations TFLM does in its kernels' Prepare step.

These run once per model in the generator; the device only sees the resulting integers. Each function
follows the float/double arithmetic of tflite-micro (commit 90b983c) step by step, including where
it computes in float32 rather than double, because a multiplier that differs in its last bit changes
outputs. Names and the precision of every intermediate match the C++ they mirror.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN = -128
INT8_MAX = 127


def tflite_round(x: float) -> float:
    """std::round: nearest integer, halfway cases away from zero (Python's round() goes to even)."""
    if not math.isfinite(x):
        raise ValueError(f"cannot round {x}")
    if x >= 0:
        f = math.floor(x)
        return f + 1.0 if x - f >= 0.5 else f
    return -tflite_round(-x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier (double-rounding build): real = multiplier * 2^(shift - 31), multiplier in
    [2^30, 2^31) or 0; shift is an exponent (positive means a left shift)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed > (1 << 31):
        raise ValueError(f"multiplier {real!r} does not quantize")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        # Too small to matter: TFLM flushes it to zero.
        shift, q_fixed = 0, 0
    return q_fixed, shift


def quantize_multiplier_frexp(real: float) -> tuple[int, int]:
    """The multiplier TANH and LOGISTIC compute inline with frexp, without QuantizeMultiplier's
    adjustment when the mantissa rounds up to 2^31. The cast to int32 then wraps, as on the device."""
    q, shift = math.frexp(real)
    q_fixed = int(tflite_round(q * (1 << 31)))
    if q_fixed >= 1 << 31:
        q_fixed -= 1 << 32
    return q_fixed, shift


def f32(x: float) -> np.float32:
    return np.float32(x)


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """kernel_util.cc's Quantize(): round(value / scale) computed in float32, plus the zero point."""
    tmp = tflite_round(float(f32(value) / f32(scale)))
    return zero_point + int(tmp)


def quantize_value_f32_round(value: float, scale: float) -> int:
    """round(value / scale) with the division in float32 (FloatToQuantizedType, before the zero point)."""
    return int(tflite_round(float(f32(value) / f32(scale))))


def activation_range(activation: str, scale: float, zero_point: int, qmin: int = INT8_MIN,
                     qmax: int = INT8_MAX) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for a fused activation."""
    if activation == "RELU":
        return max(qmin, quantize_value(0.0, scale, zero_point)), qmax
    if activation == "RELU6":
        return (max(qmin, quantize_value(0.0, scale, zero_point)),
                min(qmax, quantize_value(6.0, scale, zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(qmin, quantize_value(-1.0, scale, zero_point)),
                min(qmax, quantize_value(1.0, scale, zero_point)))
    if activation in ("NONE", None):
        return qmin, qmax
    raise ValueError(f"fused activation {activation} is not supported")


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest |input| (in input units) that does not saturate."""
    max_input_rescaled = (
        1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
        / (1 << input_left_shift)
    )
    return math.floor(max_input_rescaled)


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius for the int8 softmax: (multiplier, left shift,
    diff_min)."""
    scaled_diff_integer_bits = 5
    max_real_multiplier = float((1 << 31) - 1)
    real = min(float(beta) * float(input_scale) * (1 << (31 - scaled_diff_integer_bits)), max_real_multiplier)
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = int(-1.0 * calculate_input_radius(scaled_diff_integer_bits, left_shift))
    return multiplier, left_shift, diff_min
