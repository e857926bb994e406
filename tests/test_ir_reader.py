"""The .tflite reader: every reference model, facts checked against independent sources, and
malformed files (built with the generated schema classes, then broken) always give EdgekitError."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import flatbuffers
import numpy as np
import pytest

from edgekit.errors import EdgekitError
from edgekit.ir import Graph, parse_tflite, read_tflite
from edgekit.ir.tflite_schema import schema_generated as fb

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
ALL_TFLITE = [
    "mlcommons_tiny/kws_ref_model.tflite",
    "mlcommons_tiny/kws_ref_model_float32.tflite",
    "mlcommons_tiny/pretrainedResnet.tflite",
    "mlcommons_tiny/pretrainedResnet_large_float.tflite",
    "mlcommons_tiny/pretrainedResnet_large_int8.tflite",
    "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "mlcommons_tiny/str_ww_ref_model.tflite",
    "mlcommons_tiny/vww_96_float.tflite",
    "mlcommons_tiny/vww_96_int8.tflite",
    "tflite_micro/audio_preprocessor_float.tflite",
    "tflite_micro/audio_preprocessor_int8.tflite",
    "tflite_micro/dtln_noise_suppression.tflite",
    "tflite_micro/hello_world_float.tflite",
    "tflite_micro/hello_world_int8.tflite",
    "tflite_micro/keyword_scrambled.tflite",
    "tflite_micro/micro_speech_quantized.tflite",
    "tflite_micro/person_detect.tflite",
    "tflite_micro/simple_add_model.tflite",
    "tflite_micro/trained_lstm.tflite",
    "tflite_micro/trained_lstm_int8.tflite",
]


def model_path(relative: str) -> Path:
    if not MODELS.is_dir():
        pytest.skip(f"reference models not present ({MODELS} is absent)")
    path = MODELS / relative
    if not path.exists():
        pytest.skip(f"reference model {relative} is not in {MODELS}")
    return path


def manifest_op_counts() -> dict[str, dict[str, int]]:
    """The per-model operator list MANIFEST.md states (written when the models were collected)."""
    text = (MODELS / "MANIFEST.md").read_text(encoding="utf-8")
    result = {}
    for name, ops in re.findall(r"^- `([^`]+\.tflite)`: (.+)$", text, flags=re.MULTILINE):
        result[name] = {op: int(n) for op, n in re.findall(r"([A-Z0-9_:]+[A-Za-z0-9]*)×(\d+)", ops)}
    return result


# ---------------------------------------------------------------------------------------------------
# Reference models


@pytest.mark.parametrize("relative", ALL_TFLITE)
def test_reads_every_reference_model(relative: str) -> None:
    path = model_path(relative)
    graph = read_tflite(path)
    assert isinstance(graph, Graph)
    assert graph.model_size_bytes == path.stat().st_size
    assert graph.path == str(path)
    assert graph.subgraph_count >= 1
    assert graph.operators and graph.inputs and graph.outputs
    assert [op.index for op in graph.operators] == list(range(len(graph.operators)))
    for op in graph.operators:
        assert all(-1 <= t < len(graph.tensors) for t in op.inputs)
        assert all(0 <= t < len(graph.tensors) for t in op.outputs)
    for t in graph.tensors:
        if t.is_constant and not t.sparse and t.data.dtype != np.uint8:
            assert t.data.shape == t.shape
    expected = manifest_op_counts().get(relative)
    if expected is not None:
        assert graph.op_counts() == expected
    json.dumps(graph.to_dict())  # plain data all the way down


def test_kws_facts() -> None:
    graph = read_tflite(model_path("mlcommons_tiny/kws_ref_model.tflite"))
    inp = graph.tensors[graph.inputs[0]]
    assert inp.shape == (1, 49, 10, 1) and inp.dtype == "int8"
    # MANIFEST.md: kws_ref_model expects MFCC features with scale 0.5847, zero point 83.
    assert inp.quantization.scales[0] == pytest.approx(0.5847, abs=1e-4)
    assert inp.quantization.zero_points == (83,)
    out = graph.tensors[graph.outputs[0]]
    assert out.shape == (1, 12) and out.dtype == "int8"

    conv = graph.operators[0]
    assert conv.opcode == "CONV_2D" and conv.custom_code is None
    assert conv.options["padding"] == "SAME"
    assert (conv.options["stride_h"], conv.options["stride_w"]) == (2, 2)
    assert (conv.options["dilation_h_factor"], conv.options["dilation_w_factor"]) == (1, 1)
    assert conv.options["fused_activation_function"] == "RELU"
    weights = graph.tensors[conv.inputs[1]]
    bias = graph.tensors[conv.inputs[2]]
    assert weights.shape == (64, 10, 4, 1) and weights.dtype == "int8"
    assert weights.data.dtype == np.int8 and weights.data.shape == weights.shape
    assert not weights.data.flags.writeable  # a view into the model bytes, not a copy
    assert weights.quantization.per_channel and len(weights.quantization.scales) == 64
    assert weights.quantization.quantized_dimension == 0
    assert bias.dtype == "int32" and bias.shape == (64,) and bias.nbytes == 256
    assert graph.operators[1].options["depth_multiplier"] == 1


def test_matches_litert_tensor_details() -> None:
    """LiteRT is an independent reader of the same files: names, shapes, dtypes, quantization agree."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    for relative in ("mlcommons_tiny/kws_ref_model.tflite", "tflite_micro/trained_lstm_int8.tflite"):
        path = model_path(relative)
        graph = read_tflite(path)
        details = litert.Interpreter(model_path=str(path)).get_tensor_details()
        assert len(details) == len(graph.tensors)
        for d in details:
            t = graph.tensors[d["index"]]
            assert t.name == d["name"]
            assert t.shape == tuple(int(x) for x in d["shape"])
            assert t.dtype == np.dtype(d["dtype"]).name
            q = d["quantization_parameters"]
            if len(q["scales"]):
                assert np.allclose(t.quantization.scales, q["scales"])
                assert t.quantization.zero_points == tuple(int(z) for z in q["zero_points"])
            else:
                assert t.quantization is None


