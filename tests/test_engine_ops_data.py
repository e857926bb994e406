"""Per-op bit-exact tests for the engine's data-movement and reduction kernels: PAD / PADV2,
CONCATENATION (including the int8 -> int8 QUANTIZE the converter inserts for mismatched inputs),
MEAN, TRANSPOSE, STRIDED_SLICE and the aliasing RESHAPE / SQUEEZE / EXPAND_DIMS. Single-op models
from TF's converter, compared with TFLM on random int8 inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_engine_helpers import assert_engine_matches_tflm, convert

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.mark.parametrize("paddings,value", [
    ([[0, 0], [1, 2], [2, 1], [0, 0]], None),
    ([[0, 0], [0, 3], [1, 0], [2, 1]], None),
    ([[1, 0], [2, 2]], 0.5),
])
def test_pad(paddings: list[list[int]], value: float | None, tmp_path: Path) -> None:
    import tensorflow as tf

    shape = (1, 4, 5, 3) if len(paddings) == 4 else (2, 6)

    def fn(x):
        y = x * 1.5
        return tf.pad(y, paddings) if value is None else tf.pad(y, paddings, constant_values=value)

    model = convert(fn, [shape], seed=21)
    assert_engine_matches_tflm(model, tmp_path, seed=21)


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenation(axis: int, tmp_path: Path) -> None:
    import tensorflow as tf

    def fn(x, y, z):
        return tf.concat([x, y * 2.0, z * 0.5], axis=axis)

    shapes = [(1, 3, 4, 2)] * 3
    model = convert(fn, shapes, seed=22)
    assert_engine_matches_tflm(model, tmp_path, seed=22, expect_ops=["CONCATENATION"])


def test_concatenation_of_differently_quantized_inputs(tmp_path: Path) -> None:
    import tensorflow as tf

    def fn(x):
        return tf.concat([tf.nn.softmax(x), tf.tanh(x)], axis=-1)

    # SOFTMAX and TANH have fixed output scales, so the converter requantizes them (int8 -> int8 QUANTIZE).
    model = convert(fn, [(1, 4, 3)], seed=27)
    assert_engine_matches_tflm(model, tmp_path, seed=27, expect_ops=["CONCATENATION", "QUANTIZE"])


@pytest.mark.parametrize("axes,keepdims", [([1, 2], True), ([1, 2], False), ([-1], False), ([0, 3], True)])
def test_mean(axes: list[int], keepdims: bool, tmp_path: Path) -> None:
    import tensorflow as tf

    def fn(x):
        return tf.reduce_mean(x * 1.5, axis=axes, keepdims=keepdims)

    model = convert(fn, [(1, 5, 7, 6)], seed=23)
    assert_engine_matches_tflm(model, tmp_path, seed=23, expect_ops=["MEAN"])


@pytest.mark.parametrize("perm", [[0, 2, 1, 3], [0, 3, 1, 2], [2, 0, 1]])
def test_transpose(perm: list[int], tmp_path: Path) -> None:
    import tensorflow as tf

    shape = (1, 3, 4, 5) if len(perm) == 4 else (3, 4, 5)

    def fn(x):
        return tf.transpose(x * 1.5, perm)

    model = convert(fn, [shape], seed=24)
    assert_engine_matches_tflm(model, tmp_path, seed=24, expect_ops=["TRANSPOSE"])


SLICES = {
    "steps": lambda x: x[:, 1:5:2, ::2, :],
    "negative": lambda x: x[:, ::-1, 1:-1, :],
    "shrink": lambda x: x[:, 2, :, 1:3],
    "end_clamped": lambda x: x[:, -3:100, :3, ::3],
}


@pytest.mark.parametrize("name", sorted(SLICES))
def test_strided_slice(name: str, tmp_path: Path) -> None:
    def fn(x):
        return SLICES[name](x * 1.5)

    model = convert(fn, [(1, 6, 5, 4)], seed=25)
    assert_engine_matches_tflm(model, tmp_path, seed=25, expect_ops=["STRIDED_SLICE"])


def test_reshape_squeeze_expand_dims_alias(tmp_path: Path) -> None:
    import tensorflow as tf

    weights = tf.constant(np.random.default_rng(26).normal(size=(24, 5)).astype(np.float32))

    def fn(x):
        y = tf.reshape(x * 1.5, (1, 24))
        y = tf.expand_dims(tf.matmul(y, weights), 1)
        return tf.squeeze(tf.nn.relu(y), 1)

    model = convert(fn, [(1, 2, 3, 4)], seed=26)
    assert_engine_matches_tflm(model, tmp_path, seed=26)
