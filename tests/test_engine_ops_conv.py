"""Per-op bit-exact tests for the engine's windowed kernels: CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, AVERAGE_POOL_2D and MAX_POOL_2D over random shapes and parameters (strides, padding,
dilation, depth multiplier, groups, fused activations, per-channel and per-tensor weights). Each
case is a single-op model from TF's converter, compared with TFLM on random int8 inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_engine_helpers import assert_engine_matches_tflm, convert

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

ACTIVATIONS = ("NONE", "RELU", "RELU6")


def _activate(tf, x, act: str):
    return {"NONE": x, "RELU": tf.nn.relu(x), "RELU6": tf.nn.relu6(x)}[act]


@pytest.mark.parametrize("case", range(10))
def test_conv_2d(case: int, tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(100 + case)
    h, w = (int(v) for v in rng.integers(3, 12, size=2))
    c, oc = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    dilation = int(rng.integers(1, 3)) if case % 3 == 0 else 1
    stride = 1 if dilation > 1 else int(rng.integers(1, 4))
    padding = ("SAME", "VALID")[case % 2]
    if padding == "VALID":
        kh, kw = min(kh, (h - 1) // dilation + 1), min(kw, (w - 1) // dilation + 1)
    act = ACTIVATIONS[case % 3]
    filters = tf.constant(rng.normal(0, 0.5, size=(kh, kw, c, oc)).astype(np.float32))
    bias = tf.constant(rng.normal(0, 0.5, size=oc).astype(np.float32))

    def fn(x):
        y = tf.nn.conv2d(x, filters, strides=stride, padding=padding, dilations=dilation) + bias
        return _activate(tf, y, act)

    model = convert(fn, [(1, h, w, c)], seed=case)
    assert_engine_matches_tflm(model, tmp_path, seed=case, expect_ops=["CONV_2D"])


def test_grouped_conv_2d(tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(7)
    filters = tf.constant(rng.normal(0, 0.5, size=(3, 3, 2, 6)).astype(np.float32))  # 4 channels, 2 groups

    def fn(x):
        return tf.nn.conv2d(x, filters, strides=1, padding="SAME")

    try:
        model = convert(fn, [(1, 6, 6, 4)], seed=7)
    except Exception as e:  # the converter may not lower grouped convolutions
        pytest.skip(f"converter cannot make a grouped CONV_2D: {str(e)[:100]}")
    assert_engine_matches_tflm(model, tmp_path, seed=7, expect_ops=["CONV_2D"])


@pytest.mark.parametrize("case", range(8))
def test_depthwise_conv_2d(case: int, tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(200 + case)
    h, w = (int(v) for v in rng.integers(3, 12, size=2))
    c, dm = int(rng.integers(1, 7)), int(rng.integers(1, 4))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    dilation = int(rng.integers(1, 3)) if case % 3 == 1 else 1
    stride = 1 if dilation > 1 else int(rng.integers(1, 3))
    padding = ("SAME", "VALID")[case % 2]
    if padding == "VALID":
        kh, kw = min(kh, (h - 1) // dilation + 1), min(kw, (w - 1) // dilation + 1)
    act = ACTIVATIONS[case % 3]
    filters = tf.constant(rng.normal(0, 0.5, size=(kh, kw, c, dm)).astype(np.float32))
    bias = tf.constant(rng.normal(0, 0.5, size=c * dm).astype(np.float32))

    def fn(x):
        y = tf.nn.depthwise_conv2d(x, filters, strides=[1, stride, stride, 1], padding=padding,
                                   dilations=[dilation, dilation]) + bias
        return _activate(tf, y, act)

    model = convert(fn, [(1, h, w, c)], seed=case)
    assert_engine_matches_tflm(model, tmp_path, seed=case, expect_ops=["DEPTHWISE_CONV_2D"])


@pytest.mark.parametrize("case", range(6))
def test_fully_connected(case: int, tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(300 + case)
    depth, units = int(rng.integers(1, 40)), int(rng.integers(1, 20))
    batches = 1 if case < 4 else 3
    weights = tf.constant(rng.normal(0, 0.5, size=(depth, units)).astype(np.float32))
    bias = tf.constant(rng.normal(0, 0.5, size=units).astype(np.float32))
    act = ACTIVATIONS[case % 3]

    def fn(x):
        return _activate(tf, tf.matmul(x, weights) + bias, act)

    model = convert(fn, [(batches, depth)], seed=case, per_tensor_dense=case % 2 == 1)
    assert_engine_matches_tflm(model, tmp_path, seed=case, expect_ops=["FULLY_CONNECTED"])


@pytest.mark.parametrize("case", range(6))
def test_pooling(case: int, tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(400 + case)
    h, w = (int(v) for v in rng.integers(2, 12, size=2))
    c = int(rng.integers(1, 9))
    kh, kw = (int(v) for v in rng.integers(1, 5, size=2))
    stride = int(rng.integers(1, 4))
    padding = ("SAME", "VALID")[case % 2]
    if padding == "VALID":
        kh, kw = min(kh, h), min(kw, w)
    average = case < 3
    pool = tf.nn.avg_pool2d if average else tf.nn.max_pool2d

    def fn(x):
        return pool(x, ksize=[kh, kw], strides=stride, padding=padding)

    model = convert(fn, [(1, h, w, c)], seed=case)
    assert_engine_matches_tflm(model, tmp_path, seed=case,
                               expect_ops=["AVERAGE_POOL_2D" if average else "MAX_POOL_2D"])
