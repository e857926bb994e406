"""The Arm DSP kernel family (firmware/kernels/arm_dsp): picked for Cortex-M4/M7/M33, bit-exact with the
reference kernels and the tflite-micro interpreter, and faster.

The proof runs where the code runs: the models are generated with the DSP kernels, built with
arm-none-eabi-gcc for the core, run in QEMU (mps2-an386 for the M4), and their outputs compared with
the host build of the reference kernels and with the tflite-micro interpreter on the same inputs; the
instructions counted by the TCG plugin must be fewer than the reference kernels' on the same core.
Randomized single-op cases (every shape path, both loop directions, the planner's tightest in-place
overlaps) are in test_engine_inplace.py, on the host with the portable versions of the intrinsics.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_model
from test_engine_helium import _random_graphs
from test_engine_inplace import _Builder

from edgekit.codegen.engine import build_engine, generate_engine, kernel_family, target_kernel_family
from edgekit.codegen.engine_ops import (
    LOWERINGS,
    adapt_for_family,
    flushed_channels_zeroed,
    pack_conv_filter_dsp,
    pack_depthwise_filter_dsp,
    pack_depthwise_requant_dsp,
    pack_requant_dsp,
    requant_rows_dsp,
)
from edgekit.codegen.engine_plan import check_engine_plan
from edgekit.ir.graph import Graph
from edgekit.ir.tflite_reader import read_tflite
from edgekit.resources import data_dir
from edgekit.targets import get_target

KERNELS = data_dir("firmware") / "kernels"
KWS = "mlcommons_tiny/kws_ref_model.tflite"
RESNET = "mlcommons_tiny/pretrainedResnet_quant.tflite"
VWW = "mlcommons_tiny/vww_96_int8.tflite"

needs_emulation = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm is not installed (scripts/setup.sh installs them)",
)


def test_family_per_core() -> None:
    for core in ("cortex-m4", "cortex-m7", "cortex-m33"):
        assert kernel_family(core) == "arm_dsp"
    assert kernel_family("cortex-m33", dsp=False) == "reference"
    for core in ("cortex-m0plus", "cortex-m3"):
        assert kernel_family(core) == "reference"
    assert kernel_family("cortex-m55") == "helium"  # tests/test_engine_helium.py
    for core in ("cortex-a53", "cortex-a72", "cortex-a76"):
        assert kernel_family(core) == "neon"
    assert target_kernel_family(get_target("nucleo-l4r5zi")) == "arm_dsp"
    assert target_kernel_family(get_target("rpi-pico")) == "reference"
    assert target_kernel_family(get_target("rpi4-1gb")) == "neon"


def test_generated_folder_takes_dsp_files_and_falls_back_op_by_op() -> None:
    graph = read_tflite(shared_model(KWS))
    dsp = generate_engine(graph, "kws", "arm_dsp")
    ref = generate_engine(graph, "kws")
    assert "ek_dsp.h" in dsp and "ek_dsp.h" not in ref
    for kernel in ("conv_2d.c", "depthwise_conv_2d.c", "fully_connected.c", "average_pool_2d.c"):
        assert dsp[f"ek_{kernel}"] == (KERNELS / "arm_dsp" / kernel).read_bytes()
        assert ref[f"ek_{kernel}"] == (KERNELS / "reference" / kernel).read_bytes()
    # No DSP version of this one: the reference file, op by op.
    for kernel in ("softmax.c",):
        assert dsp[f"ek_{kernel}"] == (KERNELS / "reference" / kernel).read_bytes()
    assert generate_engine(graph, "kws", "arm_dsp") == dsp  # byte-identical outputs for the same inputs


def test_export_c_with_dsp_kernels(tmp_path: Path) -> None:
    from edgekit.export import export_c

    written = export_c(shared_model(KWS), tmp_path / "out", "kws", family="arm_dsp")
    names = {p.name for p in written}
    assert {"kws.c", "kws.h", "ek_dsp.h", "ek_conv_2d.c"} <= names
    assert (tmp_path / "out" / "ek_conv_2d.c").read_bytes() == (KERNELS / "arm_dsp" / "conv_2d.c").read_bytes()


def test_scratch_is_in_the_arena_plan() -> None:
    graph = read_tflite(shared_model(RESNET))
    ref, dsp = build_engine(graph), build_engine(graph, family="arm_dsp")
    convs = [low for low in dsp.lowered if low.kernel == "conv_2d.c"]
    assert convs and all(low.scratch_bytes > 0 for low in convs)
    assert not any(low.scratch_bytes for low in ref.lowered)
    for low in convs:
        buf = dsp.plan.buffers[dsp.plan.scratch_buffer[low.op.index]]
        assert buf.tensors == () and buf.first_op == buf.last_op == low.op.index and buf.nbytes == low.scratch_bytes
    assert check_engine_plan(dsp.plan) == []
    assert dsp.arena_bytes >= max(low.scratch_bytes for low in convs)
    assert dsp.arena_bytes >= ref.arena_bytes


def test_conv_weight_packing_is_a_permutation_of_each_group() -> None:
    rng = np.random.default_rng(0)
    for out_c, depth, groups in ((7, 27, 1), (8, 64, 1), (6, 9, 2), (1, 5, 1)):
        filt = rng.integers(-127, 128, size=(out_c, 1, 1, depth), dtype=np.int8)
        packed = pack_conv_filter_dsp(filt, groups)
        assert packed.shape == (out_c * depth,)
        assert sorted(packed.tolist()) == sorted(filt.reshape(-1).tolist())
        # The first pair starts with 4 weights of channel 0, then 4 of channel 1.
        if out_c // groups >= 2 and depth >= 4:
            assert packed[:4].tolist() == filt[0, 0, 0, :4].tolist()
            assert packed[4:8].tolist() == filt[1, 0, 0, :4].tolist()


def test_depthwise_weight_packing_groups_channels_by_four_as_int16_pairs() -> None:
    rng = np.random.default_rng(3)
    filt = rng.integers(-128, 128, size=(1, 3, 3, 8), dtype=np.int8)
    packed = pack_depthwise_filter_dsp(filt)
    assert packed.dtype == np.int32 and packed.size == filt.size // 2  # two int16 per weight
    halves = packed.view(np.int16).reshape(2, 9, 2, 2)  # [group, tap, word, half]: little-endian words
    taps = filt.reshape(9, 8)
    for g in range(2):
        quad = taps[:, 4 * g:4 * g + 4]
        assert halves[g, :, 0, 0].tolist() == quad[:, 0].tolist()  # word 0: (w0, w2)
        assert halves[g, :, 0, 1].tolist() == quad[:, 2].tolist()
        assert halves[g, :, 1, 0].tolist() == quad[:, 1].tolist()  # word 1: (w1, w3)
        assert halves[g, :, 1, 1].tolist() == quad[:, 3].tolist()


def test_depthwise_requant_words_follow_each_groups_weights_with_the_offset_folded() -> None:
    """engine_ops.pack_depthwise_requant_dsp: per group of 4 channels its packed weights, then bias,
    multiplier', round, right by field; the bias gains input_offset x the channel's weight sum; a
    flushed channel (multiplier 0) has zero weights and bias."""
    rng = np.random.default_rng(5)
    filt = rng.integers(-128, 128, size=(1, 3, 3, 8), dtype=np.int8)
    bias = rng.integers(-900, 900, size=8).tolist()
    mults = [1 << 30] * 8
    mults[5] = 0
    shifts = [-3] * 8
    words = pack_depthwise_requant_dsp(filt, bias, mults, shifts, input_offset=7, folded=-2).reshape(2, -1)
    zeroed = filt.astype(np.int64)
    zeroed[..., 5] = 0
    assert words[:, :18].reshape(-1).tolist() == pack_depthwise_filter_dsp(zeroed).tolist()
    table = requant_rows_dsp([b + 7 * int(s) for b, s in zip(bias, zeroed.reshape(9, 8).sum(axis=0), strict=True)],
                             mults, shifts, -2).reshape(2, 4, 4)
    assert words[:, 18:].tolist() == table.transpose(0, 2, 1).reshape(2, 16).tolist()
    assert words[1, 18 + 1] == 0  # channel 5: bias 0


def unpair(table: np.ndarray, channels: int) -> list[list[int]]:
    """pack_requant_dsp's table back to one {bias, multiplier, round, right} row per channel."""
    rows = table.reshape(-1, 4, 2).transpose(0, 2, 1).reshape(-1, 4)
    return rows[:channels].tolist()


