"""Which of a model's ops each engine can run: TFLM (through `MicroMutableOpResolver`) and edgekit.

The TFLM tables below are data read from `tensorflow/lite/micro/micro_mutable_op_resolver.h` of
tflite-micro at commit 90b983c2b3f1480642e040bbd2ddb37b998f3424 (the snapshot the reference models
come from). A builtin op counts as supported when the resolver has an `Add*` method that registers
it; a custom op when an `Add*` method registers it under that exact custom name. That is what a plain
`tflite::MicroMutableOpResolver<N>` offers: TFLM's Makefile compiles the Signal library kernels
(`signal/micro/kernels`) into the same library, so the audio front-end ops need no extra setup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.ir.graph import Graph

ENGINES = ("tflm", "edgekit")
CUSTOM_PREFIX = "CUSTOM:"

# Schema BuiltinOperator name -> the MicroMutableOpResolver method that registers it (100 ops).
TFLM_BUILTIN_OPS: dict[str, str] = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ADD_N": "AddAddN",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "ASSIGN_VARIABLE": "AddAssignVariable",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo",
    "CALL_ONCE": "AddCallOnce",
    "CAST": "AddCast",
    "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "COS": "AddCos",
    "CUMSUM": "AddCumSum",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "DYNAMIC_UPDATE_SLICE": "AddDynamicUpdateSlice",
    "ELU": "AddElu",
    "EMBEDDING_LOOKUP": "AddEmbeddingLookup",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish",
    "IF": "AddIf",
    "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog",
    "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "MAXIMUM": "AddMaximum",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize",
    "READ_VARIABLE": "AddReadVariable",
    "REDUCE_ALL": "AddReduceAll",
    "REDUCE_MAX": "AddReduceMax",
    "REDUCE_MIN": "AddReduceMin",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "REVERSE_V2": "AddReverseV2",
    "ROUND": "AddRound",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SIN": "AddSin",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "SVDF": "AddSvdf",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack",
    "VAR_HANDLE": "AddVarHandle",
    "WHILE": "AddWhile",
    "ZEROS_LIKE": "AddZerosLike",
}

# Custom op name (the model's custom_code) -> the method that registers it under that name. The
# Signal names carry a "Signal" prefix in TFLM (its TODO b/286250473 says they may lose it later).
TFLM_CUSTOM_OPS: dict[str, str] = {
    "CIRCULAR_BUFFER": "AddCircularBuffer",
    "SignalDelay": "AddDelay",
    "SignalEnergy": "AddEnergy",
    "SignalFftAutoScale": "AddFftAutoScale",
    "SignalFilterBank": "AddFilterBank",
    "SignalFilterBankLog": "AddFilterBankLog",
    "SignalFilterBankSpectralSubtraction": "AddFilterBankSpectralSubtraction",
    "SignalFilterBankSquareRoot": "AddFilterBankSquareRoot",
    "SignalFramer": "AddFramer",
    "SignalIrfft": "AddIrfft",
    "SignalOverlapAdd": "AddOverlapAdd",
    "SignalPCAN": "AddPCAN",
    "SignalRfft": "AddRfft",
    "SignalStacker": "AddStacker",
    "SignalWindow": "AddWindow",
    "TFLM_DECODE": "AddDecode",
    "TFLite_Detection_PostProcess": "AddDetectionPostprocess",
}

# AddEthosU registers "ethos-u" only in builds for an Arm Ethos-U NPU; in every other build its
# kernel is a stub that returns no registration and the call silently registers nothing. It is
# therefore not in the table: on a plain Cortex-M build the op has no kernel.
TFLM_ETHOSU_OP = "ethos-u"


# Opcodes ("CONV_2D", "CUSTOM:<name>") the edgekit C engine has kernels for; filled as kernels land.
def _edgekit_engine_ops() -> frozenset[str]:
    from edgekit.codegen.engine import SUPPORTED_OPS

    return frozenset(SUPPORTED_OPS)


def _edgekit_refused_opcodes(graph: Graph) -> set[str]:
    """Opcodes with at least one node the engine cannot run (an op it has, on types it lacks, counts)."""
    from edgekit.codegen.engine import unsupported_nodes

    return {graph.operators[index].opcode for index in unsupported_nodes(graph)}


@dataclass(frozen=True)
class OpSupport:
    """One distinct opcode of a model and whether each engine can run it."""

    opcode: str  # "CONV_2D" or "CUSTOM:<custom_code>", as in the Graph IR
    count: int  # how many nodes use it
    first_node: int  # index (execution order) of the first node that uses it
    tflm: bool
    tflm_method: str | None  # the MicroMutableOpResolver method that registers it
    edgekit: bool

    def supported_by(self, engine: str) -> bool:
        return self.tflm if _check_engine(engine) == "tflm" else self.edgekit

    def to_dict(self) -> dict[str, Any]:
        return {
            "opcode": self.opcode,
            "count": self.count,
            "first_node": self.first_node,
            "tflm": self.tflm,
            "tflm_method": self.tflm_method,
            "edgekit": self.edgekit,
        }


def tflm_method(opcode: str) -> str | None:
    """The `MicroMutableOpResolver` method that registers `opcode`, or None if TFLM has none."""
    if opcode.startswith(CUSTOM_PREFIX):
        return TFLM_CUSTOM_OPS.get(opcode[len(CUSTOM_PREFIX) :])
    return TFLM_BUILTIN_OPS.get(opcode)


def op_support(graph: Graph) -> list[OpSupport]:
    """One row per distinct opcode of `graph`, in the order each first runs."""
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for op in graph.operators:
        first.setdefault(op.opcode, op.index)
        counts[op.opcode] = counts.get(op.opcode, 0) + 1
    refused = _edgekit_refused_opcodes(graph)
    rows = []
    for opcode, node in first.items():
        method = tflm_method(opcode)
        rows.append(
            OpSupport(
                opcode=opcode,
                count=counts[opcode],
                first_node=node,
                tflm=method is not None,
                tflm_method=method,
                edgekit=opcode not in refused,
            )
        )
    return rows


def unsupported(graph: Graph, engine: str) -> list[str]:
    """The opcodes of `graph` that `engine` has no kernel for, in the order each first runs."""
    _check_engine(engine)
    return [row.opcode for row in op_support(graph) if not row.supported_by(engine)]


def _check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise EdgekitError(None, f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    return engine
