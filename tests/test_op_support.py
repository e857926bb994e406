"""Op support per engine: the TFLM table, every reference model classified, and ops TFLM lacks."""

from __future__ import annotations

import re

import pytest
from conftest import SHARED_MODELS, shared_model

from edgekit.errors import EdgekitError
from edgekit.ir import Graph, Operator, Tensor, read_tflite
from edgekit.ir.op_support import (
    TFLM_BUILTIN_OPS,
    TFLM_CUSTOM_OPS,
    OpSupport,
    _edgekit_refused_opcodes,
    op_support,
    tflm_method,
    unsupported,
)
from edgekit.ir.tflite_schema import schema_generated as fb

ALL_TFLITE = sorted(str(p.relative_to(SHARED_MODELS)) for p in SHARED_MODELS.glob("*/*.tflite"))


def hand_graph(opcodes: list[str]) -> Graph:
    """A chain of int8 tensors, node i of opcode opcodes[i] reading t_i and writing t_{i+1}."""
    tensors = [Tensor(index=i, name=f"t{i}", shape=(4,), dtype="int8") for i in range(len(opcodes) + 1)]
    ops = []
    for i, opcode in enumerate(opcodes):
        custom = opcode.removeprefix("CUSTOM:") if opcode.startswith("CUSTOM:") else None
        code = fb.BuiltinOperator.CUSTOM if custom else getattr(fb.BuiltinOperator, opcode, 255)
        ops.append(Operator(index=i, opcode=opcode, builtin_code=code, version=1, options={}, inputs=(i,),
                            outputs=(i + 1,), custom_code=custom))
    return Graph(tensors=tensors, operators=ops, inputs=(0,), outputs=(len(opcodes),), path="hand.tflite")


# ---------------------------------------------------------------------------------------------------
# The table itself


def test_builtin_table_names_are_schema_ops() -> None:
    schema_names = {k for k in vars(fb.BuiltinOperator) if not k.startswith("_")}
    assert set(TFLM_BUILTIN_OPS) <= schema_names
    assert len(TFLM_BUILTIN_OPS) == 100  # as counted in micro_mutable_op_resolver.h at 90b983c


def test_methods_are_distinct_resolver_method_names() -> None:
    methods = [*TFLM_BUILTIN_OPS.values(), *TFLM_CUSTOM_OPS.values()]
    assert len(methods) == len(set(methods))
    assert all(re.fullmatch(r"Add[A-Z][A-Za-z0-9]*", m) for m in methods), methods


def test_custom_names_are_looked_up_exactly() -> None:
    assert tflm_method("CUSTOM:SignalWindow") == "AddWindow"
    assert tflm_method("CUSTOM:TFLite_Detection_PostProcess") == "AddDetectionPostprocess"
    assert tflm_method("CUSTOM:CIRCULAR_BUFFER") == "AddCircularBuffer"
    # Custom names are case-sensitive strcmp() matches in TFLM, and a builtin name is not a custom one.
    assert tflm_method("CUSTOM:signalwindow") is None
    assert tflm_method("CUSTOM:CONV_2D") is None
    assert tflm_method("CONV_2D") == "AddConv2D"
    assert tflm_method("SignalWindow") is None


# ---------------------------------------------------------------------------------------------------
# Reference models


@pytest.mark.parametrize("relative", ALL_TFLITE or ["<no models>"])
def test_every_reference_op_is_classified(relative: str) -> None:
    graph = read_tflite(shared_model(relative))
    rows = op_support(graph)
    refused = _edgekit_refused_opcodes(graph)
    counts = graph.op_counts()
    assert [r.opcode for r in rows] == list(counts)  # dict order is first appearance
    for row in rows:
        assert row.count == counts[row.opcode]
        assert graph.operators[row.first_node].opcode == row.opcode
        assert all(op.opcode != row.opcode for op in graph.operators[: row.first_node])
        assert row.tflm_method == tflm_method(row.opcode)
        assert row.tflm is (row.tflm_method is not None)
        assert row.edgekit is (row.opcode not in refused)
    # Found when the table was written: TFLM registers every op of every reference model.
    assert unsupported(graph, "tflm") == []
    assert unsupported(graph, "edgekit") == [r.opcode for r in rows if r.opcode in refused]


