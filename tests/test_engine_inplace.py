"""In-place execution is safe at the tightest overlap the planner computes.

For random single-op graphs (built directly in the IR, no converter), each kernel runs through ctypes
three ways: output in its own buffer; output overlapping the input, starting exactly the computed
forward distance below it; and, for reversible kernels, reversed with the output exactly the
computed reverse distance above it. All three must give the same bytes. This is what makes the
engine's smaller arenas trustworthy: an off-by-one in a read pattern shows up here as corruption.

The Arm DSP kernels (firmware/kernels/arm_dsp, compiled here with the portable versions of their
intrinsics) run the same three ways at the reference kernels' distances, and must equal the
reference bytes: their blocking must not break the planner's overlaps, nor the results.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

from edgekit.codegen.engine_host import build_shared_library, compiler
from edgekit.codegen.engine_ops import LOWERINGS, Lowered, adapt_for_family
from edgekit.codegen.engine_plan import displacement
from edgekit.ir.graph import Graph, Operator, Quantization, Tensor, dtype_info
from edgekit.resources import data_dir

KERNELS = data_dir("firmware") / "kernels"


@pytest.fixture(scope="module")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    try:
        compiler()
    except RuntimeError:
        pytest.skip("no C compiler")
    folder = tmp_path_factory.mktemp("kernels")
    for source in (KERNELS / "reference").glob("*.c"):
        (folder / source.name).write_bytes(source.read_bytes())
    (folder / "ek_kernels.h").write_bytes((KERNELS / "include" / "ek_kernels.h").read_bytes())
    return ctypes.CDLL(str(build_shared_library(folder)))


@pytest.fixture(scope="module")
def dsp_kernels(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """The reference kernels with the arm_dsp files in place of theirs (same names, same symbols)."""
    try:
        compiler()
    except RuntimeError:
        pytest.skip("no C compiler")
    folder = tmp_path_factory.mktemp("dsp_kernels")
    for family in ("reference", "arm_dsp"):
        for source in (KERNELS / family).glob("*.c"):
            (folder / source.name).write_bytes(source.read_bytes())
    for header in ("ek_kernels.h", "ek_dsp.h", "ek_config.h"):
        (folder / header).write_bytes((KERNELS / "include" / header).read_bytes())
    return ctypes.CDLL(str(build_shared_library(folder)))


class _Builder:
    def __init__(self) -> None:
        self.tensors: list[Tensor] = []

    def add(self, shape: tuple[int, ...], dtype: str = "int8", scale: float | list[float] = 0.05, zp: int = 0,
            data: np.ndarray | None = None, qdim: int = 0) -> int:
        scales = tuple(scale) if isinstance(scale, list) else (scale,)
        q = Quantization(scales, (zp,) * len(scales) if dtype == "int8" and len(scales) == 1 else (0,) * len(scales),
                         qdim)
        index = len(self.tensors)
        self.tensors.append(Tensor(index, f"t{index}", shape, dtype, q, data))
        return index

    def graph(self, opcode: str, inputs: list[int], output: int, options: dict) -> Graph:
        op = Operator(0, opcode, 0, 1, options, tuple(inputs), (output,))
        return Graph(self.tensors, [op], (inputs[0],), (output,))


def _flat_params(fields: list[tuple[str, object]]) -> np.ndarray:
    values: list[int] = []
    for _, v in fields:
        if isinstance(v, list) and v and isinstance(v[0], tuple):
            values.extend(_flat_params(v).tolist())  # nested struct of int32 fields
        elif isinstance(v, list):
            values.extend(int(x) for x in v)
        else:
            values.append(int(v))  # type: ignore[call-overload]
    return np.array(values, dtype=np.int32)


def _run(lib: ctypes.CDLL, graph: Graph, low: Lowered, reverse: int, in_off: int, out_off: int,
         x: np.ndarray, family: str = "reference") -> np.ndarray:
    """Run the op's kernel with input at in_off and output at out_off of one shared buffer."""
    op = low.op
    out_t = graph.tensors[op.outputs[0]]
    fields = [(k, reverse if k == "reverse" else v) for k, v in low.params]
    fields = [(k, [(kk, reverse if kk == "reverse" else vv) for kk, vv in v])
              if isinstance(v, list) and v and isinstance(v[0], tuple) else (k, v) for k, v in fields]
    params = _flat_params(fields)
    size = max(in_off + x.nbytes, out_off + out_t.nbytes) + 64
    buf = np.zeros(size, dtype=np.uint8)
    buf[in_off:in_off + x.nbytes] = x.view(np.uint8).reshape(-1)
    keep = [params, buf]
    pointers = {}
    for t in op.inputs:
        tensor = graph.tensors[t]
        if t == op.inputs[0]:
            pointers[t] = ctypes.c_void_p(buf.ctypes.data + in_off)
        elif t >= 0 and tensor.data is not None:
            arr = np.ascontiguousarray(tensor.data)
            keep.append(arr)
            pointers[t] = ctypes.c_void_p(arr.ctypes.data)
    pointers[op.outputs[0]] = ctypes.c_void_p(buf.ctypes.data + out_off)
    arrays = {}
    for suffix, ctype, values in low.arrays:
        arr = np.array(values, dtype=np.int32 if ctype == "int32_t" else np.int8)
        keep.append(arr)
        arrays[suffix] = ctypes.c_void_p(arr.ctypes.data)
    scratch_bytes = low.scratch_bytes
    # Filled with a pattern: a kernel must not depend on what the arena held before.
    scratch = np.full(max(scratch_bytes, 16) // 2, 0x5A5A, dtype=np.int16)
    keep.append(scratch)
    fn_name = low.call.split("(")[0]
    args: list[object] = [ctypes.c_void_p(params.ctypes.data)]
    for token in low.call[len(fn_name) + 1:].rstrip(");").split(", ")[1:]:
        token = token.split(")")[-1].strip("{}")  # "(const int8_t *){a_x}": a cast, then the array
        if token == "NULL":
            args.append(None)
        elif token == "scratch":
            args.append(ctypes.c_void_p(scratch.ctypes.data) if scratch_bytes else None)
        elif token.startswith("a_"):
            args.append(arrays[token[2:]])
        else:
            args.append(pointers[int(token[1:])])
    getattr(lib, fn_name)(*args)
    return buf[out_off:out_off + out_t.nbytes].copy()


def _check(lib: ctypes.CDLL, graph: Graph, seed: int, family: str = "reference",
           reference: ctypes.CDLL | None = None) -> None:
    op = graph.operators[0]
    low = adapt_for_family(graph, LOWERINGS[op.opcode](graph, op), family)
    spec_low = LOWERINGS[op.opcode](graph, op)
    tin, tout = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=tin.shape, dtype=np.int8)
    fwd, rev = displacement(low.reads[0], dtype_info(tin.dtype).bits // 8, dtype_info(tout.dtype).bits // 8,
                            tin.nbytes, tout.nbytes, alignment=1)
    margin = tin.nbytes + tout.nbytes + 64
    expected = _run(lib, graph, low, 0, 0, tin.nbytes + 64, x, family)
    if reference is not None:
        spec = _run(reference, graph, spec_low, 0, 0, tin.nbytes + 64, x)
        assert np.array_equal(spec, expected), f"{op.opcode}: {family} differs from the reference kernel"
    in_off = margin
    got = _run(lib, graph, low, 0, in_off, in_off - fwd, x, family)
    assert np.array_equal(expected, got), f"{op.opcode} forward, output {fwd} bytes below the input"
    if rev is not None:
        got = _run(lib, graph, low, 1, in_off, in_off + rev, x, family)
        assert np.array_equal(expected, got), f"{op.opcode} reversed, output {rev} bytes above the input"


