"""Per-op bit-exact tests for the engine's elementwise kernels: ADD and MUL (same shape, broadcast,
constant operand, fused activation), SOFTMAX, LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, HARD_SWISH,
and QUANTIZE / DEQUANTIZE at the edges of float-I/O models. Single-op models from TF's converter,
compared with TFLM on random inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_engine_helpers import assert_engine_matches_tflm, convert

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

BINARY_SHAPES = [
    ((1, 5, 7, 3), (1, 5, 7, 3)),
    ((1, 4, 6, 8), (1, 1, 1, 8)),
    ((1, 4, 1, 3), (1, 1, 5, 1)),
    ((2, 3, 4), (4,)),
    ((1, 17), (1, 17)),
]


@pytest.mark.parametrize("case", range(len(BINARY_SHAPES)))
@pytest.mark.parametrize("opname", ["ADD", "MUL"])
def test_binary(opname: str, case: int, tmp_path: Path) -> None:
    import tensorflow as tf

    a, b = BINARY_SHAPES[case]
    scale = 1.0 + case  # different input ranges give different rescaling multipliers

    def fn(x, y):
        z = x + y * scale if opname == "ADD" else x * (y * scale)
        return tf.nn.relu(z) if case % 2 else z

    model = convert(fn, [a, b], seed=case)
    assert_engine_matches_tflm(model, tmp_path, seed=case, expect_ops=[opname])


@pytest.mark.parametrize("opname", ["ADD", "MUL"])
def test_binary_with_constant(opname: str, tmp_path: Path) -> None:
    import tensorflow as tf

    const = tf.constant(np.random.default_rng(5).normal(0, 2, size=(1, 1, 6)).astype(np.float32))

    def fn(x):
        return x + const if opname == "ADD" else x * const

    model = convert(fn, [(1, 4, 6)], seed=5)
    assert_engine_matches_tflm(model, tmp_path, seed=5, expect_ops=[opname])


@pytest.mark.parametrize("shape,beta", [((1, 10), 1.0), ((1, 3, 4, 7), 1.0), ((2, 5), 2.5), ((1, 200), 1.0)])
def test_softmax(shape: tuple[int, ...], beta: float, tmp_path: Path) -> None:
    # Rows much longer than 256 are not compared: TFLM aborts (TFLITE_CHECK on the reciprocal's
    # exponent) once a row's exps sum past 2^8, e.g. 1000 equal logits.
    import tensorflow as tf

    def fn(x):
        return tf.nn.softmax(x * beta)

    model = convert(fn, [shape], seed=len(shape), input_range=8.0)
    assert_engine_matches_tflm(model, tmp_path, seed=3, expect_ops=["SOFTMAX"])


UNARY = {
    "LOGISTIC": lambda tf, x: tf.sigmoid(x),
    "TANH": lambda tf, x: tf.tanh(x),
    "RELU": lambda tf, x: tf.nn.relu(x),
    "RELU6": lambda tf, x: tf.nn.relu6(x),
    "LEAKY_RELU": lambda tf, x: tf.nn.leaky_relu(x, alpha=0.1),
    "HARD_SWISH": lambda tf, x: x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0),
}


@pytest.mark.parametrize("input_range", [1.0, 6.0])
@pytest.mark.parametrize("opname", sorted(UNARY))
def test_unary(opname: str, input_range: float, tmp_path: Path) -> None:
    import tensorflow as tf

    def fn(x):
        # RELU and RELU6 only stay ops of their own on a graph input: after any other op the converter
        # fuses them into it. The others get a multiply in front, for a less trivial input scale.
        return UNARY[opname](tf, x if opname in ("RELU", "RELU6") else x * 1.5)

    model = convert(fn, [(1, 8, 8, 4)], seed=11, input_range=input_range)
    assert_engine_matches_tflm(model, tmp_path, seed=11, expect_ops=[opname])


def test_leaky_relu_negative_alpha(tmp_path: Path) -> None:
    import tensorflow as tf

    def fn(x):
        return tf.nn.leaky_relu(x * 1.5, alpha=-0.3)

    model = convert(fn, [(1, 64)], seed=12)
    assert_engine_matches_tflm(model, tmp_path, seed=12, expect_ops=["LEAKY_RELU"])


def test_float_io_quantize_dequantize(tmp_path: Path) -> None:
    import tensorflow as tf

    weights = tf.constant(np.random.default_rng(13).normal(size=(12, 6)).astype(np.float32))

    def fn(x):
        return tf.nn.relu(tf.matmul(x, weights))

    model = convert(fn, [(1, 12)], seed=13, float_io=True)
    assert_engine_matches_tflm(model, tmp_path, seed=13, expect_ops=["QUANTIZE", "DEQUANTIZE"])