def test_requant_table_packs_bias_multiplier_round_right_per_channel() -> None:
    """engine_ops.pack_requant_dsp, the table the Arm DSP CONV_2D reads in place of `bias` (ek_dsp.h
    EK_RQ_WORDS): the multiplier as 2M - 2^32 (SMMLAR's form), round = 2^(right - 1) + folded offset x
    2^right as ek_rq_fast_setup computes it; a flushed channel (multiplier 0) takes bias 0, multiplier 0
    and right 1 whatever its shift; no bias: 0."""
    mults = [1 << 30, 0, 2147483647]
    shifts = [-1, 5, -31]
    table = pack_requant_dsp([7, -3, 1 << 20], mults, shifts, folded=-5)
    assert table.dtype == np.int32
    # Per channel pair, field by field (ek_dsp.h EK_RQ_AT); the odd last channel padded.
    assert table.shape == (16,) and table[9::2].tolist() == [0, 0, 1, 1]
    assert unpair(table, 3) == [
        [7, -(1 << 31), 1 + (-5 << 1), 1],
        [0, 0, 1 + (-5 << 1), 1],
        [1 << 20, -2, ((1 << 30) + (-5 << 31)) % (1 << 32) - (1 << 32), 31],  # wraps as uint32 does
    ]
    plain = pack_requant_dsp(None, mults, [-1, -1, -12], folded=0)
    assert unpair(plain, 3) == [[0, -(1 << 31), 1, 1], [0, 0, 1, 1], [0, -2, 1 << 11, 12]]
    with pytest.raises(ValueError):
        pack_requant_dsp(None, [1 << 30], [0], folded=0)
    # SMMLAR(acc, 2M - 2^32, acc) == SMMULR(2 acc, M) (ek_dsp.h ek_rq_table against ek_rq_fast).
    rng = np.random.default_rng(5)
    for m in (1 << 30, 2147483647, 1518500250):
        m2 = unpair(pack_requant_dsp(None, [m], [-3], folded=0), 1)[0][1]
        for acc in [*rng.integers(-(1 << 30), 1 << 30, size=200).tolist(), 0, 1, -1, (1 << 30) - 1, -(1 << 30)]:
            assert (acc * (1 << 32) + acc * m2 + (1 << 31)) >> 32 == (2 * acc * m + (1 << 31)) >> 32


