"""The edgekit engine on Raspberry Pi cores: KWS int8 cross-compiled for AArch64 (reference and NEON
kernels, -Wall -Wextra -Werror), run under qemu-aarch64 with the counting plugin. Outputs must equal
the host build and the tflite-micro interpreter; counts must be exact and reproducible; NEON must
execute fewer instructions than the reference."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_model

from edgekit.codegen.engine import build_engine, generate_engine, target_kernel_family
from edgekit.codegen.engine_host import write_folder
from edgekit.emulate import cycles_a
from edgekit.emulate.aarch64 import CFLAGS, build_a64, missing_tools, run_a64
from edgekit.emulate.isa_a64 import classify
from edgekit.firmware import run_host
from edgekit.ir.tflite_reader import parse_tflite
from edgekit.on_board import random_inputs, tflm_reference
from edgekit.targets import get_target

pytestmark = pytest.mark.skipif(
    bool(missing_tools()) or shutil.which("cc") is None,
    reason=f"AArch64 tools not installed: {', '.join(missing_tools()) or 'host cc'} (scripts/setup.sh)",
)

N_INPUTS = 20
BOARD = "rpi4-2gb"  # Cortex-A72


@pytest.fixture(scope="module")
def kws(tmp_path_factory: pytest.TempPathFactory):
    path = shared_model("mlcommons_tiny/kws_ref_model.tflite")
    data = path.read_bytes()
    graph = parse_tflite(data, path=path)
    inputs = random_inputs(graph, N_INPUTS)
    root = tmp_path_factory.mktemp("kws_a64")
    host = run_host(write_folder(generate_engine(graph, "model"), root / "engine_host"), inputs, root / "host")
    return graph, inputs, host, tflm_reference(data, graph, inputs), root


@pytest.fixture(scope="module")
def runs(kws):
    graph, inputs, _host, _tflm, root = kws
    target = get_target(BOARD)
    out = {}
    for variant in ("reference", "neon"):
        engine = write_folder(generate_engine(graph, "model", variant), root / f"engine_{variant}")
        build = build_a64(engine, inputs, root / f"a64_{variant}", core=target.core)
        out[variant] = (build, run_a64(build, target), run_a64(build, target) if variant == "neon" else None)
    return out


def test_neon_folder_is_used_for_the_hot_kernels_only(kws) -> None:
    graph = kws[0]
    assert target_kernel_family(get_target(BOARD)) == "neon"
    dirs = build_engine(graph, family="neon").kernel_dirs
    for kernel in ("conv_2d.c", "depthwise_conv_2d.c", "fully_connected.c"):
        assert dirs[kernel] == "neon"
    assert dirs["softmax.c"] == "reference"  # falls back op by op
    assert "-Werror" in CFLAGS and "-static" in CFLAGS


@pytest.mark.parametrize("variant", ["reference", "neon"])
def test_outputs_equal_host_and_tflm(kws, runs, variant: str) -> None:
    _graph, inputs, host, tflm, _root = kws
    result = runs[variant][1]
    assert result.outputs.shape == (N_INPUTS, 12)
    assert np.array_equal(result.outputs, host)
    assert tflm is not None, "tflite-micro is part of the pinned environment"
    assert np.array_equal(result.outputs, tflm)
    assert len({row.tobytes() for row in inputs}) == N_INPUTS


def test_counts_are_exact_reproducible_and_per_layer(runs) -> None:
    _build, first, second = runs["neon"]
    assert second is not None
    assert [i.instructions for i in first.inferences] == [i.instructions for i in second.inferences]
    for a, b in zip(first.layers, second.layers, strict=True):
        assert (a.symbol, a.instructions, a.classes) == (b.symbol, b.instructions, b.classes)
    inference = first.inferences[0]
    assert inference.instructions == sum(layer.instructions for layer in inference.layers) + inference.glue_instructions
    assert sum(inference.classes.values()) == inference.instructions
    assert [layer.index for layer in first.layers] == list(range(13))
    assert first.unknown_instructions == 0
    assert first.counting == "plugin" and first.qemu_machine == "aarch64-user"
    # The misprediction bound: measured minority outcomes, reproducible, priced at the core's refill.
    assert 0 < first.branch_minority_outcomes == second.branch_minority_outcomes
    assert first.estimated_ms_upper == pytest.approx(
        first.estimated_ms + first.branch_minority_outcomes * 14 / 1.5e6)


def test_neon_executes_fewer_instructions_and_uses_vector_macs(runs) -> None:
    ref, neon = runs["reference"][1], runs["neon"][1]
    assert neon.instructions < 0.6 * ref.instructions
    pointwise = neon.layers[2]  # 1x1 conv, 64 channels: the dot product is vectorized
    assert pointwise.op == "conv_2d" and pointwise.classes.get("simd_mul", 0) > 0
    assert "simd_mul" not in ref.layers[2].classes
    assert neon.estimated_ms is not None and ref.estimated_ms is not None
    assert 0 < neon.estimated_ms < ref.estimated_ms


def test_estimates_follow_the_core_and_clock(tmp_path: Path, kws, runs) -> None:
    """The same instructions priced per core: the A76 at 2.4 GHz beats the A72 at 1.5 GHz."""
    _graph, inputs, _host, _tflm, root = kws
    a72 = runs["neon"][1]
    target = get_target("rpi5-4gb")
    build = build_a64(root / "engine_neon", inputs[:2], tmp_path / "a76", core=target.core)
    a76 = run_a64(build, target)
    assert a76.clock_mhz == 2400 and a72.clock_mhz == 1500
    assert a76.estimated_ms < a72.estimated_ms
    assert a76.estimated_cycles / a76.instructions < a72.estimated_cycles / a72.instructions
    assert a72.estimated_ms == pytest.approx(a72.estimated_cycles / (1500 * 1000))


def test_classifier_reads_registers_and_vector_forms() -> None:
    cls, q, reads, writes, acc, _wb = classify("smlal2", "v0.4s, v1.8h, v2.8h")
    assert (cls, q, acc) == ("simd_mul", True, True)
    assert set(reads) == {"v0", "v1", "v2"} and writes == ("v0",)
    cls, _q, reads, writes, _acc, writeback = classify("ldrsb", "w1, [x2], #1")
    assert cls == "load" and reads == ("r2",) and set(writes) == {"r1", "r2"} and writeback == "r2"
    assert classify("str", "q0, [x0], #16")[5] == "r0" and classify("str", "q0, [x0, #16]")[5] is None
    assert classify("ld1", "{v0.16b}, [x0]")[0] == "simd_load"
    assert classify("ldr", "q0, [x1, #16]")[0] == "simd_load"
    assert classify("madd", "w0, w1, w3, w0")[0] == "mul"
    assert classify("b.ne", "4005c0 <f+0x20>")[2] == ("nzcv",)


def test_in_order_core_pays_for_a_dependence_chain() -> None:
    """On the in-order A53 a load that needs the previous load's result waits for it; independent
    loads only share the one load pipe (a cycle each). Two ALU operations dual-issue."""
    from edgekit.emulate.isa_a64 import A64Insn

    def insn(mnemonic: str, operands: str) -> A64Insn:
        return A64Insn(0, b"\0\0\0\0", mnemonic, operands, *classify(mnemonic, operands))

    a53 = cycles_a.timing_for("cortex-a53")
    dependent = [insn("ldr", "x1, [x0]"), insn("ldr", "x2, [x1]")]
    independent = [insn("ldr", "x1, [x0]"), insn("ldr", "x2, [x3]")]
    assert cycles_a.block_cycles(dependent, a53) > cycles_a.block_cycles(independent, a53) >= 2
    alu_pair = [insn("add", "x1, x1, #1"), insn("add", "x2, x2, #1")]
    assert cycles_a.block_cycles(alu_pair, a53) == 1  # dual issue


def test_convert_hook_notes_a_missing_toolchain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the AArch64 tools on PATH a Pi board gets a note in the report, not a failure."""
    from dataclasses import dataclass, field

    from edgekit.on_pi import pi_emulation

    @dataclass
    class Result:  # the two fields of ConvertResult the hook writes
        emulation: list | None = None
        notes: list[str] = field(default_factory=list)

    path = shared_model("mlcommons_tiny/kws_ref_model.tflite")
    data = path.read_bytes()
    monkeypatch.setenv("PATH", str(tmp_path))
    result = Result()
    pi_emulation(path, data, parse_tflite(data, path=path), [get_target(BOARD)], result, lambda _m: None)
    assert result.emulation is None
    assert len(result.notes) == 1 and "No Raspberry Pi timing" in result.notes[0]
    assert "qemu-aarch64" in result.notes[0]