def test_reference_models_are_present() -> None:
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"reference models not present ({SHARED_MODELS} is absent)")
    assert len(ALL_TFLITE) >= 20


def test_audio_preprocessor_signal_ops_need_only_the_plain_resolver() -> None:
    graph = read_tflite(shared_model("tflite_micro/audio_preprocessor_int8.tflite"))
    methods = {row.opcode: row.tflm_method for row in op_support(graph)}
    assert methods == {
        "CUSTOM:SignalWindow": "AddWindow",
        "RESHAPE": "AddReshape",
        "CUSTOM:SignalFftAutoScale": "AddFftAutoScale",
        "CUSTOM:SignalRfft": "AddRfft",
        "CUSTOM:SignalEnergy": "AddEnergy",
        "CAST": "AddCast",
        "STRIDED_SLICE": "AddStridedSlice",
        "CONCATENATION": "AddConcatenation",
        "CUSTOM:SignalFilterBank": "AddFilterBank",
        "CUSTOM:SignalFilterBankSquareRoot": "AddFilterBankSquareRoot",
        "CUSTOM:SignalFilterBankSpectralSubtraction": "AddFilterBankSpectralSubtraction",
        "CUSTOM:SignalPCAN": "AddPCAN",
        "CUSTOM:SignalFilterBankLog": "AddFilterBankLog",
        "MUL": "AddMul",
        "ADD": "AddAdd",
        "DIV": "AddDiv",
        "MINIMUM": "AddMinimum",
        "MAXIMUM": "AddMaximum",
    }


@pytest.mark.parametrize(
    ("relative", "opcode", "method"),
    [
        ("tflite_micro/trained_lstm_int8.tflite", "UNIDIRECTIONAL_SEQUENCE_LSTM", "AddUnidirectionalSequenceLSTM"),
        ("tflite_micro/dtln_noise_suppression.tflite", "UNIDIRECTIONAL_SEQUENCE_LSTM", "AddUnidirectionalSequenceLSTM"),
        ("tflite_micro/keyword_scrambled.tflite", "SVDF", "AddSvdf"),
    ],
)
def test_lstm_and_svdf_are_tflm_builtins(relative: str, opcode: str, method: str) -> None:
    rows = {row.opcode: row for row in op_support(read_tflite(shared_model(relative)))}
    assert rows[opcode].tflm and rows[opcode].tflm_method == method


# ---------------------------------------------------------------------------------------------------
# Ops TFLM lacks


def test_ops_tflm_lacks_are_reported_in_first_run_order() -> None:
    # GELU, TILE and the non-sequence LSTM are TFLite builtins with no TFLM kernel; "ethos-u" needs an
    # NPU build; BUILTIN_250 is a code this schema does not know.
    graph = hand_graph(["CONV_2D", "GELU", "CUSTOM:MyOp", "CONV_2D", "TILE", "CUSTOM:ethos-u", "LSTM",
                        "BUILTIN_250", "GELU", "CUSTOM:SignalWindow"])
    assert unsupported(graph, "tflm") == ["GELU", "CUSTOM:MyOp", "TILE", "CUSTOM:ethos-u", "LSTM", "BUILTIN_250"]
    rows = {row.opcode: row for row in op_support(graph)}
    refused = _edgekit_refused_opcodes(graph)
    assert "GELU" in refused  # the engine has no GELU kernel either
    assert rows["GELU"] == OpSupport("GELU", 2, 1, False, None, False)
    assert rows["CONV_2D"].to_dict() == {
        "opcode": "CONV_2D", "count": 2, "first_node": 0, "tflm": True, "tflm_method": "AddConv2D",
        "edgekit": "CONV_2D" not in refused,
    }


def test_empty_graph_has_no_rows() -> None:
    graph = Graph(tensors=[], operators=[], inputs=(), outputs=())
    assert op_support(graph) == [] and unsupported(graph, "tflm") == []


def test_unknown_engine_is_a_user_error() -> None:
    with pytest.raises(EdgekitError, match="unknown engine 'tvm'"):
        unsupported(hand_graph(["ADD"]), "tvm")
