"""The engine generator: a standalone folder that compiles with the host compiler and with
arm-none-eabi-gcc for a Cortex-M4 (warnings are errors), byte-identical output on re-runs, the fixed
API, per-layer function symbols, sound arena plans, and one clear error for ops it cannot run."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_model

from edgekit.codegen.engine import SUPPORTED_OPS, build_engine, check_name, generate_engine, unsupported_ops
from edgekit.codegen.engine_host import build_shared_library, write_folder
from edgekit.codegen.engine_plan import check_engine_plan
from edgekit.errors import EdgekitError
from edgekit.ir.planner import plan_memory
from edgekit.ir.tflite_reader import read_tflite
from edgekit.resources import data_dir

KWS = "mlcommons_tiny/kws_ref_model.tflite"
RUNNABLE = [
    KWS,
    "mlcommons_tiny/vww_96_int8.tflite",
    "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "mlcommons_tiny/pretrainedResnet_large_int8.tflite",
    "mlcommons_tiny/str_ww_ref_model.tflite",
    "tflite_micro/person_detect.tflite",
    "tflite_micro/micro_speech_quantized.tflite",
    "tflite_micro/hello_world_int8.tflite",
    "tflite_micro/simple_add_model.tflite",
]
CORTEX_M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
KERNELS = data_dir("firmware") / "kernels"


def test_supported_ops() -> None:
    for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD",
               "MUL", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "PAD",
               "CONCATENATION", "MEAN", "QUANTIZE", "DEQUANTIZE", "HARD_SWISH", "LEAKY_RELU", "TRANSPOSE",
               "STRIDED_SLICE"):
        assert op in SUPPORTED_OPS
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in SUPPORTED_OPS


def test_generation_is_deterministic_and_self_contained() -> None:
    graph = read_tflite(shared_model(KWS))
    first = generate_engine(graph, "kws")
    again = generate_engine(read_tflite(shared_model(KWS)), "kws")
    assert first == again
    assert {"kws.h", "kws.c", "ek_kernels.h"} <= set(first)
    header = first["kws.h"].decode()
    for api in ("int kws_invoke(const int8_t *input, int8_t *output);",
                "int kws_invoke_multi(const int8_t *const *inputs, int8_t *const *outputs);",
                "#define KWS_ARENA_SIZE", "#define KWS_INPUT_SIZE 490", "#define KWS_OUTPUT_SIZE 12",
                "#define KWS_INPUT_ZERO_POINT 83", "#define KWS_OUTPUT_SCALE 0.00390625f"):
        assert api in header
    source = first["kws.c"].decode()
    assert "static int8_t kws_arena[KWS_ARENA_SIZE]" in source
    assert "malloc" not in source and "float" not in source.split("#include")[0]
    # One function per layer, in order, named for the per-layer profiler.
    layers = re.findall(r"^KWS_LAYER int (kws_layer_(\d{3})_[a-z0-9_]+)\(int8_t \*arena\)", source, re.M)
    assert [int(n) for _, n in layers] == list(range(len(graph.operators)))
    assert layers[0][0] == "kws_layer_000_conv_2d"
    assert "__attribute__((noinline, noipa))" in source
    # Only the constants are `const`; no other mutable global besides the arena.
    statics = re.findall(r"^static (?!const|inline)(.*)$", source, re.M)
    assert statics == ["int8_t kws_arena[KWS_ARENA_SIZE] KWS_ALIGNED;"]


def test_single_io_api_and_zero_copy(tmp_path: Path) -> None:
    graph = read_tflite(shared_model(KWS))
    folder = write_folder(generate_engine(graph, "kws"), tmp_path / "src")
    lib = ctypes.CDLL(str(build_shared_library(folder, tmp_path / "libkws.so")))
    lib.kws_input_buffer.restype = ctypes.c_void_p
    lib.kws_output_buffer.restype = ctypes.c_void_p
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=490, dtype=np.int8)
    copied = np.zeros(12, dtype=np.int8)
    assert lib.kws_invoke(x.ctypes.data_as(ctypes.c_void_p), copied.ctypes.data_as(ctypes.c_void_p)) == 0
    # The same input written straight into the arena, the output read from it: no copies.
    ctypes.memmove(lib.kws_input_buffer(0), x.ctypes.data, 490)
    assert lib.kws_invoke(ctypes.c_void_p(lib.kws_input_buffer(0)), None) == 0
    in_place = np.ctypeslib.as_array((ctypes.c_int8 * 12).from_address(lib.kws_output_buffer(0)))
    assert np.array_equal(copied, in_place)
    # A caller-provided arena gives the same result.
    arena = np.zeros(build_engine(graph).arena_bytes + 16, dtype=np.int8)
    base = arena.ctypes.data + (-arena.ctypes.data % 16)
    out = np.zeros(12, dtype=np.int8)
    inputs = (ctypes.c_void_p * 1)(x.ctypes.data)
    outputs = (ctypes.c_void_p * 1)(out.ctypes.data)
    assert lib.kws_invoke_with_arena(ctypes.c_void_p(base), inputs, outputs) == 0
    assert np.array_equal(copied, out)


@pytest.mark.parametrize("model", RUNNABLE)
def test_folder_compiles_for_cortex_m4(model: str, tmp_path: Path) -> None:
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    folder = write_folder(generate_engine(read_tflite(shared_model(model)), "model"), tmp_path)
    sources = sorted(str(p) for p in folder.glob("*.c"))
    proc = subprocess.run([cc, *CORTEX_M4, *WARNINGS, "-O2", "-c", *sources], cwd=folder, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("compiler,flags", [("gcc", ["-pedantic"]), ("arm-none-eabi-gcc", CORTEX_M4)])
def test_every_kernel_compiles_warning_free(compiler: str, flags: list[str], tmp_path: Path) -> None:
    cc = shutil.which(compiler)
    if cc is None:
        pytest.skip(f"{compiler} is not installed")
    for source in sorted((KERNELS / "reference").glob("*.c")):
        proc = subprocess.run([cc, *WARNINGS, *flags, "-O2", "-I", str(KERNELS / "include"), "-c", str(source),
                               "-o", str(tmp_path / "k.o")], capture_output=True, text=True, check=False)
        assert proc.returncode == 0, f"{source.name}: {proc.stderr[-2000:]}"


@pytest.mark.parametrize("model", RUNNABLE)
def test_plan_is_sound_and_never_worse_than_tflm_style(model: str) -> None:
    graph = read_tflite(shared_model(model))
    engine = build_engine(graph)
    assert check_engine_plan(engine.plan) == []
    assert engine.arena_bytes <= plan_memory(graph).arena_bytes
    assert engine.arena_bytes <= engine.plan.no_overlap_bytes


def test_unsupported_op_names_the_op_node_and_the_alternative() -> None:
    graph = read_tflite(shared_model("tflite_micro/trained_lstm_int8.tflite"))
    with pytest.raises(EdgekitError) as info:
        generate_engine(graph)
    assert "edgekit engine has no kernel for UNIDIRECTIONAL_SEQUENCE_LSTM (node 0)" in str(info.value)
    assert "use the TFLM bundle (edgekit export tflm)" in str(info.value)
    assert unsupported_ops(graph) == ["UNIDIRECTIONAL_SEQUENCE_LSTM (node 0)"]


def test_unsupported_types_are_reported_per_node() -> None:
    graph = read_tflite(shared_model("tflite_micro/hello_world_float.tflite"))
    with pytest.raises(EdgekitError, match=r"no kernel for FULLY_CONNECTED \(node 0\) \(input is float32"):
        build_engine(graph)


@pytest.mark.parametrize("name", ["model", "kws_v2", "_x"])
def test_valid_names(name: str) -> None:
    check_name(name)


@pytest.mark.parametrize("name", ["2model", "my-model", "int", "ek_kernels", "", "a b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(EdgekitError):
        check_name(name)


def test_no_mutable_static_data_besides_the_arena() -> None:
    from edgekit.codegen.engine_size import measure_engine_sizes

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed")
    graph = read_tflite(shared_model(KWS))
    engine = build_engine(graph)
    sizes = measure_engine_sizes(generate_engine(graph, "kws"))
    assert sizes.data_bytes == 0
    assert sizes.bss_bytes == engine.arena_bytes
    assert sizes.rodata_bytes >= engine.const_bytes()
    # Without the static arena (the caller passes one), there is no mutable data at all.
    flags = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os", "-DKWS_NO_STATIC_ARENA")
    assert measure_engine_sizes(generate_engine(graph, "kws"), flags=flags).static_ram_bytes == 0


def test_squeeze_and_expand_dims_alias_the_graph_input(tmp_path: Path) -> None:
    """A graph made only of aliases: no kernel code, one buffer, the output equals the input."""
    from edgekit.codegen.engine_host import load_host_engine
    from edgekit.ir.graph import Graph, Operator, Quantization, Tensor

    q = Quantization((0.1,), (3,))
    tensors = [
        Tensor(0, "in", (1, 6, 4), "int8", q),
        Tensor(1, "expanded", (1, 6, 1, 4), "int8", q),
        Tensor(2, "out", (6, 4), "int8", q),
    ]
    ops = [Operator(0, "EXPAND_DIMS", 70, 1, {}, (0,), (1,)), Operator(1, "SQUEEZE", 43, 1, {}, (1,), (2,))]
    graph = Graph(tensors, ops, (0,), (2,))
    engine_model = build_engine(graph)
    assert engine_model.arena_bytes == 32 and engine_model.kernels == []
    engine = load_host_engine(graph, generate_engine(graph), workdir=tmp_path)
    x = np.arange(24, dtype=np.int8).reshape(1, 6, 4)
    assert np.array_equal(engine.invoke(x)[0], x.reshape(6, 4))


def test_a_graph_output_read_by_the_last_op_is_not_overwritten(tmp_path: Path) -> None:
    from edgekit.codegen.engine_host import load_host_engine
    from edgekit.ir.graph import Graph, Operator, Quantization, Tensor

    def graph(two_outputs: bool) -> Graph:
        tensors = [
            Tensor(0, "in", (1, 64), "int8", Quantization((0.1,), (3,))),
            Tensor(1, "relu", (1, 64), "int8", Quantization((0.05,), (-128,))),
            Tensor(2, "relu_again", (1, 64), "int8", Quantization((0.07,), (-128,))),
        ]
        ops = [Operator(0, "RELU", 19, 1, {}, (0,), (1,))]
        if two_outputs:
            ops.append(Operator(1, "RELU", 19, 1, {}, (1,), (2,)))
        return Graph(tensors, ops, (0,), (1, 2) if two_outputs else (1,))

    both, first = graph(True), graph(False)
    plan = build_engine(both).plan
    assert all(plan.buffers[ov.src].tensors != (1,) for ov in plan.overlaps)
    x = np.arange(-64, 64, 2, dtype=np.int8).reshape(1, 64)
    got = load_host_engine(both, generate_engine(both), workdir=tmp_path / "both").invoke(x)[0]
    expected = load_host_engine(first, generate_engine(first), workdir=tmp_path / "first").invoke(x)[0]
    assert np.array_equal(got, expected)
