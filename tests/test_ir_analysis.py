"""Per-layer analysis: MACs and sizes recomputed by hand from the published architectures and from
the layer shapes, totals against the MLPerf Tiny figures, and quantization kinds."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from edgekit.ir import Graph, read_tflite
from edgekit.ir.analysis import HYBRID, analyze

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"


def load(relative: str) -> Graph:
    if not MODELS.is_dir():
        pytest.skip(f"reference models not present ({MODELS} is absent)")
    path = MODELS / relative
    if not path.exists():
        pytest.skip(f"reference model {relative} is not in {MODELS}")
    return read_tflite(path)


def same_out(size: int, stride: int) -> int:
    return -(-size // stride)


@pytest.mark.parametrize(
    ("relative", "published_macs"),
    [
        # MLPerf Tiny v0.5 paper / TOOLCHAIN.md: KWS DS-CNN 2.66 M, VWW MobileNetV1-0.25 7.49 M,
        # ResNet-8 12.50 M MACs.
        ("mlcommons_tiny/kws_ref_model.tflite", 2.66e6),
        ("mlcommons_tiny/vww_96_int8.tflite", 7.49e6),
        ("mlcommons_tiny/pretrainedResnet_quant.tflite", 12.50e6),
    ],
)
def test_total_macs_match_published_figures(relative: str, published_macs: float) -> None:
    result = analyze(load(relative))
    assert result.total_macs == pytest.approx(published_macs, rel=0.02)


def test_float_and_int8_versions_count_the_same_work() -> None:
    assert analyze(load("mlcommons_tiny/vww_96_float.tflite")).total_macs == analyze(
        load("mlcommons_tiny/vww_96_int8.tflite")
    ).total_macs


def test_kws_layers_by_hand() -> None:
    """DS-CNN (Zhang et al., MLPerf Tiny KWS): 49x10 MFCC input, conv 10x4 stride 2 with 64 filters,
    four depthwise 3x3 + pointwise 64 blocks, average pool, dense 64 -> 12."""
    graph = load("mlcommons_tiny/kws_ref_model.tflite")
    layers = analyze(graph).layers
    h, w = same_out(49, 2), same_out(10, 2)
    assert (h, w) == (25, 5)

    conv = layers[0]
    assert conv.op_type == "CONV_2D"
    assert conv.output_shapes == [(1, h, w, 64)]
    assert conv.macs == h * w * 64 * (10 * 4 * 1)
    assert conv.params == 64 * 10 * 4 * 1 + 64
    assert conv.weight_bytes == 64 * 10 * 4 * 1 + 64 * 4  # int8 weights, int32 bias
    assert conv.activation_bytes == 49 * 10 + h * w * 64  # int8 in and out
    assert conv.quantization == "per-channel"

    dw = layers[1]
    assert dw.op_type == "DEPTHWISE_CONV_2D"
    assert dw.macs == h * w * 64 * 3 * 3
    assert dw.params == 3 * 3 * 64 + 64

    pw = layers[2]
    assert pw.op_type == "CONV_2D" and pw.macs == h * w * 64 * 64

    fc = next(layer for layer in layers if layer.op_type == "FULLY_CONNECTED")
    assert fc.macs == 64 * 12 and fc.params == 64 * 12 + 12

    pool = next(layer for layer in layers if layer.op_type == "AVERAGE_POOL_2D")
    assert pool.macs == 0 and pool.element_ops == 64 * h * w

    total = h * w * 64 * 40 + 4 * (h * w * 64 * 9 + h * w * 64 * 64) + 64 * 12
    assert analyze(graph).total_macs == total


def test_kws_params_equal_keras_count_minus_folded_batchnorm() -> None:
    # MANIFEST.md: the Keras model has 24,908 parameters; its 9 BatchNormalization layers over 64
    # channels carry 4 values per channel, which the converter folds into the conv weights and bias.
    result = analyze(load("mlcommons_tiny/kws_ref_model.tflite"))
    assert result.total_params == 24908 - 9 * 4 * 64


@pytest.mark.parametrize(
    "relative",
    ["mlcommons_tiny/vww_96_int8.tflite", "mlcommons_tiny/pretrainedResnet_quant.tflite",
     "tflite_micro/person_detect.tflite"],
)
def test_conv_macs_recomputed_from_shapes(relative: str) -> None:
    """For every conv / depthwise / dense layer: check the output size the padding and stride imply,
    then count multiply-accumulates output pixel by output pixel."""
    graph = load(relative)
    result = analyze(graph)
    for op, layer in zip(graph.operators, result.layers, strict=True):
        if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        x = graph.tensors[op.inputs[0]].shape
        f = graph.tensors[op.inputs[1]].shape
        y = graph.tensors[op.outputs[0]].shape
        if op.opcode == "FULLY_CONNECTED":
            batch = math.prod(x) // f[1]
            assert layer.macs == batch * f[0] * f[1]
            continue
        kh, kw = f[1], f[2]
        sh, sw = op.options["stride_h"], op.options["stride_w"]
        if op.options["padding"] == "SAME":
            expect_hw = (same_out(x[1], sh), same_out(x[2], sw))
        else:
            expect_hw = ((x[1] - kh) // sh + 1, (x[2] - kw) // sw + 1)
        assert y[1:3] == expect_hw
        per_pixel = kh * kw * (x[3] if op.opcode == "CONV_2D" else 1)
        macs = sum(per_pixel for _ in range(y[1] * y[2]) for _ in range(y[3]))
        assert layer.macs == macs, (op.index, op.opcode)


def test_resnet_adds_are_element_ops_not_macs() -> None:
    graph = load("mlcommons_tiny/pretrainedResnet_quant.tflite")
    adds = [layer for layer in analyze(graph).layers if layer.op_type == "ADD"]
    assert len(adds) == 3
    for add in adds:
        assert add.macs == 0
        assert add.element_ops == math.prod(add.output_shapes[0]) > 0
        assert add.params == 0 and add.weight_bytes == 0


def test_lstm_macs_from_its_weight_matrices() -> None:
    graph = load("tflite_micro/trained_lstm_int8.tflite")
    op = next(o for o in graph.operators if o.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM")
    x = graph.tensors[op.inputs[0]].shape  # [batch, 28 time steps, 28 features]
    n_cell = graph.tensors[op.inputs[1]].shape[0]
    per_step = 4 * n_cell * x[2] + 4 * n_cell * n_cell  # four gates, input and recurrent weights
    layer = analyze(graph).layers[op.index]
    assert layer.macs == x[0] * x[1] * per_step


def test_quantization_kinds() -> None:
    assert analyze(load("mlcommons_tiny/kws_ref_model.tflite")).quantization == "full-integer"
    assert analyze(load("mlcommons_tiny/vww_96_float.tflite")).quantization == "float"
    lstm = analyze(load("tflite_micro/trained_lstm_int8.tflite"))
    assert lstm.quantization == "full-integer" and lstm.quantization_note is None
    hello = analyze(load("tflite_micro/hello_world_int8.tflite"))
    assert {layer.quantization for layer in hello.layers} == {"per-tensor"}


def test_hybrid_model_is_flagged_with_advice() -> None:
    result = analyze(load("mlcommons_tiny/kws_ref_model_float32.tflite"))
    assert result.quantization == HYBRID == "hybrid (dynamic-range)"
    assert result.is_hybrid
    assert result.input_dtypes == ["float32"]
    note = result.quantization_note
    assert "TensorFlow Lite Micro" in note and "do not support hybrid" in note
    assert "full-integer quantization" in note and "representative dataset" in note
    hybrid = [layer for layer in result.layers if layer.quantization == "hybrid"]
    assert hybrid and all(layer.op_type == "CONV_2D" for layer in hybrid)
    assert f"CONV_2D #{hybrid[0].index}" in note


def test_result_is_json_ready() -> None:
    result = analyze(load("tflite_micro/audio_preprocessor_int8.tflite"))
    data = json.loads(json.dumps(result.to_dict()))
    assert data["total_macs"] == 0
    assert data["layers"][0]["op_type"] == "CUSTOM:SignalWindow"
    assert len(data["layers"]) == len(result.layers)