def test_emulate_command_runs_a_pi_board(tmp_path: Path) -> None:
    """`edgekit emulate MODEL --target rpi4-2gb`: the NEON engine under qemu-aarch64, outputs proven,
    the static program kept next to emulation.json."""
    import json

    from conftest import run_edgekit

    path = shared_model("mlcommons_tiny/kws_ref_model.tflite")
    run = run_edgekit("emulate", path, "--target", "rpi4-2gb", "--out", tmp_path / "boards", "--json")
    assert run.code == 0, run.stderr
    (entry,) = json.loads(run.stdout)
    assert entry["target"] == "rpi4-2gb" and entry["core"] == "cortex-a72" and entry["kernels"] == "neon"
    assert entry["outputs_equal_to_host"] and entry["outputs_equal_to_tflm"]
    assert entry["estimated"]["ms"] == pytest.approx(entry["estimated"]["cycles"] / 1.5e6, rel=1e-3)
    assert entry["estimated"]["ms_with_mispredictions_bound"] > entry["estimated"]["ms"]
    assert (tmp_path / "boards" / "rpi4-2gb" / "a64_run").is_file()
    assert (tmp_path / "boards" / "rpi4-2gb" / "emulation.json").is_file()


def test_address_write_back_does_not_wait_for_the_data() -> None:
    """A post-indexed store updates its base from the old base alone: a loop that loads, accumulates
    and stores through a post-incremented pointer is bound by the pipes, not by the loaded value."""
    from edgekit.emulate.isa_a64 import A64Insn

    def insn(mnemonic: str, operands: str) -> A64Insn:
        return A64Insn(0, b"\0\0\0\0", mnemonic, operands, *classify(mnemonic, operands))

    loop = [insn("ldr", "q0, [x0]"), insn("smlal", "v0.4s, v1.4h, v2.4h"), insn("str", "q0, [x0], #16"),
            insn("cmp", "x6, x0"), insn("b.ne", "40123c <f+0x1dc>")]
    a72 = cycles_a.timing_for("cortex-a72")
    assert cycles_a.block_cycles(loop, a72) == pytest.approx(5 / 3)  # decode width: 5 instructions, 3 per cycle
