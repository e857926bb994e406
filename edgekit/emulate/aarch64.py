"""The edgekit engine on a Raspberry Pi core, from emulation: cross-compiled for AArch64 (static,
`aarch64-linux-gnu-gcc -mcpu=<core>`), run under user-mode `qemu-aarch64 -cpu <core>` with edgekit's
TCG plugin, outputs compared with the host build, instructions counted exactly per layer, cycles
and milliseconds estimated with the per-core model of `edgekit.emulate.cycles_a` at the board clock.

The program is the host harness (`firmware/harness/host_main.c`) with the generated model: the same
"EDGEKIT" lines on stdout as the host build, so its outputs can be compared byte for byte. The layer
functions `NAME_layer_NNN_op` are real symbols, attributed exactly as on the Cortex-M firmware.

from edgekit.emulate.aarch64 import build_a64, run_a64
build = build_a64(engine_dir, inputs, out_dir, core="cortex-a72", variant="neon")
result = run_a64(build, target)      # an A64Result (EmulationResult): result.instructions, .estimated_ms
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.emulate import cycles_a
from edgekit.emulate.harness import parse_harness_output
from edgekit.emulate.isa_a64 import A64Insn, disassemble
from edgekit.emulate.plugin import (
    REGION_GLUE,
    REGION_OUTSIDE,
    PluginCounts,
    PluginUnavailable,
    RegionMap,
    build_plugin,
    parse_counts,
    region_map,
)
from edgekit.emulate.qemu import EmulationError, EmulationResult, InferenceStats, LayerStats
from edgekit.errors import EdgekitError
from edgekit.firmware import SectionSizes, _check_inputs, _first_error, _inputs_header, firmware_dir, read_sizes
from edgekit.targets import Target

GCC = "aarch64-linux-gnu-gcc"
OBJDUMP = "aarch64-linux-gnu-objdump"
QEMU = "qemu-aarch64"
INSTALL_HINT = "install gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (scripts/setup.sh)"
QEMU_MACHINE = "aarch64-user"
CORES = tuple(cycles_a.TIMINGS)

# Our own C (harness and kernels) is warning-free; the generated model is held to the same standard here.
CFLAGS = ("-std=c99", "-static", "-Wall", "-Wextra", "-Werror")


@dataclass(frozen=True)
class A64Result(EmulationResult):
    """An EmulationResult with the misprediction bound of the first inference (see cycles_a)."""

    branch_minority_outcomes: int = 0  # measured: conditional branches that went their less frequent way
    mispredict_penalty: float = 0.0  # cycles per misprediction on this core

    @property
    def estimated_cycles_upper(self) -> float | None:
        """Estimated cycles if every minority outcome were mispredicted: a bound, not an estimate."""
        if self.estimated_cycles is None:
            return None
        return self.estimated_cycles + self.branch_minority_outcomes * self.mispredict_penalty

    @property
    def estimated_ms_upper(self) -> float | None:
        upper = self.estimated_cycles_upper
        return None if upper is None else upper / (self.clock_mhz * 1000.0)

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["measured"]["branch_minority_outcomes"] = self.branch_minority_outcomes
        upper = self.estimated_cycles_upper
        data["estimated"]["cycles_with_mispredictions_bound"] = None if upper is None else round(upper)
        data["estimated"]["ms_with_mispredictions_bound"] = self.estimated_ms_upper
        return data


@dataclass(frozen=True)
class A64Tools:
    gcc: Path
    objdump: Path
    qemu: Path
    gcc_version: str
    qemu_version: str


def missing_tools() -> list[str]:
    """The AArch64 tools not on PATH (empty when emulation on Raspberry Pi cores is possible)."""
    return [tool for tool in (GCC, OBJDUMP, QEMU) if shutil.which(tool) is None]


def find_tools() -> A64Tools:
    missing = missing_tools()
    if missing:
        raise EdgekitError(missing[0], f"not found on PATH; {INSTALL_HINT}")
    gcc, objdump, qemu = (Path(str(shutil.which(tool))) for tool in (GCC, OBJDUMP, QEMU))
    gcc_version = subprocess.run([str(gcc), "-dumpfullversion"], capture_output=True, text=True, check=False)
    qemu_version = subprocess.run([str(qemu), "--version"], capture_output=True, text=True, check=False)
    return A64Tools(gcc, objdump, qemu, gcc_version.stdout.strip(),
                    (qemu_version.stdout.splitlines() or [""])[0])


@dataclass(frozen=True)
class A64Build:
    """A static AArch64 program: the run harness and one generated model, built for one core."""

    exe: Path
    name: str
    core: str
    opt: str
    flags: tuple[str, ...]
    n_inputs: int
    sizes: SectionSizes
    test_vector_bytes: int
    gcc_version: str


def build_a64(
    model_dir: Path, inputs: np.ndarray, out_dir: Path, core: str = "cortex-a72", name: str = "model",
    opt: str = "-O2",
) -> A64Build:
    """Compile the generated model in `model_dir` with the host harness for `core`, statically linked."""
    if core not in CORES:
        raise EdgekitError(None, f"no AArch64 cycle model for core {core!r}; known: {', '.join(CORES)}")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    header = model_dir / f"{name}.h"
    if not header.is_file():
        raise EdgekitError(header, f"missing: {model_dir} is not a generated model named {name!r}")
    tools = find_tools()
    vectors = _check_inputs(inputs, header, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "inputs.h").write_text(_inputs_header(vectors, name), encoding="utf-8")
    exe = out_dir / "a64_run"
    flags = (f"-mcpu={core}", opt)
    cmd = [
        str(tools.gcc), *flags, *CFLAGS, f"-I{out_dir}", f"-I{model_dir}",
        str(firmware_dir() / "harness" / "host_main.c"), *(str(p) for p in sorted(model_dir.glob("*.c"))),
        "-o", str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EdgekitError(model_dir, f"{GCC} failed: {_first_error(proc.stderr)}")
    sizes, test_bytes = read_sizes(exe)
    return A64Build(exe, name, core, opt, flags, vectors.shape[0], sizes, test_bytes, tools.gcc_version)


def run_a64(build: A64Build, target: Target, timeout_s: float = 120.0) -> A64Result:
    """Run `build` under qemu-aarch64 with the counting plugin; per-layer instructions and estimates.

    The QEMU CPU model is the board's core, so that the C library picks the routines it would pick on
    the board (glibc chooses memcpy by CPU). Raises EmulationError when the run fails or hangs."""
    if target.core != build.core:
        raise EdgekitError(build.exe, f"built for {build.core}, but {target.name} has a {target.core}")
    tools = find_tools()
    try:
        plugin = build_plugin()
    except PluginUnavailable as exc:
        raise EdgekitError(None, str(exc)) from None
    try:
        full = region_map(build.exe, build.name)
    except ValueError as exc:
        raise EdgekitError(build.exe, str(exc)) from None
    # No flash on a Pi: no data-read callbacks (they would slow QEMU down for nothing).
    regions = RegionMap(full.invoke_entry, full.ranges, full.layers, (0, 0))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-a64-") as tmp_name:
        tmp = Path(tmp_name)
        regions.write(tmp / "regions.txt")
        cmd = [
            str(tools.qemu), "-cpu", build.core,
            "-plugin", f"{plugin},regions={tmp / 'regions.txt'},out={tmp / 'counts.txt'}",
            str(build.exe),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise EmulationError(build.exe, "timeout", f"qemu-aarch64 did not finish within {timeout_s:g} s") from None
        counts = parse_counts(tmp / "counts.txt")
    wall = time.monotonic() - started
    harness = parse_harness_output(proc.stdout, build.n_inputs)
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in proc.stderr.splitlines()[-3:] if line.strip())
        raise EmulationError(build.exe, "exit", f"qemu-aarch64 exited with {proc.returncode}: {tail[:300]}")
    if not harness.ended or len(harness.outputs) != build.n_inputs:
        raise EmulationError(build.exe, "output", f"the harness reported {len(harness.outputs)} of "
                             f"{build.n_inputs} outputs")
    bad = [(i, rc) for i, rc in enumerate(harness.return_codes) if rc != 0]
    if bad:
        raise EmulationError(build.exe, "invoke", f"{build.name}_invoke returned {bad[0][1]} for input {bad[0][0]}")
    if not counts.complete or len(counts.segments) != build.n_inputs + 1:
        raise EmulationError(build.exe, "output", f"the counting plugin saw {max(len(counts.segments) - 1, 0)} "
                             f"inferences for {build.n_inputs} inputs")

    timing = cycles_a.timing_for(build.core)
    table = disassemble(build.exe, tools.objdump)
    inferences, unknown = _inferences(regions, counts, table, timing, target.clock_mhz)
    code_data = build.sizes.flash - build.test_vector_bytes
    return A64Result(
        outputs=harness.outputs,
        return_codes=tuple(harness.return_codes),
        counting="plugin",
        counting_note="",
        inferences=tuple(inferences),
        stack_high_water_bytes=0,  # not measured in user mode
        call_stack_bytes=0,
        sections=build.sizes,
        flash_bytes=code_data,  # the static program's code and constants, test vectors excluded
        ram_bytes=build.sizes.static_ram,
        target_name=target.name,
        core=target.core,
        qemu_machine=QEMU_MACHINE,
        clock_mhz=target.clock_mhz,
        flash_wait_states=0,
        cycle_model=f"{cycles_a.MODEL_VERSION}: {timing.source}",
        emulation_note=target.emulation_note,
        unknown_instructions=unknown,
        wall_time_s=round(wall, 3),
        qemu_version=tools.qemu_version,
        notes=(*timing.notes, "Single thread; L1/L2 cache misses and DRAM traffic are not modelled."),
        branch_minority_outcomes=_minority_outcomes(counts, table, 1),
        mispredict_penalty=timing.mispredict_penalty,
    )


def _minority_outcomes(counts: PluginCounts, table: dict[int, A64Insn], segment: int) -> int:
    """Sum over the conditional branches ending the model's blocks in one inference of how often
    each went its less frequent way."""
    executions: Counter[int] = Counter()
    taken: Counter[int] = Counter()
    for (block_id, region), (n, t) in counts.segments[segment].counts.items():
        if region != REGION_OUTSIDE:
            executions[block_id] += n
            taken[block_id] += t
    total = 0
    for block_id, n in executions.items():
        block = counts.blocks[block_id]
        last = table.get(block.pc + 4 * (len(block.insn_bytes) - 1))
        if cycles_a.is_conditional_branch(last):
            total += cycles_a.minority_outcomes(n, taken[block_id])
    return total


def _new_acc() -> dict[str, Any]:
    return {"instructions": 0, "classes": Counter(), "taken": 0, "cycles": 0.0}


def _inferences(
    regions: RegionMap, counts: PluginCounts, table: dict[int, A64Insn], timing: cycles_a.ACoreTiming,
    clock_mhz: float,
) -> tuple[list[InferenceStats], int]:
    decoded: dict[int, tuple[int, float, Counter[str], int]] = {}  # block -> (n, cycles, classes, unknown)
    for block_id, block in counts.blocks.items():
        insns: list[A64Insn | None] = []
        addr = block.pc
        for raw in block.insn_bytes:
            insn = table.get(addr)
            insns.append(insn if insn is not None and raw[:4] == insn.data else None)
            addr += len(raw)
        classes = Counter(i.cls if i is not None else "unknown" for i in insns)
        decoded[block_id] = (len(insns), cycles_a.block_cycles(insns, timing), classes, classes["unknown"])

    khz = clock_mhz * 1000.0
    penalty = cycles_a.branch_penalty(timing)
    inferences: list[InferenceStats] = []
    unknown_total = 0
    for k, segment in enumerate(counts.segments[1:]):
        per_region: dict[int, dict[str, Any]] = {}
        for (block_id, region), (executions, taken) in segment.counts.items():
            if region == REGION_OUTSIDE:
                continue
            n, cycles, classes, unknown = decoded[block_id]
            acc = per_region.setdefault(region, _new_acc())
            acc["instructions"] += executions * n
            for cls, count in classes.items():
                acc["classes"][cls] += executions * count
            acc["taken"] += taken
            acc["cycles"] += executions * cycles + taken * penalty
            if k == 0:
                unknown_total += executions * unknown
        layers = []
        for layer in regions.layers:
            acc = per_region.get(layer.region, _new_acc())
            layers.append(LayerStats(
                index=layer.index, op=layer.op, symbol=layer.symbol, instructions=acc["instructions"],
                classes=dict(sorted(acc["classes"].items())), taken_branches=acc["taken"], flash_data_reads=0,
                flash_line_misses=0, estimated_cycles=acc["cycles"], estimated_ms=acc["cycles"] / khz,
            ))
        glue = per_region.get(REGION_GLUE, _new_acc())
        total_classes: Counter[str] = Counter()
        for acc in per_region.values():
            total_classes.update(acc["classes"])
        total_cycles = sum(layer.estimated_cycles for layer in layers) + glue["cycles"]
        inferences.append(InferenceStats(
            index=k, instructions=sum(acc["instructions"] for acc in per_region.values()),
            glue_instructions=glue["instructions"], layers=tuple(layers), classes=dict(sorted(total_classes.items())),
            taken_branches=sum(acc["taken"] for acc in per_region.values()), estimated_cycles=total_cycles,
            estimated_ms=total_cycles / khz,
        ))
    return inferences, unknown_total