def test_flushed_channels_get_zero_weights() -> None:
    filt = np.arange(1, 13, dtype=np.int8).reshape(3, 1, 1, 4)
    zeroed = flushed_channels_zeroed(filt, [1 << 30, 0, 1 << 30])
    assert zeroed[1].tolist() == [[[0, 0, 0, 0]]] and np.array_equal(zeroed[[0, 2]], filt[[0, 2]])
    assert flushed_channels_zeroed(filt, [1 << 30] * 3) is filt


def test_fast_conv_layers_take_the_requant_table_in_place_of_bias() -> None:
    """KWS's convolutions (all requant_fast 1): the Arm DSP call passes the table for `bias` and NULL
    multiplier and shift; the reference call is unchanged."""
    graph = read_tflite(shared_model(KWS))
    seen = 0
    for op in graph.operators:
        if op.opcode != "CONV_2D":
            continue
        ref = LOWERINGS[op.opcode](graph, op)
        low = adapt_for_family(graph, LOWERINGS[op.opcode](graph, op), "arm_dsp")
        params = dict(ref.params)
        assert int(params["requant_fast"]) == 1
        assert "{a_mult}, {a_shift}" in ref.call
        assert ", {a_rq_dsp}, NULL, NULL, " in low.call and f"{{t{op.inputs[2]}}}" not in low.call
        arrays = {suffix: values for suffix, _, values in low.arrays}
        ref_arrays = {suffix: values for suffix, _, values in ref.arrays}
        assert "mult" not in arrays and "shift" not in arrays
        bias = np.asarray(graph.tensors[op.inputs[2]].data).tolist()
        expected = pack_requant_dsp(bias, ref_arrays["mult"], ref_arrays["shift"], int(params["output_offset"]))
        assert list(arrays["rq_dsp"]) == expected.tolist()
        seen += 1
    assert seen == 5


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed")
@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7", "cortex-m33"])
def test_dsp_kernels_compile_warning_free(tmp_path: Path, cpu: str) -> None:
    for source in sorted((KERNELS / "arm_dsp").glob("*.c")):
        cmd = ["arm-none-eabi-gcc", f"-mcpu={cpu}", "-mthumb", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
               f"-I{KERNELS / 'include'}", "-c", str(source), "-o", str(tmp_path / f"{source.stem}.o")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        # The DSP path is the one compiled: the object holds SMLAD-class instructions.
        dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(tmp_path / f"{source.stem}.o")],
                             capture_output=True, text=True, check=True).stdout
        if source.stem in ("conv_2d", "depthwise_conv_2d", "fully_connected"):
            assert any(m in dis for m in ("smlad", "smlabb")), source.name


