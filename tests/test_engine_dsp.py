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

from edgekit.codegen.engine import build_engine, generate_engine, kernel_family, target_kernel_family
from edgekit.codegen.engine_ops import pack_conv_filter_dsp, pack_depthwise_filter_dsp
from edgekit.codegen.engine_plan import check_engine_plan
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
    for kernel in ("conv_2d.c", "depthwise_conv_2d.c", "fully_connected.c"):
        assert dsp[f"ek_{kernel}"] == (KERNELS / "arm_dsp" / kernel).read_bytes()
        assert ref[f"ek_{kernel}"] == (KERNELS / "reference" / kernel).read_bytes()
    # No DSP version of these: the reference file, op by op.
    for kernel in ("average_pool_2d.c", "softmax.c"):
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