def test_person_detect_is_read_although_tf_rejects_it() -> None:
    graph = read_tflite(model_path("tflite_micro/person_detect.tflite"))
    bias = graph.tensors[33]
    assert bias.shape == (8,) and bias.quantization.per_channel
    assert bias.quantization.quantized_dimension == 0  # the file says 3, which a 1-D tensor lacks
    assert any("quantized_dimension" in note for note in graph.notes)


def test_custom_ops_are_reported_by_name_with_options() -> None:
    graph = read_tflite(model_path("tflite_micro/audio_preprocessor_int8.tflite"))
    customs = [op for op in graph.operators if op.is_custom]
    assert customs[0].opcode == "CUSTOM:SignalWindow" and customs[0].custom_code == "SignalWindow"
    names = {op.opcode for op in customs}
    assert names >= {"CUSTOM:SignalRfft", "CUSTOM:SignalFilterBank", "CUSTOM:SignalPCAN"}
    rfft = next(op for op in customs if op.opcode == "CUSTOM:SignalRfft")
    assert rfft.options["fft_length"] == 512  # decoded from the op's flexbuffer options


def test_lstm_optional_inputs_and_variables() -> None:
    graph = read_tflite(model_path("tflite_micro/dtln_noise_suppression.tflite"))
    lstm = graph.operators[0]
    assert lstm.opcode == "UNIDIRECTIONAL_SEQUENCE_LSTM"
    assert len(lstm.inputs) == 24 and -1 in lstm.inputs  # absent peepholes, projection, norms
    assert lstm.options["time_major"] is False and lstm.options["fused_activation_function"] == "TANH"
    states = [graph.tensors[t] for t in lstm.inputs[18:20]]
    assert all(s.is_variable and not s.is_constant for s in states)
    assert len(lstm.intermediates) == 5