def _emulate(model: Path, board: str, family: str, tmp_path: Path, inputs: np.ndarray):
    from edgekit.on_board import run_on_board

    graph = read_tflite(model)
    return run_on_board(model.read_bytes(), graph, get_target(board), tmp_path / family, inputs=inputs,
                        family=family)


@needs_emulation
@pytest.mark.parametrize("relative", [KWS, RESNET, VWW])
def test_dsp_on_m4_equals_reference_and_tflm_with_fewer_instructions(tmp_path: Path, relative: str) -> None:
    from edgekit.on_board import random_inputs

    model = shared_model(relative)
    inputs = random_inputs(read_tflite(model), 2)
    dsp = _emulate(model, "nucleo-l4r5zi", "arm_dsp", tmp_path, inputs)
    assert dsp.result.qemu_machine == "mps2-an386" and dsp.result.counting == "plugin"
    assert dsp.equal_to_host, dsp.first_difference()  # the host build runs the reference kernels
    assert dsp.equal_to_tflm is True, dsp.first_difference()
    ref = _emulate(model, "nucleo-l4r5zi", "reference", tmp_path, inputs)
    assert np.array_equal(ref.result.outputs, dsp.result.outputs)
    assert dsp.result.instructions < ref.result.instructions
    assert dsp.result.estimated_cycles < ref.result.estimated_cycles
    by_op: dict[str, list[int]] = {}
    for a, b in zip(ref.result.layers, dsp.result.layers, strict=True):
        by_op.setdefault(a.op, [0, 0])
        by_op[a.op][0] += a.instructions
        by_op[a.op][1] += b.instructions
    for op in ("conv_2d", "depthwise_conv_2d", "fully_connected"):
        if op in by_op:
            assert by_op[op][1] < by_op[op][0], (op, by_op[op])


@needs_emulation
@pytest.mark.parametrize("board", ["stm32f746g-disco", "nucleo-u575zi"])
def test_dsp_on_m7_and_m33_equals_tflm(tmp_path: Path, board: str) -> None:
    from edgekit.on_board import random_inputs

    model = shared_model(KWS)
    run = _emulate(model, board, "arm_dsp", tmp_path, random_inputs(read_tflite(model), 2))
    assert run.equal_to_host, run.first_difference()
    assert run.equal_to_tflm is True, run.first_difference()


