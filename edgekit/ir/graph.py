"""The Graph IR: one model's main subgraph as plain dataclasses, read once from the int8 .tflite file.

Every later stage (analysis, memory planning, budget, codegen) works from these objects, so they carry
everything those stages need (shapes, dtypes, quantization, constant data) and nothing format-specific.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class DType:
    """How one TFLite tensor type is stored: `bits` per element, and a numpy dtype when one fits."""

    name: str
    bits: int  # 0: no fixed element size (string, resource, variant)
    numpy: str | None  # little-endian numpy dtype; None: kept as raw bytes (packed or exotic types)


# Keyed by the schema's TensorType value. Written out rather than derived from the generated enum so
# that the element sizes, which the memory planner depends on, are reviewed facts.
DTYPES: dict[int, DType] = {
    0: DType("float32", 32, "<f4"),
    1: DType("float16", 16, "<f2"),
    2: DType("int32", 32, "<i4"),
    3: DType("uint8", 8, "u1"),
    4: DType("int64", 64, "<i8"),
    5: DType("string", 0, None),
    6: DType("bool", 8, "?"),
    7: DType("int16", 16, "<i2"),
    8: DType("complex64", 64, "<c8"),
    9: DType("int8", 8, "i1"),
    10: DType("float64", 64, "<f8"),
    11: DType("complex128", 128, "<c16"),
    12: DType("uint64", 64, "<u8"),
    13: DType("resource", 0, None),
    14: DType("variant", 0, None),
    15: DType("uint32", 32, "<u4"),
    16: DType("uint16", 16, "<u2"),
    17: DType("int4", 4, None),
    18: DType("bfloat16", 16, None),
    19: DType("int2", 2, None),
    20: DType("uint4", 4, None),
    21: DType("float8_e4m3fn", 8, None),
    22: DType("float8_e5m2", 8, None),
}
_BY_NAME = {d.name: d for d in DTYPES.values()}

FLOAT_DTYPES = frozenset({"float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"})


def dtype_info(name: str) -> DType:
    return _BY_NAME[name]


def packed_nbytes(elements: int, bits: int) -> int:
    """Bytes for `elements` values of `bits` each; sub-byte types are packed, as TFLite stores them."""
    return (elements * bits + 7) // 8


@dataclass(frozen=True)
class Quantization:
    """Affine quantization, real = scale * (q - zero_point); more than one scale means per-channel
    along `quantized_dimension`."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    quantized_dimension: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "scales": list(self.scales),
            "zero_points": list(self.zero_points),
            "quantized_dimension": self.quantized_dimension,
        }


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization | None = None
    # Constant contents (read-only view into the model bytes), shaped like `shape` when the dtype has
    # a numpy equivalent, else the raw bytes as uint8. None for activations.
    data: np.ndarray | None = field(default=None, repr=False)
    is_variable: bool = False
    buffer_index: int = 0
    shape_signature: tuple[int, ...] = ()
    sparse: bool = False  # data holds a sparse encoding, not the dense values

    @property
    def is_constant(self) -> bool:
        # A variable may carry initial values, but it is written at run time: it lives in RAM.
        return self.data is not None and not self.is_variable

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the tensor occupies: dense size from shape and dtype, or the stored bytes of a
        constant whose size the shape does not determine (sparse, strings)."""
        bits = dtype_info(self.dtype).bits
        if self.data is not None and (self.sparse or bits == 0):
            return int(self.data.nbytes)
        return packed_nbytes(self.num_elements, bits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "shape": list(self.shape),
            "shape_signature": list(self.shape_signature),
            "dtype": self.dtype,
            "nbytes": self.nbytes,
            "constant": self.is_constant,
            "is_variable": self.is_variable,
            "sparse": self.sparse,
            "buffer_index": self.buffer_index,
            "quantization": self.quantization.to_dict() if self.quantization else None,
        }


@dataclass
class Operator:
    index: int  # position in execution order
    opcode: str  # "CONV_2D", or "CUSTOM:<custom_code>"
    builtin_code: int  # the schema's BuiltinOperator value (32 for custom ops)
    version: int
    options: dict[str, Any]  # builtin options with snake_case keys; decoded flexbuffer map for custom ops
    inputs: tuple[int, ...]  # tensor indices; -1 marks an absent optional input
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...] = ()
    custom_code: str | None = None

    @property
    def is_custom(self) -> bool:
        return self.custom_code is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "opcode": self.opcode,
            "version": self.version,
            "options": self.options,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "intermediates": list(self.intermediates),
        }


@dataclass
class Graph:
    """Subgraph 0 of a TFLite model (the one the interpreters run), plus model-level facts."""

    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    path: str | None = None
    model_size_bytes: int = 0
    version: int = 0  # schema version recorded in the file
    description: str = ""
    subgraph_count: int = 1
    subgraph_name: str = ""
    notes: list[str] = field(default_factory=list)  # things a user should know, e.g. extra subgraphs

    def producers(self) -> dict[int, int]:
        """Tensor index -> index of the operator that writes it."""
        return {t: op.index for op in self.operators for t in op.outputs}

    def consumers(self) -> dict[int, list[int]]:
        """Tensor index -> indices of the operators that read it, in execution order."""
        result: dict[int, list[int]] = {}
        for op in self.operators:
            for t in op.inputs:
                if t >= 0:
                    result.setdefault(t, []).append(op.index)
        return result

    def op_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for op in self.operators:
            counts[op.opcode] = counts.get(op.opcode, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "model_size_bytes": self.model_size_bytes,
            "version": self.version,
            "description": self.description,
            "subgraph_count": self.subgraph_count,
            "subgraph_name": self.subgraph_name,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "notes": list(self.notes),
            "tensors": [t.to_dict() for t in self.tensors],
            "operators": [op.to_dict() for op in self.operators],
        }