def test_reader_does_not_import_heavy_runtimes() -> None:
    model = model_path("mlcommons_tiny/kws_ref_model.tflite")
    code = textwrap.dedent(f"""
        import sys
        from edgekit.ir import read_tflite
        from edgekit.ir.analysis import analyze
        from edgekit.ir.planner import plan_memory
        import edgekit.ir.tflm_arena
        graph = read_tflite({str(model)!r})
        analyze(graph); plan_memory(graph)
        heavy = ("tensorflow", "ai_edge_litert", "onnxruntime", "tflite_micro", "tflite_runtime", "keras")
        print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ---------------------------------------------------------------------------------------------------
# Synthetic models: a valid one built with the generated object API, then broken in one place.


def _tensor(shape: list[int], buffer: int, name: str, ttype: int = fb.TensorType.FLOAT32) -> fb.TensorT:
    t = fb.TensorT()
    t.shape, t.buffer, t.name, t.type = shape, buffer, name, ttype
    return t


def _op(opcode_index: int, inputs: list[int], outputs: list[int]) -> fb.OperatorT:
    op = fb.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode_index, inputs, outputs
    return op


def _model() -> fb.ModelT:
    """x[1,4] -> FULLY_CONNECTED(w[3,4], b[3]) -> y[1,3] -> RELU -> z[1,3]."""
    m = fb.ModelT()
    m.version = 3
    m.description = "synthetic"
    fc, relu = fb.OperatorCodeT(), fb.OperatorCodeT()
    fc.builtinCode = fc.deprecatedBuiltinCode = fb.BuiltinOperator.FULLY_CONNECTED
    relu.builtinCode = relu.deprecatedBuiltinCode = fb.BuiltinOperator.RELU
    m.operatorCodes = [fc, relu]
    w, b = fb.BufferT(), fb.BufferT()
    w.data = list(np.arange(12, dtype="<f4").tobytes())
    b.data = list(np.ones(3, dtype="<f4").tobytes())
    m.buffers = [fb.BufferT(), w, b]
    sg = fb.SubGraphT()
    sg.tensors = [
        _tensor([1, 4], 0, "x"),
        _tensor([3, 4], 1, "w"),
        _tensor([3], 2, "b"),
        _tensor([1, 3], 0, "y"),
        _tensor([1, 3], 0, "z"),
    ]
    fc_op = _op(0, [0, 1, 2], [3])
    fc_op.builtinOptionsType = fb.BuiltinOptions.FullyConnectedOptions
    fc_op.builtinOptions = fb.FullyConnectedOptionsT()
    fc_op.builtinOptions.fusedActivationFunction = fb.ActivationFunctionType.RELU6
    sg.operators = [fc_op, _op(1, [3], [4])]
    sg.inputs, sg.outputs = [0], [4]
    m.subgraphs = [sg]
    return m


def _pack(m: fb.ModelT) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _raises(data: bytes, *fragments: str) -> EdgekitError:
    with pytest.raises(EdgekitError) as info:
        parse_tflite(data, path="bad.tflite")
    message = info.value.message()
    assert message.startswith("edgekit: bad.tflite: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return info.value


def test_synthetic_model_round_trip() -> None:
    graph = parse_tflite(_pack(_model()))
    assert graph.description == "synthetic" and graph.version == 3
    assert [op.opcode for op in graph.operators] == ["FULLY_CONNECTED", "RELU"]
    assert graph.operators[0].options["fused_activation_function"] == "RELU6"
    assert graph.tensors[1].data.tolist() == np.arange(12, dtype=np.float32).reshape(3, 4).tolist()
    assert graph.inputs == (0,) and graph.outputs == (4,)


def test_not_a_tflite_file() -> None:
    _raises(b"", "not a TFLite model")
    _raises(b"TFL3", "not a TFLite model")
    _raises(b"\x08\x00\x00\x00ONNXsomething else entirely", "expected b'TFL3'")


@pytest.mark.parametrize("cut", [9, 16, 40, 100, 200, 0.5, 0.9, -1])
def test_truncated_file(cut: float) -> None:
    data = _pack(_model())
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(data) + cut)
    with pytest.raises(EdgekitError):
        parse_tflite(data[:n])


def test_random_corruption_never_escapes_as_another_exception() -> None:
    """Flip bytes of a real model and of the synthetic one: the result is a Graph or EdgekitError."""
    originals = [_pack(_model())]
    if (MODELS / "tflite_micro/hello_world_int8.tflite").exists():
        originals.append((MODELS / "tflite_micro/hello_world_int8.tflite").read_bytes())
    rng = random.Random(1234)
    outcomes = {"graph": 0, "error": 0}
    for original in originals:
        for _ in range(400):
            data = bytearray(original)
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(8, len(data))  # keep the identifier: exercise the deep paths
                data[pos] = rng.randrange(256)
            try:
                parse_tflite(bytes(data))
                outcomes["graph"] += 1
            except EdgekitError:
                outcomes["error"] += 1
    assert outcomes["error"] > 0 and outcomes["graph"] > 0


def test_huge_claimed_shape_is_refused_without_allocating() -> None:
    m = _model()
    m.subgraphs[0].tensors[3].shape = [1 << 20, 1 << 20]  # 2^40 elements
    _raises(_pack(m), "claims 1099511627776 elements")


def test_huge_claimed_constant_does_not_match_its_buffer() -> None:
    m = _model()
    m.subgraphs[0].tensors[1].shape = [3, 1 << 20]
    _raises(_pack(m), "tensor 1 (w)", "holds 48 bytes")


def test_negative_dimension() -> None:
    m = _model()
    m.subgraphs[0].tensors[0].shape = [1, -4]
    _raises(_pack(m), "negative dimension")


def test_buffer_index_out_of_range() -> None:
    m = _model()
    m.subgraphs[0].tensors[1].buffer = 7
    _raises(_pack(m), "uses buffer 7", "3 buffers")


def test_opcode_index_out_of_range() -> None:
    m = _model()
    m.subgraphs[0].operators[1].opcodeIndex = 5
    _raises(_pack(m), "operator code 5")


@pytest.mark.parametrize("bad", [5, 99, -2])
def test_operator_input_points_at_missing_tensor(bad: int) -> None:
    m = _model()
    m.subgraphs[0].operators[1].inputs = [bad]
    _raises(_pack(m), f"refers to tensor {bad}")


def test_graph_output_out_of_range() -> None:
    m = _model()
    m.subgraphs[0].outputs = [12]
    _raises(_pack(m), "subgraph output refers to tensor 12")


def test_no_subgraphs() -> None:
    m = _model()
    m.subgraphs = []
    _raises(_pack(m), "no subgraphs")


def test_cyclic_graph_is_refused() -> None:
    m = _model()
    sg = m.subgraphs[0]
    sg.operators = [sg.operators[1], sg.operators[0]]  # RELU now reads y before FULLY_CONNECTED writes it
    _raises(_pack(m), "runs later")


def test_self_loop_is_refused() -> None:
    m = _model()
    m.subgraphs[0].operators[1].inputs = [4]
    _raises(_pack(m), "runs later")


def test_tensor_read_but_never_written() -> None:
    m = _model()
    m.subgraphs[0].inputs = []
    _raises(_pack(m), "no operator writes")


def test_tensor_written_twice() -> None:
    m = _model()
    m.subgraphs[0].operators[1].outputs = [3]
    _raises(_pack(m), "written by operators")


def test_per_channel_scales_must_match_the_shape() -> None:
    m = _model()
    q = fb.QuantizationParametersT()
    q.scale, q.zeroPoint, q.quantizedDimension = [0.1, 0.2], [0, 0], 0
    m.subgraphs[0].tensors[1].quantization = q  # 2 scales for 3 output channels
    _raises(_pack(m), "2 per-channel scales")


def test_unknown_tensor_type() -> None:
    m = _model()
    m.subgraphs[0].tensors[0].type = 99
    _raises(_pack(m), "unknown element type code 99")


def test_extra_subgraphs_are_noted() -> None:
    m = _model()
    m.subgraphs.append(fb.SubGraphT())
    graph = parse_tflite(_pack(m))
    assert graph.subgraph_count == 2
    assert any("2 subgraphs" in note for note in graph.notes)


def test_large_model_layout_buffers_are_read_from_the_file() -> None:
    """Models over 2 GB keep buffer data after the flatbuffer, addressed by (offset, size)."""
    m = _model()
    payload = np.arange(12, dtype="<f4").tobytes()
    w = m.buffers[1]
    w.data, w.offset, w.size = None, 2, len(payload)  # placeholder: same encoded size as the final one
    first = _pack(m)
    w.offset = (len(first) + 15) // 16 * 16
    data = _pack(m)
    assert len(data) == len(first)
    data = data + b"\0" * (w.offset - len(data)) + payload
    graph = parse_tflite(data)
    assert graph.tensors[1].data.tolist() == np.arange(12, dtype=np.float32).reshape(3, 4).tolist()

    _raises(data[: w.offset + 8], "past the end")


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(EdgekitError, match="cannot read model"):
        read_tflite(tmp_path / "missing.tflite")
    with pytest.raises(EdgekitError, match="not a file"):
        read_tflite(tmp_path)
    big = tmp_path / "big.tflite"
    big.write_bytes(_pack(_model()))
    with pytest.raises(EdgekitError, match="edgekit reads models up to 100 bytes"):
        read_tflite(big, max_bytes=100)
    assert read_tflite(big).model_size_bytes == big.stat().st_size


def test_external_weight_files_are_refused() -> None:
    m = _model()
    m.subgraphs[0].tensors[1].externalBuffer = 1
    _raises(_pack(m), "external weights file")