def _dsp_graphs() -> list[tuple[str, Graph]]:
    """Single ops that reach every path of the Arm DSP kernels: the randomized cases shared with the
    Helium test, plus the depthwise 3x3 tiles (partial last tile, padding on every side, stride 2),
    narrow-input convolutions (1 to 3 input channels, odd output channels, a lone last pixel), and layers
    whose requantization cannot take the short path (a right shift of 0, a clamp narrower than int8)."""
    graphs = _random_graphs()
    rng = np.random.default_rng(11)
    dw_cases = {
        "dw3x3_c16_same": (5, 7, 16, 1, "SAME", 0.05, "NONE"),
        "dw3x3_c8_stride2": (9, 6, 8, 2, "SAME", 0.05, "RELU"),
        "dw3x3_c12_valid": (4, 11, 12, 1, "VALID", 0.05, "RELU6"),
        "dw3x3_c4_shift0": (3, 3, 4, 1, "SAME", 4e-5, "NONE"),
    }
    for name, (h, w, c, stride, pad, out_scale, act) in dw_cases.items():
        b = _Builder()
        x = b.add((1, h, w, c), zp=int(rng.integers(-30, 30)))
        f = b.add((1, 3, 3, c), scale=[0.01 * (i + 1) for i in range(c)], qdim=3,
                  data=rng.integers(-127, 128, size=(1, 3, 3, c), dtype=np.int8))
        bias = b.add((c,), dtype="int32", scale=[0.0005] * c, data=rng.integers(-900, 900, size=c).astype(np.int32))
        out_h = (h + stride - 1) // stride if pad == "SAME" else (h - 3) // stride + 1
        out_w = (w + stride - 1) // stride if pad == "SAME" else (w - 3) // stride + 1
        y = b.add((1, out_h, out_w, c), scale=out_scale, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("DEPTHWISE_CONV_2D", [x, f, bias], y, {
            "padding": pad, "stride_h": stride, "stride_w": stride, "depth_multiplier": 1,
            "fused_activation_function": act})))
    conv_cases = {
        "narrow_c3_oc7": (7, 5, 3, 7, 3, 2, "SAME", 0.2, "RELU"),
        "narrow_c1_oc16": (6, 6, 1, 16, 3, 1, "VALID", 0.2, "NONE"),
        "narrow_c2_oc5_relu6": (5, 4, 2, 5, 2, 1, "SAME", 0.2, "RELU6"),
        "wide_c1_oc40": (5, 5, 1, 40, 3, 1, "SAME", 0.2, "RELU"),
        "pw_c8_oc9_shift0": (3, 5, 8, 9, 1, 1, "VALID", 1e-4, "NONE"),
        # Odd group counts of 3 and 9 in the short-requantization pair loop (its out-of-line odd group).
        "pw_c12_oc10": (4, 3, 12, 10, 1, 1, "VALID", 0.2, "NONE"),
        "conv_c4_oc8": (5, 4, 4, 8, 3, 1, "SAME", 0.2, "NONE"),
    }
    for name, (h, w, c, oc, k, stride, pad, out_scale, act) in conv_cases.items():
        b = _Builder()
        x = b.add((1, h, w, c), zp=int(rng.integers(-30, 30)))
        f = b.add((oc, k, k, c), scale=[0.01 * (i + 1) for i in range(oc)],
                  data=rng.integers(-127, 128, size=(oc, k, k, c), dtype=np.int8))
        bias = b.add((oc,), dtype="int32", scale=[0.0005] * oc, data=rng.integers(-900, 900, size=oc).astype(np.int32))
        out_h = (h + stride - 1) // stride if pad == "SAME" else (h - k) // stride + 1
        out_w = (w + stride - 1) // stride if pad == "SAME" else (w - k) // stride + 1
        y = b.add((1, out_h, out_w, oc), scale=out_scale, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("CONV_2D", [x, f, bias], y, {
            "padding": pad, "stride_h": stride, "stride_w": stride, "fused_activation_function": act})))
    # Right shifts near 26 with a large output zero point: the offset cannot be folded (level 2); biases
    # near 2^29 keep the outputs moving.
    b = _Builder()
    x = b.add((1, 3, 4, 8), zp=int(rng.integers(-30, 30)))
    f = b.add((6, 1, 1, 8), scale=[0.01] * 6, data=rng.integers(-127, 128, size=(6, 1, 1, 8), dtype=np.int8))
    bias = b.add((6,), dtype="int32", scale=[0.0005] * 6,
                 data=rng.integers(-(1 << 29), 1 << 29, size=6).astype(np.int32))
    y = b.add((1, 3, 4, 6), scale=40000.0, zp=100)
    graphs.append(("pw_unfolded_offset", b.graph("CONV_2D", [x, f, bias], y, {
        "padding": "VALID", "stride_h": 1, "stride_w": 1, "fused_activation_function": "NONE"})))
    # Flushed channels (a filter scale so small that TFLM's multiplier is 0) in short-requantization
    # layers, which take the requantization table with those channels' weights zeroed: a pointwise
    # layer with a bias (the assembly pair loop, a flushed channel in each half of a pair, an odd last
    # one), a narrow one without (narrow_path), a 3x3 one without (all_channels from the table's 0 bias).
    flushed_cases = {
        "pw_flushed_c8_oc11": (4, 5, 8, 11, 1, True, (1, 4, 10)),
        "narrow_flushed_c3_oc6_nobias": (5, 5, 3, 6, 3, False, (0, 5)),
        "conv_flushed_c4_oc6_nobias": (5, 4, 4, 6, 3, False, (3,)),
    }
    # Depthwise with the requantization words (engine_ops.pack_depthwise_requant_dsp): flushed channels
    # in both halves of a group, no bias (the folded bias is then the input offset term alone), the 3x3
    # assembly (no activation) and the generic tile loop (RELU).
    for name, act in (("dw_flushed_nobias", "NONE"), ("dw_flushed_nobias_relu", "RELU")):
        b = _Builder()
        x = b.add((1, 6, 5, 8), zp=int(rng.integers(-30, 30)))
        scales = [1e-15 if i in (1, 6) else 0.01 * (i + 1) for i in range(8)]
        f = b.add((1, 3, 3, 8), scale=scales, qdim=3, data=rng.integers(-127, 128, size=(1, 3, 3, 8), dtype=np.int8))
        y = b.add((1, 6, 5, 8), scale=0.05, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("DEPTHWISE_CONV_2D", [x, f], y, {
            "padding": "SAME", "stride_h": 1, "stride_w": 1, "depth_multiplier": 1,
            "fused_activation_function": act})))
    for name, (h, w, c, oc, k, with_bias, flushed) in flushed_cases.items():
        b = _Builder()
        x = b.add((1, h, w, c), zp=int(rng.integers(-30, 30)))
        scales = [1e-15 if i in flushed else 0.01 * (i + 1) for i in range(oc)]
        f = b.add((oc, k, k, c), scale=scales, data=rng.integers(-127, 128, size=(oc, k, k, c), dtype=np.int8))
        inputs = [x, f]
        if with_bias:
            inputs.append(b.add((oc,), dtype="int32", scale=[s * 0.05 for s in scales],
                                data=rng.integers(-900, 900, size=oc).astype(np.int32)))
        y = b.add((1, h, w, oc), scale=0.2, zp=int(rng.integers(-30, 30)))
        graphs.append((name, b.graph("CONV_2D", inputs, y, {
            "padding": "SAME", "stride_h": 1, "stride_w": 1, "fused_activation_function": "NONE"})))
    return graphs