def _conv_graph(rng: np.random.Generator, depthwise: bool, wide: bool = False) -> Graph:
    """`wide`: channel counts that also reach the DSP kernels' 4-channel paths and their tails."""
    b = _Builder()
    h, w = (int(v) for v in rng.integers(2, 10, size=2))
    c = int(rng.choice([1, 3, 4, 5, 8, 12, 16, 19])) if wide else int(rng.integers(1, 6))
    dm_choices = [1, 2, 4, 8] if wide else [1, 2]  # 4 and 8: the DSP kernel's shared-input path
    dm = int(rng.choice(dm_choices)) if depthwise else 1
    oc = c * dm if depthwise else (int(rng.choice([1, 2, 3, 7, 8, 16])) if wide else int(rng.integers(1, 6)))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    sh, sw = (int(v) for v in rng.integers(1, 3, size=2))
    dh, dw = (int(v) for v in rng.integers(1, 3, size=2))
    padding = str(rng.choice(["SAME", "VALID"]))
    if padding == "VALID":
        kh, kw = min(kh, (h - 1) // dh + 1), min(kw, (w - 1) // dw + 1)
    out_h = (h + sh - 1) // sh if padding == "SAME" else (h + sh - ((kh - 1) * dh + 1)) // sh
    out_w = (w + sw - 1) // sw if padding == "SAME" else (w + sw - ((kw - 1) * dw + 1)) // sw
    x = b.add((1, h, w, c), zp=int(rng.integers(-20, 20)))
    fshape = (1, kh, kw, oc) if depthwise else (oc, kh, kw, c)
    f = b.add(fshape, scale=[0.01 * (i + 1) for i in range(oc)], qdim=3 if depthwise else 0,
              data=rng.integers(-127, 128, size=fshape, dtype=np.int8))
    bias = b.add((oc,), dtype="int32", scale=[0.0005] * oc, data=rng.integers(-500, 500, size=oc).astype(np.int32))
    y = b.add((1, out_h, out_w, oc), scale=0.08, zp=int(rng.integers(-20, 20)))
    options = {"padding": padding, "stride_h": sh, "stride_w": sw, "dilation_h_factor": dh,
               "dilation_w_factor": dw, "fused_activation_function": "NONE"}
    if depthwise:
        options["depth_multiplier"] = dm
    return b.graph("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", [x, f, bias], y, options)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("depthwise", [False, True])
def test_convolutions_in_place(kernels: ctypes.CDLL, depthwise: bool, seed: int) -> None:
    _check(kernels, _conv_graph(np.random.default_rng(seed), depthwise), seed)


@pytest.mark.parametrize("seed", range(6))
def test_dsp_grouped_convolution_in_place_equal_reference(kernels: ctypes.CDLL, dsp_kernels: ctypes.CDLL,
                                                          seed: int) -> None:
    """CONV_2D with filter_in_c < in_c (groups): the DSP kernel's one-pixel-at-a-time path."""
    rng = np.random.default_rng(400 + seed)
    b = _Builder()
    groups = int(rng.choice([2, 3]))
    fc = int(rng.choice([1, 3, 4, 8]))
    per_group = int(rng.choice([1, 2, 3]))
    c, oc = groups * fc, groups * per_group
    h, w = (int(v) for v in rng.integers(3, 8, size=2))
    x = b.add((1, h, w, c), zp=int(rng.integers(-20, 20)))
    f = b.add((oc, 3, 3, fc), scale=[0.01 * (i + 1) for i in range(oc)],
              data=rng.integers(-127, 128, size=(oc, 3, 3, fc), dtype=np.int8))
    bias = b.add((oc,), dtype="int32", scale=[0.0005] * oc, data=rng.integers(-500, 500, size=oc).astype(np.int32))
    y = b.add((1, h, w, oc), scale=0.08, zp=int(rng.integers(-20, 20)))
    options = {"padding": "SAME", "stride_h": 1, "stride_w": 1, "dilation_h_factor": 1, "dilation_w_factor": 1,
               "fused_activation_function": "RELU"}
    _check(dsp_kernels, b.graph("CONV_2D", [x, f, bias], y, options), seed, "arm_dsp", kernels)


@pytest.mark.parametrize("seed", range(24))
@pytest.mark.parametrize("depthwise", [False, True])
def test_dsp_convolutions_in_place_equal_reference(kernels: ctypes.CDLL, dsp_kernels: ctypes.CDLL,
                                                   depthwise: bool, seed: int) -> None:
    graph = _conv_graph(np.random.default_rng(100 + seed), depthwise, wide=True)
    _check(dsp_kernels, graph, seed, "arm_dsp", kernels)


def _fc_graph(rng: np.random.Generator, per_channel: bool = False) -> Graph:
    b = _Builder()
    batches, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 30)), int(rng.integers(1, 30))
    x = b.add((batches, depth), zp=int(rng.integers(-20, 20)))
    scale: float | list[float] = [0.01 * (i + 1) for i in range(units)] if per_channel else 0.02
    f = b.add((units, depth), scale=scale, data=rng.integers(-127, 128, size=(units, depth), dtype=np.int8))
    y = b.add((batches, units), scale=0.1, zp=int(rng.integers(-20, 20)))
    return b.graph("FULLY_CONNECTED", [x, f, -1], y, {"fused_activation_function": "NONE"})


