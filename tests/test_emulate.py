"""Emulation: the stand-in model built for real boards, run in QEMU, outputs equal to the host build,
exact and reproducible instruction counts, clear failures for faults and hangs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from test_firmware_standin import (
    CONV_CH,
    CONV_K,
    CONV_LEN,
    FC_IN,
    OUTPUT_SIZE,
    require_host_cc,
    sample_inputs,
    write_broken_model,
    write_standin_model,
)

from edgekit.emulate import EmulationError, first_difference, run_firmware
from edgekit.emulate.plugin import build_plugin
from edgekit.firmware import build_firmware, run_host
from edgekit.targets import get_target

pytestmark = pytest.mark.skipif(
    not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)

# One board per emulated core the issue names: M4 (mps2-an386), M55 (mps3-an547), M0 (microbit).
BOARDS = ["nano33ble", "corstone-300", "rpi-pico"]


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """The stand-in model, its inputs, and its outputs compiled for this computer (the reference)."""
    require_host_cc()
    root = tmp_path_factory.mktemp("standin")
    model = write_standin_model(root / "model")
    x = sample_inputs(3)
    return model, x, run_host(model, x, root / "host")


@pytest.fixture(scope="module")
def runs(standin, tmp_path_factory: pytest.TempPathFactory):
    """Each board built once and run twice (the second run checks reproducibility)."""
    model, x, _ = standin
    out = {}
    for board in BOARDS:
        target = get_target(board)
        build = build_firmware(model, target, x, tmp_path_factory.mktemp(board))
        out[board] = (
            target,
            build,
            run_firmware(build, target, timeout_s=30),
            run_firmware(build, target, timeout_s=30),
        )
    return out


@pytest.mark.parametrize("board", BOARDS)
def test_outputs_equal_the_host_build(standin, runs, board: str) -> None:
    _, _, host = standin
    _, _, result, _ = runs[board]
    assert result.outputs.shape == host.shape
    assert first_difference(host, result.outputs) is None
    assert result.return_codes == (0, 0, 0)


@pytest.mark.parametrize("board", BOARDS)
def test_counts_are_exact_and_reproducible(runs, board: str) -> None:
    _, _, first, second = runs[board]
    assert first.counting == "plugin", first.counting_note
    assert len(first.inferences) == 3
    for a, b in zip(first.inferences, second.inferences, strict=True):
        assert a.instructions == b.instructions
        assert [layer.instructions for layer in a.layers] == [layer.instructions for layer in b.layers]
        assert a.classes == b.classes
        assert a.estimated_cycles == b.estimated_cycles
    for inference in first.inferences:
        # Every counted instruction belongs to one layer or to NAME_invoke's own code.
        assert inference.instructions == sum(la.instructions for la in inference.layers) + inference.glue_instructions
        assert sum(inference.classes.values()) == inference.instructions
        assert 0 < inference.glue_instructions < 40
    assert first.unknown_instructions == 0


@pytest.mark.parametrize("board", BOARDS)
def test_layers_are_found_in_order_with_plausible_work(runs, board: str) -> None:
    _, _, result, _ = runs[board]
    layers = result.layers
    assert [(la.index, la.op) for la in layers] == [
        (0, "conv_2d"),
        (1, "relu"),
        (2, "max_pool_2d"),
        (3, "fully_connected"),
    ]
    conv, relu, pool, fc = layers
    conv_macs, fc_macs = CONV_LEN * CONV_CH * CONV_K, FC_IN * OUTPUT_SIZE
    # Each MAC needs at least a multiply (scalar) or 1/16 of a vector MAC; loops cost more around it.
    assert conv.instructions > conv_macs
    assert fc.instructions > fc_macs / 16
    assert relu.instructions < conv.instructions and pool.instructions < conv.instructions
    # Weights live in flash; the plugin sees the reads.
    assert fc.flash_data_reads > 0 and fc.flash_line_misses <= fc.flash_data_reads
    for layer in layers:
        assert layer.estimated_cycles > 0
        assert layer.estimated_ms == pytest.approx(layer.estimated_cycles / (result.clock_mhz * 1000))


def test_instruction_classes_follow_the_core(runs) -> None:
    m4 = runs["nano33ble"][2].layers[3].classes
    m55 = runs["corstone-300"][2].layers[3].classes
    m0 = runs["rpi-pico"][2].layers[3].classes
    # The M4 multiplies int8 pairs with SMLABB; the M55 takes the Helium path; ARMv6-M only has MULS.
    assert m4.get("mac_dsp", 0) >= FC_IN * OUTPUT_SIZE
    assert m55.get("mve_mac", 0) == OUTPUT_SIZE * -(-FC_IN // 16)
    assert m55.get("mve_load", 0) == 2 * OUTPUT_SIZE * -(-FC_IN // 16)
    assert m0.get("mul", 0) >= FC_IN * OUTPUT_SIZE
    assert "mac_dsp" not in m0


def test_result_reports_memory_and_labels(runs) -> None:
    target, build, result, _ = runs["nano33ble"]
    assert 0 < result.call_stack_bytes < result.stack_high_water_bytes < 4096
    assert result.ram_bytes == build.sizes.data + build.sizes.bss + result.stack_high_water_bytes
    assert result.flash_bytes == build.flash_bytes
    assert result.clock_mhz == target.clock_mhz
    report = result.as_dict()
    assert set(report["measured"]) >= {"instructions", "stack_high_water_bytes", "ram_bytes", "flash_bytes"}
    assert set(report["estimated"]) == {"cycles", "ms"}
    assert report["inferences"][0]["layers"][0]["measured"]["instructions"] > 0
    assert "estimated" in report["inferences"][0]["layers"][0]
    assert "cortex-m4" in result.cycle_model.lower() or "Cortex-M4" in result.cycle_model
    assert "mps2-an386" in result.emulation_note


def test_m0plus_board_runs_on_the_m0_machine(runs) -> None:
    target, build, result, _ = runs["rpi-pico"]
    assert target.core == "cortex-m0plus" and build.qemu_machine == "microbit"
    assert any("microbit" in note for note in result.notes)


def test_icount_fallback_counts_whole_inferences(runs) -> None:
    target, build, plugin_run, _ = runs["nano33ble"]
    result = run_firmware(build, target, timeout_s=30, counting="icount")
    assert result.counting == "icount"
    assert first_difference(plugin_run.outputs, result.outputs) is None
    for fallback, exact in zip(result.inferences, plugin_run.inferences, strict=True):
        # SysTick reads and the call around NAME_invoke add a few dozen instructions.
        assert exact.instructions <= fallback.instructions <= exact.instructions + 60
        assert fallback.layers == () and fallback.estimated_cycles is None


def test_plugin_is_built_once_into_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGEKIT_CACHE_DIR", str(tmp_path))
    first = build_plugin()
    assert first.is_file() and tmp_path in first.parents
    mtime = first.stat().st_mtime_ns
    assert build_plugin() == first and first.stat().st_mtime_ns == mtime


# ---- failures ------------------------------------------------------------------------------------

FAULT_BODIES = {
    # A load from an address with nothing behind it: a precise bus fault on ARMv7-M/v8-M.
    "nano33ble": "volatile const int8_t *p = (volatile const int8_t *)0xF0000000u; out[1] = (int8_t)(in[1] + *p);",
    "corstone-300": "volatile const int8_t *p = (volatile const int8_t *)0xF0000000u; out[1] = (int8_t)(in[1] + *p);",
    # QEMU's micro:bit reads unmapped space as zero; an unaligned word load faults on ARMv6-M instead.
    "rpi-pico": "volatile const int32_t *p = (volatile const int32_t *)(in + 1); out[1] = (int8_t)*p;",
}


@pytest.mark.parametrize("board", BOARDS)
def test_a_fault_is_reported_with_its_place(tmp_path: Path, board: str) -> None:
    target = get_target(board)
    model = write_broken_model(tmp_path / "model", FAULT_BODIES[board])
    build = build_firmware(model, target, np.arange(16, dtype=np.int8).reshape(2, 8), tmp_path / "fw")
    started = time.monotonic()
    with pytest.raises(EmulationError) as err:
        run_firmware(build, target, timeout_s=10)
    assert time.monotonic() - started < 5
    assert err.value.kind == "fault"
    message = err.value.message()
    assert "HardFault" in message and "model_layer_001_broken" in message
    assert "0 of 2 inputs done" in message
    if board != "rpi-pico":
        assert "bus error" in message and "0xf0000000" in message
    assert "\n" not in message


@pytest.mark.parametrize("board", ["nano33ble", "rpi-pico"])
def test_a_hang_is_stopped_at_the_timeout_and_located(tmp_path: Path, board: str) -> None:
    target = get_target(board)
    body = "volatile int k = in[0]; while (k != 1000) { k = (k * 3) | 1; } out[1] = (int8_t)k;"
    model = write_broken_model(tmp_path / "model", body)
    build = build_firmware(model, target, np.ones((1, 8), np.int8), tmp_path / "fw")
    started = time.monotonic()
    with pytest.raises(EmulationError) as err:
        run_firmware(build, target, timeout_s=2)
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 8
    assert err.value.kind == "timeout"
    assert "did not finish within 2 s" in err.value.message()
    assert "model_layer_001_broken" in err.value.message()


def test_a_failing_model_call_is_reported(tmp_path: Path) -> None:
    target = get_target("nano33ble")
    model = write_broken_model(tmp_path / "model", "out[1] = in[1];")
    (model / "model.c").write_text((model / "model.c").read_text().replace("return 0;", "return 5;"))
    build = build_firmware(model, target, np.ones((1, 8), np.int8), tmp_path / "fw")
    with pytest.raises(EmulationError, match="model_invoke returned 5 for input 0"):
        run_firmware(build, target, timeout_s=10)


def test_build_for_another_machine_is_refused(runs) -> None:
    from edgekit.errors import EdgekitError

    _, build, _, _ = runs["nano33ble"]
    with pytest.raises(EdgekitError, match="mps3-an547"):
        run_firmware(build, get_target("corstone-300"))


def test_a_plugin_qemu_cannot_load_falls_back_to_icount(runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import edgekit.emulate.qemu as qemu_module
    from edgekit.errors import EdgekitError

    target, build, exact, _ = runs["nano33ble"]
    not_a_plugin = tmp_path / "broken.so"
    not_a_plugin.write_bytes(b"not an ELF shared object")
    monkeypatch.setattr(qemu_module, "build_plugin", lambda: not_a_plugin)
    result = run_firmware(build, target, timeout_s=30)
    assert result.counting == "icount"
    assert "could not load the counting plugin" in result.counting_note
    assert first_difference(exact.outputs, result.outputs) is None
    with pytest.raises(EdgekitError, match="could not load the counting plugin"):
        run_firmware(build, target, timeout_s=30, counting="plugin")


@pytest.mark.parametrize(
    ("board", "kind", "words"), [("rpi-pico", "lockup", "stack overflow"), ("corstone-300", "fault", "STKOF")]
)
def test_a_stack_overflow_is_named(tmp_path: Path, board: str, kind: str, words: str) -> None:
    target = get_target(board)
    # Endless recursion with a 64-byte frame: runs through all of RAM.
    body = (
        "volatile int8_t buf[64]; buf[0] = in[0];"
        " if (in[0] != 99) model_layer_001_broken((const int8_t *)buf, out); out[0] = buf[5];"
    )
    model = write_broken_model(tmp_path / "model", body)
    build = build_firmware(model, target, np.ones((1, 8), np.int8), tmp_path / "fw")
    with pytest.raises(EmulationError) as err:
        run_firmware(build, target, timeout_s=10)
    assert err.value.kind == kind
    assert words in err.value.message()


def test_only_single_word_loads_pipeline_on_the_m4() -> None:
    from edgekit.emulate.cycles import block_cycles, timing_for
    from edgekit.emulate.isa import Insn, classify

    def insn(mnemonic: str, operands: str) -> Insn:
        cls, regs, writes_pc = classify(mnemonic, operands)
        return Insn(0, 4, b"\0\0\0\0", mnemonic, operands, cls, regs, writes_pc)

    m4 = timing_for("cortex-m4")
    ldr, ldrd, strd = insn("ldr", "r0, [r1]"), insn("ldrd", "r2, r3, [r1, #8]"), insn("strd", "r2, r3, [r4]")
    assert block_cycles([ldr, ldr], m4) == 3  # the second load pipelines: 2 + 1
    assert block_cycles([ldr, ldrd], m4) == 2 + 3  # LDRD is not a single load: 1 + 2 words, no pipelining
    assert block_cycles([ldrd, ldr], m4) == 3 + 2
    assert block_cycles([strd], m4) == 3  # STRD as LDRD


def test_a_block_that_does_not_end_in_a_branch_took_none() -> None:
    """QEMU also ends translated blocks at page boundaries: the plugin then sees a successor that does not
    start at the block's end, which must not be priced as a taken branch (it would make estimates depend
    on where the linker put the code)."""
    from edgekit.emulate.cycles import taken_branches
    from edgekit.emulate.isa import Insn, classify

    def insn(mnemonic: str, operands: str) -> Insn:
        cls, regs, writes_pc = classify(mnemonic, operands)
        return Insn(0, 4, b"\0\0\0\0", mnemonic, operands, cls, regs, writes_pc)

    assert taken_branches(insn("smlad", "r4, r8, ip, r4"), 7936) == 0
    assert taken_branches(insn("bne.w", "f8e <x>"), 5952) == 5952
    assert taken_branches(insn("pop", "{r4, pc}"), 3) == 3
    assert taken_branches(None, 2) == 2  # not in the disassembly: as measured