def test_short_requantization_is_proved_per_layer() -> None:
    """engine_ops.requant_fast_ok: on (1, offset folded) for the usual scales, off where a channel shifts
    left or right by 0, and off where the worst-case accumulator could overflow the doubled value; VWW's
    deep layers (right shifts up to 31, flushed channels) take the unfolded form (2)."""
    by_name = dict(_dsp_graphs())

    def flag(graph: Graph) -> int:
        op = graph.operators[0]
        return int(dict(LOWERINGS[op.opcode](graph, op).params)["requant_fast"])

    assert flag(by_name["dw3x3_c16_same"]) == 1 and flag(by_name["narrow_c3_oc7"]) == 1
    assert flag(by_name["dw3x3_c4_shift0"]) == 0 and flag(by_name["pw_c8_oc9_shift0"]) == 0
    assert flag(by_name["pw_unfolded_offset"]) == 2
    for name in ("pw_flushed_c8_oc11", "narrow_flushed_c3_oc6_nobias", "conv_flushed_c4_oc6_nobias"):
        graph = by_name[name]
        op = graph.operators[0]
        low = LOWERINGS[op.opcode](graph, op)
        assert flag(graph) == 1 and 0 in dict((s, v) for s, _, v in low.arrays)["mult"], name
    huge = by_name["dw3x3_c16_same"]
    bias = huge.tensors[huge.operators[0].inputs[2]]
    bias.data = np.full_like(bias.data, 1 << 30)
    assert flag(huge) == 0
    for model in (KWS, VWW):
        graph = read_tflite(shared_model(model))
        for op in graph.operators:
            if op.opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                continue
            level = int(dict(LOWERINGS[op.opcode](graph, op).params)["requant_fast"])
            bias = np.abs(np.asarray(graph.tensors[op.inputs[2]].data, dtype=np.int64))
            # The only reason these models' layers miss the short path: a bias near 2^30, whose doubled
            # accumulator could overflow (VWW's deep pointwise layers).
            assert level in (1, 2) or bias.max() >= 1 << 29, (model, op.index, level)
            if model == KWS:
                assert level == 1