@pytest.mark.parametrize("seed", range(8))
def test_dsp_fully_connected_in_place_equal_reference(kernels: ctypes.CDLL, dsp_kernels: ctypes.CDLL,
                                                      seed: int) -> None:
    graph = _fc_graph(np.random.default_rng(200 + seed), per_channel=seed % 2 == 1)
    _check(dsp_kernels, graph, seed, "arm_dsp", kernels)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("opcode", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_pooling_in_place(kernels: ctypes.CDLL, opcode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = _Builder()
    h, w, c = int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 5))
    kh, kw = int(rng.integers(1, min(h, 3) + 1)), int(rng.integers(1, min(w, 3) + 1))
    s = int(rng.integers(1, 3))
    padding = str(rng.choice(["SAME", "VALID"]))
    out_h = (h + s - 1) // s if padding == "SAME" else (h + s - kh) // s
    out_w = (w + s - 1) // s if padding == "SAME" else (w + s - kw) // s
    x = b.add((1, h, w, c))
    y = b.add((1, out_h, out_w, c))
    graph = b.graph(opcode, [x], y, {"padding": padding, "stride_h": s, "stride_w": s, "filter_height": kh,
                                     "filter_width": kw, "fused_activation_function": "NONE"})
    _check(kernels, graph, seed)


