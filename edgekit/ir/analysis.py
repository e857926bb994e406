"""Per-layer analysis of a Graph: shapes, parameters, MACs, bytes, and how each layer is quantized.

MAC counts follow the convention of the MLPerf Tiny papers (one multiply-accumulate per weight use;
bias adds, activations and requantization are not counted), so totals compare with published figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from edgekit.ir.graph import FLOAT_DTYPES, Graph, Operator, Tensor

HYBRID = "hybrid (dynamic-range)"
HYBRID_EXPLANATION = (
    "hybrid (dynamic-range) quantized model: activations are float but weights are int8, so the "
    "kernels quantize inputs on the fly. Microcontroller runtimes (TensorFlow Lite Micro) do not "
    "support hybrid models; convert with full-integer quantization (a representative dataset, "
    "int8 inputs and outputs) instead."
)

# Ops whose cost is one operation per output element; their MACs are 0 by convention.
_ELEMENTWISE = frozenset({
    "ADD", "SUB", "MUL", "DIV", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "POW", "FLOOR_DIV",
    "FLOOR_MOD", "ADD_N", "RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "LEAKY_RELU", "PRELU",
    "LOGISTIC", "TANH", "HARD_SWISH", "GELU", "ELU", "SOFTMAX", "LOG_SOFTMAX", "EXP", "LOG", "SQRT",
    "RSQRT", "ABS", "NEG", "SQUARE", "SIN", "COS", "QUANTIZE", "DEQUANTIZE", "CAST",
})
_POOLS = frozenset({"AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"})
_REDUCTIONS = frozenset({"MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN", "REDUCE_PROD"})
# Inputs of UNIDIRECTIONAL_SEQUENCE_LSTM that are matrices applied once per time step and batch row:
# input-to-gate weights 1-4, recurrent weights 5-8, peepholes 9-11, projection 16.
_LSTM_WEIGHT_INPUTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16)


@dataclass
class LayerAnalysis:
    index: int
    op_type: str
    input_shapes: list[tuple[int, ...]]  # non-constant inputs (activations, variables)
    weight_shapes: list[tuple[int, ...]]  # constant inputs
    output_shapes: list[tuple[int, ...]]
    params: int  # elements of constant weights and biases
    macs: int
    element_ops: int  # elementwise / pooling / reduction operations, which are not MACs
    weight_bytes: int  # bytes of all constant inputs (flash)
    activation_bytes: int  # bytes of non-constant inputs + outputs (RAM touched by this layer)
    quantization: str  # "float", "per-tensor", "per-channel", "hybrid" or "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "op_type": self.op_type,
            "input_shapes": [list(s) for s in self.input_shapes],
            "weight_shapes": [list(s) for s in self.weight_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
            "params": self.params,
            "macs": self.macs,
            "element_ops": self.element_ops,
            "weight_bytes": self.weight_bytes,
            "activation_bytes": self.activation_bytes,
            "quantization": self.quantization,
        }


@dataclass
class ModelAnalysis:
    path: str | None
    layers: list[LayerAnalysis]
    total_params: int  # each constant tensor counted once even if several layers read it
    total_macs: int
    total_element_ops: int
    total_weight_bytes: int  # each constant tensor counted once
    max_layer_activation_bytes: int
    quantization: str  # "float", "full-integer", "hybrid (dynamic-range)", "mixed" or "none"
    quantization_note: str | None = None
    input_dtypes: list[str] = field(default_factory=list)
    output_dtypes: list[str] = field(default_factory=list)
    op_counts: dict[str, int] = field(default_factory=dict)

    @property
    def is_hybrid(self) -> bool:
        return self.quantization == HYBRID

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "total_params": self.total_params,
            "total_macs": self.total_macs,
            "total_element_ops": self.total_element_ops,
            "total_weight_bytes": self.total_weight_bytes,
            "max_layer_activation_bytes": self.max_layer_activation_bytes,
            "quantization": self.quantization,
            "quantization_note": self.quantization_note,
            "input_dtypes": list(self.input_dtypes),
            "output_dtypes": list(self.output_dtypes),
            "op_counts": dict(self.op_counts),
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _is_quantized_int(t: Tensor) -> bool:
    return t.quantization is not None and t.dtype not in FLOAT_DTYPES


def _is_parameter(t: Tensor) -> bool:
    # Weights and biases are float or carry quantization; plain int32 constants (shapes, axes,
    # paddings) are operands, not learned parameters.
    return t.is_constant and (t.dtype in FLOAT_DTYPES or t.quantization is not None)


def _dim(shape: tuple[int, ...], i: int) -> int:
    return shape[i] if -len(shape) <= i < len(shape) else 1


def _input(graph: Graph, op: Operator, i: int) -> Tensor | None:
    if i < len(op.inputs) and op.inputs[i] >= 0:
        return graph.tensors[op.inputs[i]]
    return None


def _macs(graph: Graph, op: Operator) -> int:
    out = graph.tensors[op.outputs[0]] if op.outputs else None
    out_elems = out.num_elements if out is not None else 0
    kind = op.opcode
    if kind == "CONV_2D":
        w = _input(graph, op, 1)  # [out_c, k_h, k_w, in_c / groups]
        return out_elems * _dim(w.shape, 1) * _dim(w.shape, 2) * _dim(w.shape, 3) if w else 0
    if kind == "DEPTHWISE_CONV_2D":
        w = _input(graph, op, 1)  # [1, k_h, k_w, out_c]
        return out_elems * _dim(w.shape, 1) * _dim(w.shape, 2) if w else 0
    if kind == "CONV_3D":
        w = _input(graph, op, 1)  # [k_d, k_h, k_w, in_c, out_c]
        return out_elems * math.prod(w.shape[:4]) if w and len(w.shape) == 5 else 0
    if kind == "FULLY_CONNECTED":
        w = _input(graph, op, 1)  # [out_features, in_features]; out_elems = batch * out_features
        return out_elems * _dim(w.shape, -1) if w else 0
    if kind == "TRANSPOSE_CONV":
        w, x = _input(graph, op, 1), _input(graph, op, 2)  # w: [out_c, k_h, k_w, in_c]
        return x.num_elements * _dim(w.shape, 0) * _dim(w.shape, 1) * _dim(w.shape, 2) if w and x else 0
    if kind == "BATCH_MATMUL":
        lhs = _input(graph, op, 0)
        if lhs is None:
            return 0
        k = _dim(lhs.shape, -2) if op.options.get("adj_x") else _dim(lhs.shape, -1)
        return out_elems * k
    if kind in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM"):
        x = _input(graph, op, 0)
        if x is None or not x.shape or x.shape[-1] == 0:
            return 0
        rows = x.num_elements // x.shape[-1]  # time steps x batch
        per_row = sum(t.num_elements for i in _LSTM_WEIGHT_INPUTS if (t := _input(graph, op, i)) is not None)
        return rows * per_row
    if kind == "SVDF":
        x, wf, wt = _input(graph, op, 0), _input(graph, op, 1), _input(graph, op, 2)
        if x is None or wf is None or wt is None:
            return 0
        return _dim(x.shape, 0) * (wf.num_elements + wt.num_elements)
    return 0


def _element_ops(graph: Graph, op: Operator) -> int:
    out = graph.tensors[op.outputs[0]] if op.outputs else None
    if out is None:
        return 0
    if op.opcode in _ELEMENTWISE:
        return out.num_elements
    if op.opcode in _POOLS:
        window = int(op.options.get("filter_height", 1)) * int(op.options.get("filter_width", 1))
        return out.num_elements * window
    if op.opcode in _REDUCTIONS:
        x = _input(graph, op, 0)
        return x.num_elements if x else 0
    return 0


def _layer_quantization(op: Operator, data: list[Tensor], weights: list[Tensor]) -> str:
    act_float = any(t.dtype in FLOAT_DTYPES for t in data)
    act_quant = any(_is_quantized_int(t) for t in data)
    w_quant = [t for t in weights if _is_quantized_int(t)]
    w_float = any(t.dtype in FLOAT_DTYPES for t in weights)
    if op.opcode == "DEQUANTIZE":
        # Dequantizing a constant is how TFLite stores compressed float weights: a float layer.
        return "float" if act_float else "per-tensor"
    if act_float and w_quant and not act_quant:
        return "hybrid"
    if act_quant or w_quant:
        return "per-channel" if any(t.quantization.per_channel for t in w_quant) else "per-tensor"
    if act_float or w_float:
        return "float"
    return "none"


def analyze_layer(graph: Graph, op: Operator) -> LayerAnalysis:
    inputs = [graph.tensors[i] for i in op.inputs if i >= 0]
    outputs = [graph.tensors[i] for i in op.outputs]
    weights = [t for t in inputs if t.is_constant]
    data = [t for t in inputs if not t.is_constant]
    return LayerAnalysis(
        index=op.index,
        op_type=op.opcode,
        input_shapes=[t.shape for t in data],
        weight_shapes=[t.shape for t in weights],
        output_shapes=[t.shape for t in outputs],
        params=sum(t.num_elements for t in weights if _is_parameter(t)),
        macs=_macs(graph, op),
        element_ops=_element_ops(graph, op),
        weight_bytes=sum(t.nbytes for t in weights),
        activation_bytes=sum(t.nbytes for t in data) + sum(t.nbytes for t in outputs),
        quantization=_layer_quantization(op, data + outputs, weights),
    )


def analyze(graph: Graph) -> ModelAnalysis:
    """Analyse every operator of `graph` and sum the totals."""
    layers = [analyze_layer(graph, op) for op in graph.operators]
    constants: dict[int, Tensor] = {}
    for op in graph.operators:
        for i in op.inputs:
            if i >= 0 and graph.tensors[i].is_constant:
                constants[i] = graph.tensors[i]

    kinds = {layer.quantization for layer in layers} - {"none"}
    note = None
    if "hybrid" in kinds:
        hybrid_layers = [f"{la.op_type} #{la.index}" for la in layers if la.quantization == "hybrid"]
        kind = HYBRID
        note = f"{HYBRID_EXPLANATION} Hybrid layers: {', '.join(hybrid_layers)}."
    elif not kinds:
        kind = "none"
    elif kinds == {"float"}:
        kind = "float"
    elif "float" not in kinds:
        kind = "full-integer"
    else:
        kind = "mixed"
        note = "some layers run in float and others on quantized integers"

    return ModelAnalysis(
        path=graph.path,
        layers=layers,
        total_params=sum(t.num_elements for t in constants.values() if _is_parameter(t)),
        total_macs=sum(layer.macs for layer in layers),
        total_element_ops=sum(layer.element_ops for layer in layers),
        total_weight_bytes=sum(t.nbytes for t in constants.values()),
        max_layer_activation_bytes=max((layer.activation_bytes for layer in layers), default=0),
        quantization=kind,
        quantization_note=note,
        input_dtypes=[graph.tensors[i].dtype for i in graph.inputs],
        output_dtypes=[graph.tensors[i].dtype for i in graph.outputs],
        op_counts=graph.op_counts(),
    )
