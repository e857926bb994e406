"""Read a .tflite flatbuffer into the Graph IR without TensorFlow.

Access goes through classes that flatc generated from the published TFLite schema
(`edgekit.ir.tflite_schema`), on top of the `flatbuffers` runtime. That runtime has no verifier: it
follows whatever offsets the file contains. So this module (1) checks every count against the file
size before looping or allocating, (2) checks every index before using it, and (3) turns whatever
exception a corrupt offset provokes inside the runtime into one `EdgekitError`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np
from flatbuffers import flexbuffers

from edgekit.errors import EdgekitError
from edgekit.ir.graph import DTYPES, Graph, Operator, Quantization, Tensor, packed_nbytes
from edgekit.ir.tflite_schema import schema_generated as fb

# No microcontroller holds a bigger model, and reading one would mean holding it all in RAM here.
MAX_MODEL_BYTES = 2**31
# Smallest possible flatbuffer with a file identifier: root offset (4) + identifier (4).
MIN_MODEL_BYTES = 8
# TFLite kernels index elements with 32-bit ints; a bigger claim is corrupt or hostile.
MAX_TENSOR_ELEMENTS = 2**31 - 1
MAX_RANK = 16
FILE_IDENTIFIER = b"TFL3"

_CUSTOM = fb.BuiltinOperator.CUSTOM
_OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


_TENSOR_TYPE_NAMES = {code: d.name for code, d in DTYPES.items()}
# Option fields whose integer values are enum members; shown by name so reports and JSON read well.
_ENUM_FIELDS: dict[str, dict[int, str]] = {
    "fused_activation_function": _enum_names(fb.ActivationFunctionType),
    "padding": _enum_names(fb.Padding),
    "kernel_type": _enum_names(fb.LSTMKernelType),
    "combiner": _enum_names(fb.CombinerType),
    "mode": _enum_names(fb.MirrorPadMode),
    "weights_format": _enum_names(fb.FullyConnectedOptionsWeightsFormat),
    **{
        key: _TENSOR_TYPE_NAMES
        for key in (
            "out_type",
            "out_data_type",
            "in_data_type",
            "idx_out_type",
            "output_type",
            "quantized_bias_type",
            "key_dtype",
            "value_dtype",
        )
    },
}


def read_tflite(path: str | Path, *, max_bytes: int = MAX_MODEL_BYTES) -> Graph:
    """Read the .tflite file at `path` into a Graph (subgraph 0); raise EdgekitError if it is not a
    readable, consistent TFLite model."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as e:
        raise EdgekitError(p, f"cannot read model: {e.strerror or e}") from None
    if not p.is_file():
        raise EdgekitError(p, "not a file")
    # Size first, so an absurd file is refused before it is read into memory.
    if st.st_size > max_bytes:
        raise EdgekitError(
            p, f"model file is {st.st_size} bytes; edgekit reads models up to {max_bytes} bytes"
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise EdgekitError(p, f"cannot read model: {e.strerror or e}") from None
    return parse_tflite(data, path=p, max_bytes=max_bytes)


def parse_tflite(data: bytes, *, path: str | Path | None = None, max_bytes: int = MAX_MODEL_BYTES) -> Graph:
    """Parse TFLite flatbuffer bytes; `path` is only used in error messages and `Graph.path`."""
    data = bytes(data)
    if len(data) > max_bytes:
        raise EdgekitError(path, f"model is {len(data)} bytes; edgekit reads models up to {max_bytes} bytes")
    if len(data) < MIN_MODEL_BYTES:
        raise EdgekitError(path, f"not a TFLite model: only {len(data)} bytes")
    ident = data[4:8]
    if ident != FILE_IDENTIFIER:
        raise EdgekitError(
            path, f"not a TFLite model: flatbuffer file identifier is {ident!r}, expected b'TFL3'"
        )
    reader = _Reader(data, path)
    try:
        return reader.read()
    except EdgekitError:
        raise
    except Exception as e:  # any failure inside the unverified runtime means the offsets are bad
        detail = str(e).splitlines()[0][:120] if str(e) else ""
        problem = f"corrupt TFLite file: {type(e).__name__} while reading {reader.where}"
        raise EdgekitError(path, _printable(f"{problem} ({detail})" if detail else problem)) from None


def _snake(name: str) -> str:
    # Object API attribute -> schema field name. flatc capitalises the first letter of each word of
    # the schema name, so every capital starts a word: dilationWFactor -> dilation_w_factor.
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _plain(value: Any) -> Any:
    """Turn generated-object-API values into JSON-friendly Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return _options_dict(value)
    return value


def _options_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for attr, value in vars(obj).items():
        key = _snake(attr)
        names = _ENUM_FIELDS.get(key)
        if names is not None and isinstance(value, int) and not isinstance(value, bool):
            result[key] = names.get(value, value)
        else:
            result[key] = _plain(value)
    return result


class _Reader:
    def __init__(self, data: bytes, path: str | Path | None) -> None:
        self.data = data
        self.path = str(path) if path is not None else None
        self.where = "model header"
        self.notes: list[str] = []
        self.odd_quant_dims: list[int] = []
        self.model: Any = None
        self.n_buffers = 0

    def fail(self, problem: str) -> EdgekitError:
        return EdgekitError(self.path, _printable(problem))

    def count(self, n: int, elem_bytes: int, what: str) -> int:
        """A vector length, checked against the file size before anything loops over it."""
        if n < 0 or n * elem_bytes > len(self.data):
            raise self.fail(f"corrupt TFLite file: {what} claims {n} entries, more than the file can hold")
        return n

    def read(self) -> Graph:
        model = fb.Model.GetRootAs(self.data, 0)
        version = model.Version()
        description = _decode(model.Description())

        self.where = "subgraph list"
        n_subgraphs = self.count(model.SubgraphsLength(), 4, "subgraph list")
        if n_subgraphs == 0:
            raise self.fail("corrupt TFLite file: the model has no subgraphs")
        self.where = "buffer list"
        self.n_buffers = self.count(model.BuffersLength(), 4, "buffer list")
        self.model = model
        opcodes = self.read_opcodes(model)

        self.where = "subgraph 0"
        sg = model.Subgraphs(0)
        n_tensors = self.count(sg.TensorsLength(), 4, "tensor list of subgraph 0")
        tensors = [self.read_tensor(sg.Tensors(i), i) for i in range(n_tensors)]

        self.where = "subgraph 0 inputs/outputs"
        inputs = self.indices(sg, "Inputs", n_tensors, "subgraph input")
        outputs = self.indices(sg, "Outputs", n_tensors, "subgraph output")

        n_ops = self.count(sg.OperatorsLength(), 4, "operator list of subgraph 0")
        operators = [self.read_operator(sg.Operators(i), i, opcodes, n_tensors, n_subgraphs)
                     for i in range(n_ops)]

        self.where = "graph structure"
        _check_dataflow(self, tensors, operators, inputs, outputs)

        if self.odd_quant_dims:
            self.notes.append(
                f"tensors {self.odd_quant_dims} are 1-D with per-channel scales but name an out-of-range "
                "quantized_dimension; read as dimension 0 (TFLM accepts these, TF/LiteRT refuse them)"
            )
        if n_subgraphs > 1:
            self.notes.insert(
                0,
                f"model has {n_subgraphs} subgraphs; subgraph 0 is the main graph and the only one "
                "analysed (the others are called from control-flow ops)",
            )
        return Graph(
            tensors=tensors,
            operators=operators,
            inputs=inputs,
            outputs=outputs,
            path=self.path,
            model_size_bytes=len(self.data),
            version=version,
            description=description,
            subgraph_count=n_subgraphs,
            subgraph_name=_decode(sg.Name()),
            notes=self.notes,
        )

    def read_opcodes(self, model: Any) -> list[tuple[str, int, int, str | None]]:
        self.where = "operator code list"
        n = self.count(model.OperatorCodesLength(), 4, "operator code list")
        result = []
        for i in range(n):
            self.where = f"operator code {i}"
            oc = model.OperatorCodes(i)
            # Files written before the enum outgrew a byte only fill the deprecated field, newer ones
            # fill both (the old one saturated at 127): the larger value is the real code.
            code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
            custom = None
            if code == _CUSTOM:
                custom = _decode(oc.CustomCode())
                name = f"CUSTOM:{custom}"
            else:
                name = _OP_NAMES.get(code, f"BUILTIN_{code}")
            result.append((name, code, int(oc.Version()), custom))
        return result

    def indices(
        self, table: Any, field: str, limit: int, what: str, *, optional: bool = False
    ) -> tuple[int, ...]:
        """A vector of tensor indices (`field` of a generated table), each checked to be in range."""
        n = self.count(getattr(table, f"{field}Length")(), 4, f"{what} list")
        if n == 0:
            return ()
        values = tuple(int(v) for v in getattr(table, f"{field}AsNumpy")())
        for v in values:
            if optional and v == -1:
                continue
            if not 0 <= v < limit:
                raise self.fail(
                    f"corrupt TFLite file: {what} refers to tensor {v}, but the subgraph has {limit} tensors"
                )
        return values

    def read_tensor(self, t: Any, i: int) -> Tensor:
        self.where = f"tensor {i}"
        name = _decode(t.Name())
        rank = self.count(t.ShapeLength(), 4, f"shape of tensor {i}")
        if rank > MAX_RANK:
            raise self.fail(f"corrupt TFLite file: tensor {i} ({_short(name)}) has rank {rank}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if rank else ()
        if any(d < 0 for d in shape):
            raise self.fail(f"tensor {i} ({_short(name)}) has a negative dimension in shape {list(shape)}")
        elements = math.prod(shape)
        if elements > MAX_TENSOR_ELEMENTS:
            raise self.fail(
                f"corrupt TFLite file: tensor {i} ({_short(name)}) claims {elements} elements (shape {list(shape)})"
            )
        sig_len = self.count(t.ShapeSignatureLength(), 4, f"shape signature of tensor {i}")
        signature = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if sig_len else ()

        type_code = int(t.Type())
        dtype = DTYPES.get(type_code)
        if dtype is None:
            raise self.fail(f"tensor {i} ({_short(name)}) has unknown element type code {type_code}")

        quant = self.read_quantization(t.Quantization(), i, name, shape)
        sparse = t.Sparsity() is not None

        if int(t.ExternalBuffer()) != 0:
            raise self.fail(
                f"tensor {i} ({_short(name)}) keeps its data in an external weights file, which edgekit does not read"
            )
        buffer_index = int(t.Buffer())
        if buffer_index >= self.n_buffers:
            raise self.fail(
                f"corrupt TFLite file: tensor {i} ({_short(name)}) uses buffer {buffer_index}, "
                f"but the model has {self.n_buffers} buffers"
            )
        raw = self.buffer_bytes(buffer_index) if self.n_buffers else None
        data = None
        if raw is not None and len(raw) > 0:
            expected = packed_nbytes(elements, dtype.bits)
            if not sparse and dtype.bits and len(raw) != expected:
                raise self.fail(
                    f"corrupt TFLite file: tensor {i} ({_short(name)}) is {dtype.name} {list(shape)} "
                    f"({expected} bytes), but its buffer {buffer_index} holds {len(raw)} bytes"
                )
            if dtype.numpy is not None and not sparse:
                data = np.frombuffer(raw, dtype=dtype.numpy, count=elements).reshape(shape)
            else:
                data = np.frombuffer(raw, dtype=np.uint8)
        return Tensor(
            index=i,
            name=name,
            shape=shape,
            dtype=dtype.name,
            quantization=quant,
            data=data,
            is_variable=bool(t.IsVariable()),
            buffer_index=buffer_index,
            shape_signature=signature,
            sparse=sparse,
        )

    def read_quantization(self, q: Any, i: int, name: str, shape: tuple[int, ...]) -> Quantization | None:
        if q is None:
            return None
        n_scales = self.count(q.ScaleLength(), 4, f"quantization scales of tensor {i}")
        n_zp = self.count(q.ZeroPointLength(), 8, f"quantization zero points of tensor {i}")
        if n_scales == 0:
            # Only min/max (or a details union we do not interpret): not an affine quantization.
            if q.DetailsType() != fb.QuantizationDetails.NONE:
                self.notes.append(f"tensor {i} ({_short(name)}) uses a quantization scheme edgekit does not read")
            return None
        scales = tuple(float(s) for s in q.ScaleAsNumpy())
        if not all(math.isfinite(s) for s in scales):
            raise self.fail(f"corrupt TFLite file: tensor {i} ({_short(name)}) has a NaN or infinite scale")
        zero_points = tuple(int(z) for z in q.ZeroPointAsNumpy()) if n_zp else (0,) * n_scales
        if len(zero_points) != n_scales:
            raise self.fail(
                f"corrupt TFLite file: tensor {i} ({_short(name)}) has {n_scales} scales but {n_zp} zero points"
            )
        dim = int(q.QuantizedDimension())
        # With a single scale the dimension is unused, so only per-channel parameters are checked.
        if n_scales > 1 and not (0 <= dim < len(shape) and shape[dim] == n_scales):
            if len(shape) == 1 and shape[0] == n_scales:
                # person_detect's biases say dimension 3 on 1-D tensors: TF and LiteRT refuse the file,
                # TFLM runs it. Only one reading is possible, so take it and say so.
                self.odd_quant_dims.append(i)
                return Quantization(scales=scales, zero_points=zero_points, quantized_dimension=0)
            raise self.fail(
                f"tensor {i} ({_short(name)}) has {n_scales} per-channel scales along dimension {dim}, "
                f"which does not match its shape {list(shape)}"
            )
        return Quantization(scales=scales, zero_points=zero_points, quantized_dimension=dim)

    def buffer_bytes(self, index: int) -> memoryview | None:
        buf = self.model.Buffers(index)
        if buf is None:
            return None
        offset, size = int(buf.Offset()), int(buf.Size())
        # The schema's layout for models over 2 GB: data lives after the flatbuffer, addressed by
        # file offset, and offsets 0 and 1 mean "not used".
        if offset > 1:
            if offset + size > len(self.data):
                raise self.fail(
                    f"corrupt TFLite file: buffer {index} points at bytes {offset}..{offset + size} "
                    f"past the end of the {len(self.data)}-byte file"
                )
            return memoryview(self.data)[offset : offset + size]
        n = self.count(buf.DataLength(), 1, f"data of buffer {index}")
        if n == 0:
            return None
        # A zero-copy view; numpy refuses (ValueError) a vector that runs past the end of the file.
        return memoryview(buf.DataAsNumpy())

    def read_operator(
        self,
        op: Any,
        i: int,
        opcodes: list[tuple[str, int, int, str | None]],
        n_tensors: int,
        n_subgraphs: int,
    ) -> Operator:
        self.where = f"operator {i}"
        opcode_index = int(op.OpcodeIndex())
        if opcode_index >= len(opcodes):
            raise self.fail(
                f"corrupt TFLite file: operator {i} uses operator code {opcode_index}, "
                f"but the model has {len(opcodes)}"
            )
        name, code, version, custom = opcodes[opcode_index]
        what = f"operator {i} ({_short(name)})"
        inputs = self.indices(op, "Inputs", n_tensors, f"{what} input", optional=True)
        outputs = self.indices(op, "Outputs", n_tensors, f"{what} output")
        intermediates = self.indices(op, "Intermediates", n_tensors, f"{what} intermediate")

        self.where = f"options of {what}"
        options: dict[str, Any] = {}
        for union_type, table, creator in (
            (op.BuiltinOptionsType(), op.BuiltinOptions(), fb.BuiltinOptionsCreator),
            (op.BuiltinOptions2Type(), op.BuiltinOptions2(), fb.BuiltinOptions2Creator),
        ):
            if union_type and table is not None:
                obj = creator(union_type, table)
                if obj is not None:
                    options.update(_options_dict(obj))
        if custom is not None:
            options.update(self.custom_options(op, i, what))
        for key, value in options.items():
            # Control-flow ops name other subgraphs by index; a wrong one would crash an interpreter.
            if key.endswith("subgraph_index") and isinstance(value, int) and not 0 <= value < n_subgraphs:
                raise self.fail(
                    f"corrupt TFLite file: {what} refers to subgraph {value}, but the model has {n_subgraphs}"
                )
        return Operator(
            index=i,
            opcode=name,
            builtin_code=code,
            version=version,
            options=options,
            inputs=inputs,
            outputs=outputs,
            intermediates=intermediates,
            custom_code=custom,
        )

    def custom_options(self, op: Any, i: int, what: str) -> dict[str, Any]:
        offset, size = int(op.LargeCustomOptionsOffset()), int(op.LargeCustomOptionsSize())
        if offset > 1:
            if offset + size > len(self.data):
                raise self.fail(
                    f"corrupt TFLite file: custom options of {what} point past the end of the file"
                )
            raw = self.data[offset : offset + size]
        else:
            n = self.count(op.CustomOptionsLength(), 1, f"custom options of {what}")
            if n == 0:
                return {}
            raw = op.CustomOptionsAsNumpy().tobytes()
        if op.CustomOptionsFormat() != fb.CustomOptionsFormat.FLEXBUFFERS:
            return {}
        # The op's own kernel is what parses these; a map we cannot decode is reported, not fatal,
        # since TFLM would still load the model.
        try:
            decoded = flexbuffers.Loads(raw)
        except Exception:
            self.notes.append(f"custom options of {what} are not a readable flexbuffer")
            return {}
        if isinstance(decoded, dict):
            return {str(k): _plain(v) for k, v in decoded.items()}
        return {"value": _plain(decoded)}


def _short(name: str, limit: int = 60) -> str:
    # Converter-made names can run to hundreds of characters; an error line needs only a hint.
    return name if len(name) <= limit else name[: limit - 3] + "..."


def _printable(text: str) -> str:
    # Names come from the file: keep control characters out of the one-line error message.
    return "".join(c if c.isprintable() else "?" for c in text)


def _decode(raw: bytes | None) -> str:
    return raw.decode("utf-8", errors="replace") if raw else ""


def _check_dataflow(
    reader: _Reader,
    tensors: list[Tensor],
    operators: list[Operator],
    inputs: tuple[int, ...],
    outputs: tuple[int, ...],
) -> None:
    """Operators must come in a valid execution order: each tensor written once, and every tensor an
    operator reads is a graph input, a constant, a variable, or written by an earlier operator."""
    producer: dict[int, int] = {}
    for op in operators:
        for t in op.outputs:
            if t in producer:
                raise reader.fail(
                    f"corrupt TFLite file: tensor {t} ({_short(tensors[t].name)}) is written by operators "
                    f"{producer[t]} and {op.index}"
                )
            producer[t] = op.index
    graph_inputs = set(inputs)
    for op in operators:
        for t in op.inputs:
            if t < 0:
                continue
            tensor = tensors[t]
            if t in graph_inputs or tensor.is_constant or tensor.is_variable:
                continue
            p = producer.get(t)
            if p is None:
                if tensor.nbytes == 0:
                    continue  # an empty placeholder (e.g. an omitted LSTM state) carries no data
                raise reader.fail(
                    f"invalid graph: operator {op.index} ({op.opcode}) reads tensor {t} ({_short(tensor.name)}), "
                    "which is not a graph input or a constant and no operator writes"
                )
            if p >= op.index:
                raise reader.fail(
                    f"invalid graph: operator {op.index} ({op.opcode}) reads tensor {t} ({_short(tensor.name)}) "
                    f"written by operator {p}, which runs later: the graph has a cycle or is out of order"
                )
    for t in outputs:
        tensor = tensors[t]
        if t not in producer and t not in graph_inputs and not tensor.is_constant and not tensor.is_variable:
            raise reader.fail(
                f"invalid graph: graph output tensor {t} ({_short(tensor.name)}) is never written"
            )
