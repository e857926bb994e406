"""The Helium (MVE) kernel family (firmware/kernels/helium): picked for the Cortex-M55, bit-exact with the
reference kernels and the tflite-micro interpreter, and faster.

The proof runs where the code runs: the kernels need MVE, so there is no host build of them. The MLPerf
Tiny models are generated with the Helium kernels, built with arm-none-eabi-gcc for the Cortex-M55
(corstone-300: -mcpu=cortex-m55 -mfloat-abi=hard) and run in QEMU's mps3-an547; their outputs must
equal the host build of the reference kernels and the tflite-micro interpreter on the same inputs, and
the instructions counted by the TCG plugin must be fewer than the reference kernels' on the same core.
Randomized single-op graphs (built in the IR: padding, strides, dilation, channel tails, depth
multipliers, grouped convolutions, weights with a zero point, broadcasting) run the same way against the
host reference build, with whatever in-place overlap the planner gives them.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_model
from test_engine_inplace import _Builder, _conv_graph

from edgekit.codegen.engine import build_engine, generate_engine, kernel_family, target_kernel_family
from edgekit.codegen.engine_pack_helium import even_odd_order, folded_bias, pack_conv_filter_helium
from edgekit.codegen.engine_plan import check_engine_plan
from edgekit.ir.graph import Graph
from edgekit.ir.tflite_reader import read_tflite
from edgekit.resources import data_dir
from edgekit.targets import get_target

KERNELS = data_dir("firmware") / "kernels"
KWS = "mlcommons_tiny/kws_ref_model.tflite"
RESNET = "mlcommons_tiny/pretrainedResnet_quant.tflite"
VWW = "mlcommons_tiny/vww_96_int8.tflite"
PERSON = "tflite_micro/person_detect.tflite"
BOARD = "corstone-300"

needs_emulation = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm is not installed (scripts/setup.sh installs them)",
)


def test_family_for_the_m55() -> None:
    assert kernel_family("cortex-m55") == "helium"
    assert kernel_family("cortex-m55", mve=False) == "reference"
    assert kernel_family("cortex-m55", dsp=False) == "reference"  # +nodsp drops Helium too (targets.py)
    assert target_kernel_family(get_target("corstone-300")) == "helium"
    assert target_kernel_family(get_target("alif-e7")) == "helium"
    assert kernel_family("cortex-m4") == "arm_dsp"


def test_generated_folder_takes_helium_files_and_falls_back_op_by_op() -> None:
    graph = read_tflite(shared_model(RESNET))
    files = generate_engine(graph, "resnet", "helium")
    assert "ek_helium.h" in files and "ek_dsp.h" not in files
    for kernel in ("conv_2d.c", "fully_connected.c", "add.c", "average_pool_2d.c"):  # no depthwise in ResNet-8
        assert files[f"ek_{kernel}"] == (KERNELS / "helium" / kernel).read_bytes()
    for kernel in ("softmax.c",):
        assert files[f"ek_{kernel}"] == (KERNELS / "reference" / kernel).read_bytes()
    assert generate_engine(graph, "resnet", "helium") == files  # byte-identical outputs for the same inputs


def test_scratch_and_folded_bias_in_the_plan() -> None:
    graph = read_tflite(shared_model(KWS))
    model = build_engine(graph, family="helium")
    assert check_engine_plan(model.plan) == []
    for low in model.lowered:
        params = dict(low.params)
        if low.kernel == "conv_2d.c":
            kp = -(-params["filter_h"] * params["filter_w"] * params["filter_in_c"] // 16) * 16
            assert low.scratch_bytes == kp * max(1, min(2048 // kp, params["out_w"]))
        if low.kernel in ("conv_2d.c", "depthwise_conv_2d.c", "fully_connected.c"):
            assert "{a_bias_h}" in low.call and "NULL, {a_mult}" not in low.call


def test_host_packing() -> None:
    rng = np.random.default_rng(0)
    filt = rng.integers(-127, 128, size=(11, 3, 3, 5), dtype=np.int8)  # k = 45 -> kp = 48, 2 groups of 8
    packed = pack_conv_filter_helium(filt)
    assert packed.shape == (16 * 48,)
    rows = filt.reshape(11, -1)
    # Group 0, step 0: channel 0's first 16 weights, then channel 2's (even/odd order); channel 1's fifth.
    assert packed[:16].tolist() == rows[0, :16].tolist() and packed[16:32].tolist() == rows[2, :16].tolist()
    assert packed[64:80].tolist() == rows[1, :16].tolist()
    # Group 1 holds channels 8, 10 and 9 then zero rows: 8 at slot 0, 10 at slot 1, 9 at slot 4.
    group1 = packed[8 * 48:].reshape(3, 8, 16)
    assert group1[0, 1].tolist() == rows[10, :16].tolist() and group1[0, 4].tolist() == rows[9, :16].tolist()
    assert not group1[:, [2, 3, 5, 6, 7]].any()
    # Channel 0's last step holds weights 32..44, then zeros.
    step2 = packed[2 * 128: 2 * 128 + 16]
    assert step2[:13].tolist() == rows[0, 32:].tolist() and not step2[13:].any()
    assert sorted(packed[packed != 0].tolist()) == sorted(rows[rows != 0].tolist())
    assert even_odd_order(np.arange(10)).tolist() == [0, 2, 4, 6, 1, 3, 5, 7, 8, 0, 0, 0, 9, 0, 0, 0]
    bias = np.array([5, -7], dtype=np.int32)
    weights = np.array([[1, 2, 3], [-4, 0, 1]])
    assert folded_bias(bias, weights, 10).tolist() == [5 + 60, -7 - 30]
    # Sums wrap to int32 as the kernels' do.
    assert folded_bias(np.array([2**31 - 1]), np.array([[1]]), 1).tolist() == [-(2**31)]


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
def test_helium_kernels_compile_warning_free_with_mve(tmp_path: Path) -> None:
    flags = get_target(BOARD).gcc_flags()
    assert "-mcpu=cortex-m55" in flags and "-mfloat-abi=hard" in flags
    for source in sorted((KERNELS / "helium").glob("*.c")):
        obj = tmp_path / f"{source.stem}.o"
        cmd = ["arm-none-eabi-gcc", *flags, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
               f"-I{KERNELS / 'include'}", "-c", str(source), "-o", str(obj)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", "-m", "armv8.1-m.main", str(obj)],
                             capture_output=True, text=True, check=True).stdout
        want = {"conv_2d": "vmlava.s8", "fully_connected": "vmlava.s8", "depthwise_conv_2d": "vmullb.s16",
                "add": "vqrdmulh.s32", "average_pool_2d": "vldrbt.s16"}[source.stem]
        assert want in dis, source.name
    # Without MVE the header refuses to compile rather than build something else.
    proc = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-std=c99", f"-I{KERNELS / 'include'}",
                           "-c", str(KERNELS / "helium" / "add.c"), "-o", str(tmp_path / "m4.o")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "need integer MVE" in proc.stderr


def _emulate(model: Path, family: str, tmp_path: Path, inputs: np.ndarray):
    from edgekit.on_board import run_on_board

    graph = read_tflite(model)
    return run_on_board(model.read_bytes(), graph, get_target(BOARD), tmp_path / family, inputs=inputs, family=family)


@needs_emulation
@pytest.mark.parametrize("relative", [KWS, RESNET, VWW, PERSON])
def test_helium_on_m55_equals_reference_and_tflm_with_fewer_instructions(tmp_path: Path, relative: str) -> None:
    from edgekit.on_board import random_inputs

    model = shared_model(relative)
    inputs = random_inputs(read_tflite(model), 2)
    hel = _emulate(model, "helium", tmp_path, inputs)
    assert hel.result.qemu_machine == "mps3-an547" and hel.result.counting == "plugin"
    assert hel.equal_to_host, hel.first_difference()  # the host build runs the reference kernels
    assert hel.equal_to_tflm is True, hel.first_difference()
    ref = _emulate(model, "reference", tmp_path, inputs)
    assert np.array_equal(ref.result.outputs, hel.result.outputs)
    assert hel.result.instructions < ref.result.instructions
    assert hel.result.estimated_cycles < ref.result.estimated_cycles
    by_op: dict[str, list[int]] = {}
    for a, b in zip(ref.result.layers, hel.result.layers, strict=True):
        by_op.setdefault(a.op, [0, 0])
        by_op[a.op][0] += a.instructions
        by_op[a.op][1] += b.instructions
    for op in ("conv_2d", "depthwise_conv_2d", "fully_connected", "add"):
        if op in by_op:
            assert by_op[op][1] < by_op[op][0], (op, by_op[op])
    # The classifier sees the Helium instructions (objdump -m armv8.1-m.main).
    classes = {c for layer in hel.result.layers for c, n in layer.classes.items() if n}
    assert {"mve_load", "mve_mac", "mve_alu"} <= classes


def _random_graphs() -> list[tuple[str, Graph]]:
    graphs = []
    for seed in range(4):
        graphs.append((f"conv{seed}", _conv_graph(np.random.default_rng(500 + seed), False, wide=True)))
        graphs.append((f"dw{seed}", _conv_graph(np.random.default_rng(600 + seed), True, wide=True)))
    rng = np.random.default_rng(7)
    # Rows read in place (in_c % 16 == 0), a channel tail, padding on every side.
    # No activation (the full int8 range) with right shifts only takes the kernels' assembly
    # requantization: pointwise with a partial last step, a gathered 3x3 patch.
    for name, (h, w, c, oc, k, stride, pad, act) in {
        "conv3x3_c32": (6, 7, 32, 13, 3, 1, "SAME", "RELU"), "conv1x1_c16": (4, 5, 16, 8, 1, 2, "VALID", "RELU"),
        "conv_grouped": (5, 5, 8, 6, 3, 1, "SAME", "RELU"), "conv1x1_c32_tail": (5, 6, 32, 13, 1, 1, "VALID", "RELU"),
        "conv1x1_c24_none": (4, 5, 24, 16, 1, 1, "VALID", "NONE"),
        "conv3x3_c3_none": (7, 6, 3, 16, 3, 2, "SAME", "NONE"),
    }.items():
        b = _Builder()
        fc = 4 if name == "conv_grouped" else c
        x = b.add((1, h, w, c), zp=int(rng.integers(-30, 30)))
        f = b.add((oc, k, k, fc), scale=[0.01 * (i + 1) for i in range(oc)],
                  data=rng.integers(-127, 128, size=(oc, k, k, fc), dtype=np.int8))
        bias = b.add((oc,), dtype="int32", scale=[0.0005] * oc, data=rng.integers(-900, 900, size=oc).astype(np.int32))
        out_h = (h + stride - 1) // stride if pad == "SAME" else (h - k) // stride + 1
        out_w = (w + stride - 1) // stride if pad == "SAME" else (w - k) // stride + 1
        y = b.add((1, out_h, out_w, oc), scale=0.2, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("CONV_2D", [x, f, bias], y, {
            "padding": pad, "stride_h": stride, "stride_w": stride, "fused_activation_function": act})))
    for name, (h, w, c, dm, stride, pad, act) in {
        "dw_dm8": (9, 8, 2, 8, 2, "SAME", "NONE"), "dw_dm16_valid": (6, 7, 1, 16, 1, "VALID", "NONE"),
        "dw_relu6": (7, 6, 16, 1, 1, "SAME", "RELU6"), "dw_dm8_relu6": (6, 5, 2, 8, 1, "SAME", "RELU6"),
    }.items():
        # Depth multipliers of 8k: each group of 8 output channels reads one input channel, broadcast.
        # RELU6 (bounds inside int8) takes the requantization in C instead of the assembly.
        b = _Builder()
        oc = c * dm
        x = b.add((1, h, w, c), zp=int(rng.integers(-30, 30)))
        f = b.add((1, 3, 3, oc), scale=[0.01 * (i + 1) for i in range(oc)], qdim=3,
                  data=rng.integers(-127, 128, size=(1, 3, 3, oc), dtype=np.int8))
        bias = b.add((oc,), dtype="int32", scale=[0.0005] * oc, data=rng.integers(-900, 900, size=oc).astype(np.int32))
        out_h = (h + stride - 1) // stride if pad == "SAME" else (h - 3) // stride + 1
        out_w = (w + stride - 1) // stride if pad == "SAME" else (w - 3) // stride + 1
        y = b.add((1, out_h, out_w, oc), scale=0.2, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("DEPTHWISE_CONV_2D", [x, f, bias], y, {
            "padding": pad, "stride_h": stride, "stride_w": stride, "depth_multiplier": dm,
            "fused_activation_function": act})))
    for name, (batches, depth, units, wzp, bias_on) in {
        "fc_tail": (2, 37, 11, 0, True), "fc_nobias": (1, 64, 8, 0, False), "fc_weight_zp": (1, 20, 5, 3, True),
    }.items():
        b = _Builder()
        x = b.add((batches, depth), zp=int(rng.integers(-30, 30)))
        f = b.add((units, depth), scale=0.02, zp=wzp, data=rng.integers(-127, 128, size=(units, depth), dtype=np.int8))
        inputs = [x, f]
        if bias_on:
            inputs.append(b.add((units,), dtype="int32", scale=0.001,
                                data=rng.integers(-2000, 2000, size=units).astype(np.int32)))
        else:
            inputs.append(-1)
        y = b.add((batches, units), scale=0.15, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("FULLY_CONNECTED", inputs, y, {"fused_activation_function": "NONE"})))
    for name, (h, w, c, kh, kw, stride, pad, act) in {
        "avgpool_global_c64": (25, 5, 64, 25, 5, 1, "VALID", "NONE"),
        "avgpool_3x3_c12_same": (7, 6, 12, 3, 3, 2, "SAME", "RELU"),
        "avgpool_c5": (5, 5, 5, 2, 2, 2, "VALID", "NONE"),
        "avgpool_c40_same": (4, 4, 40, 2, 2, 1, "SAME", "NONE"),
        "avgpool_c72": (3, 4, 72, 3, 2, 1, "VALID", "RELU6"),
        "avgpool_window_320": (20, 16, 8, 20, 16, 1, "VALID", "NONE"),
    }.items():
        # Chunks of channels and their tails, windows clipped at the borders, and a window of more than
        # 256 elements (the optimized kernels' int16 sums stop being exact: the reference loop).
        b = _Builder()
        scale, zp = float(rng.uniform(0.02, 0.2)), int(rng.integers(-30, 30))
        x = b.add((1, h, w, c), scale=scale, zp=zp)
        out_h = (h + stride - 1) // stride if pad == "SAME" else (h - kh) // stride + 1
        out_w = (w + stride - 1) // stride if pad == "SAME" else (w - kw) // stride + 1
        y = b.add((1, out_h, out_w, c), scale=scale, zp=zp)
        graphs.append((name, b.graph("AVERAGE_POOL_2D", [x], y, {
            "padding": pad, "stride_h": stride, "stride_w": stride, "filter_height": kh, "filter_width": kw,
            "fused_activation_function": act})))
    for name, other in {"add_flat": (1, 5, 7, 9), "add_broadcast": (1, 1, 7, 1)}.items():
        b = _Builder()
        x = b.add((1, 5, 7, 9), scale=float(rng.uniform(0.01, 0.2)), zp=int(rng.integers(-30, 30)))
        z = b.add(other, scale=float(rng.uniform(0.01, 0.2)), zp=int(rng.integers(-30, 30)),
                  data=rng.integers(-128, 128, size=other, dtype=np.int8))
        y = b.add((1, 5, 7, 9), scale=float(rng.uniform(0.02, 0.3)), zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("ADD", [x, z], y, {"fused_activation_function": "RELU"})))
    return graphs


@needs_emulation
def test_random_single_ops_on_m55_equal_the_reference(tmp_path: Path) -> None:
    from edgekit.codegen.engine_host import write_folder
    from edgekit.emulate import run_firmware
    from edgekit.firmware import build_firmware, run_host
    from edgekit.on_board import random_inputs

    target = get_target(BOARD)
    for name, graph in _random_graphs():
        work = tmp_path / name
        inputs = random_inputs(graph, 2)
        model = build_engine(graph, family="helium")
        assert set(model.kernel_dirs.values()) <= {"helium", "reference"}
        fw = build_firmware(write_folder(generate_engine(graph, "model", "helium"), work / "engine"), target, inputs,
                            work / "firmware")
        result = run_firmware(fw, target)
        host = run_host(write_folder(generate_engine(graph, "model"), work / "engine_ref"), inputs, work / "host")
        assert result.outputs.tobytes() == host.tobytes(), name