@pytest.mark.parametrize("seed", range(4))
def test_fully_connected_in_place(kernels: ctypes.CDLL, seed: int) -> None:
    rng = np.random.default_rng(seed)
    b = _Builder()
    batches, depth, units = int(rng.integers(1, 4)), int(rng.integers(1, 30)), int(rng.integers(1, 30))
    x = b.add((batches, depth))
    f = b.add((units, depth), scale=0.02, data=rng.integers(-127, 128, size=(units, depth), dtype=np.int8))
    y = b.add((batches, units), scale=0.1)
    _check(kernels, b.graph("FULLY_CONNECTED", [x, f, -1], y, {"fused_activation_function": "NONE"}), seed)


@pytest.mark.parametrize("opcode", ["RELU", "LOGISTIC", "TANH", "LEAKY_RELU", "HARD_SWISH", "QUANTIZE"])
def test_elementwise_in_place(kernels: ctypes.CDLL, opcode: str) -> None:
    b = _Builder()
    x = b.add((1, 7, 5, 3), scale=0.05, zp=3)
    y = b.add((1, 7, 5, 3), scale=1 / 256 if opcode == "LOGISTIC" else 0.04, zp=-128 if opcode == "LOGISTIC" else 0)
    _check(kernels, b.graph(opcode, [x], y, {"alpha": 0.2}), 1)


def test_add_with_broadcast_in_place(kernels: ctypes.CDLL) -> None:
    b = _Builder()
    x = b.add((1, 4, 5, 6), scale=0.05, zp=1)
    z = b.add((1, 1, 5, 1), scale=0.07, zp=-2, data=np.arange(5, dtype=np.int8).reshape(1, 1, 5, 1) * 9)
    y = b.add((1, 4, 5, 6), scale=0.1, zp=4)
    _check(kernels, b.graph("ADD", [x, z], y, {"fused_activation_function": "NONE"}), 2)


@pytest.mark.parametrize("seed", range(4))
def test_dsp_add_in_place_equal_reference(kernels: ctypes.CDLL, dsp_kernels: ctypes.CDLL, seed: int) -> None:
    rng = np.random.default_rng(300 + seed)
    b = _Builder()
    x = b.add((1, 4, 5, 6), scale=float(rng.uniform(0.01, 0.2)), zp=int(rng.integers(-30, 30)))
    other = (1, 1, 5, 1) if seed % 2 else (1, 4, 5, 6)
    z = b.add(other, scale=float(rng.uniform(0.01, 0.2)), zp=int(rng.integers(-30, 30)),
              data=rng.integers(-128, 128, size=other, dtype=np.int8))
    y = b.add((1, 4, 5, 6), scale=float(rng.uniform(0.02, 0.3)), zp=int(rng.integers(-30, 30)))
    activation = "RELU" if seed >= 2 else "NONE"
    _check(dsp_kernels, b.graph("ADD", [x, z], y, {"fused_activation_function": activation}), seed, "arm_dsp", kernels)


def test_data_movement_in_place(kernels: ctypes.CDLL) -> None:
    b = _Builder()
    x = b.add((1, 4, 5, 3))
    paddings = b.add((4, 2), dtype="int32", data=np.array([[0, 0], [1, 2], [2, 0], [0, 1]], dtype=np.int32))
    y = b.add((1, 7, 7, 4))
    _check(kernels, b.graph("PAD", [x, paddings], y, {}), 3)

    b = _Builder()
    x = b.add((2, 3, 4))
    perm = b.add((3,), dtype="int32", data=np.array([2, 0, 1], dtype=np.int32))
    y = b.add((4, 2, 3))
    _check(kernels, b.graph("TRANSPOSE", [x, perm], y, {}), 4)

    b = _Builder()
    x = b.add((1, 6, 5, 4), scale=0.05, zp=2)
    axes = b.add((2,), dtype="int32", data=np.array([1, 2], dtype=np.int32))
    y = b.add((1, 1, 1, 4), scale=0.03, zp=-1)
    _check(kernels, b.graph("MEAN", [x, axes], y, {"keep_dims": True}), 5)


def test_kernel_library_path_is_the_package_one() -> None:
    assert (KERNELS / "include" / "ek_kernels.h").is_file()
    assert Path(KERNELS).name == "kernels"