@needs_emulation
def test_random_single_ops_on_m4_equal_the_reference(tmp_path: Path) -> None:
    """Every case in emulation on the M4 (the assembly only runs there), against the host build of the
    reference kernels."""
    from edgekit.codegen.engine_host import write_folder
    from edgekit.emulate import run_firmware
    from edgekit.firmware import build_firmware, run_host
    from edgekit.on_board import random_inputs

    target = get_target("nucleo-l4r5zi")
    for name, graph in _dsp_graphs():
        work = tmp_path / name
        inputs = random_inputs(graph, 2)
        fw = build_firmware(write_folder(generate_engine(graph, "model", "arm_dsp"), work / "engine"), target, inputs,
                            work / "firmware")
        result = run_firmware(fw, target)
        host = run_host(write_folder(generate_engine(graph, "model"), work / "engine_ref"), inputs, work / "host")
        assert result.outputs.tobytes() == host.tobytes(), name


def test_fallback_paths_are_compiled_only_for_models_that_take_them() -> None:
    """ek_config.h in the generated folder: the depthwise and pooling fallbacks off for KWS (every
    layer on the fast paths), on for layers that need them."""
    from edgekit.codegen.engine import generate_engine

    kws = generate_engine(read_tflite(shared_model("mlcommons_tiny/kws_ref_model.tflite")), "kws", "arm_dsp")
    config = kws["ek_config.h"].decode()
    assert "#define EK_DW_OTHER_SHAPES 0" in config and "#define EK_POOL_OTHER_SHAPES 0" in config
    graphs = dict(_dsp_graphs())
    pool5 = generate_engine(graphs["avgpool_c5"], "m", "arm_dsp")["ek_config.h"].decode()
    assert "#define EK_POOL_OTHER_SHAPES 1" in pool5  # 5 channels: the reference loop
    dw2 = generate_engine(graphs["dw_dm8_relu6"], "m", "arm_dsp")["ek_config.h"].decode()
    assert "#define EK_DW_OTHER_SHAPES 0" in dw2  # depth multiplier 8 is on the fast path
    odd = _Builder()
    x = odd.add((1, 4, 4, 3), zp=3)
    f = odd.add((1, 3, 3, 6), scale=[0.01] * 6, qdim=3, data=np.ones((1, 3, 3, 6), dtype=np.int8))
    y = odd.add((1, 4, 4, 6), scale=0.1, zp=-2)
    graph = odd.graph("DEPTHWISE_CONV_2D", [x, f, -1], y, {"padding": "SAME", "stride_h": 1, "stride_w": 1,
                                                            "depth_multiplier": 2, "fused_activation_function": "NONE"})
    assert "#define EK_DW_OTHER_SHAPES 1" in generate_engine(graph, "m", "arm_dsp")["ek_config.h"].decode()
