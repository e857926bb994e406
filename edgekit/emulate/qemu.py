"""Run a firmware in QEMU: outputs, exact instruction counts per layer, estimated cycles and time.

One QEMU process per run, with a hard timeout. Counting uses edgekit's TCG plugin; when it cannot be
built or loaded, `-icount` with SysTick gives the instructions of each whole inference instead
(no per-layer split, no instruction classes, so no cycle estimate). The result says which was used.
"""

from __future__ import annotations

import bisect
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.emulate import cycles as cycle_model
from edgekit.emulate.harness import HarnessOutput, parse_harness_output
from edgekit.emulate.isa import Insn, disassemble, summary_classes
from edgekit.emulate.plugin import (
    REGION_GLUE,
    REGION_OUTSIDE,
    PluginCounts,
    PluginUnavailable,
    RegionMap,
    build_plugin,
    parse_counts,
    read_symbols,
    region_map,
)
from edgekit.errors import EdgekitError, EmulationFailure
from edgekit.firmware import INSTALL_HINT, FirmwareBuild, SectionSizes, find_toolchain
from edgekit.targets import Target

QEMU = "qemu-system-arm"
COUNTING_MODES = ("auto", "plugin", "icount")

# Exit codes of firmware/startup (semihost.h).
EXIT_OK = 0
EXIT_HARNESS = 3
EXIT_FAULT = 70
EXIT_EXCEPTION = 71

# -icount: each instruction advances virtual time by 2**shift ns; SysTick runs on the machine's
# system clock, so ticks * 1e9 / (hz * 2**shift) is the instruction count.
ICOUNT_SHIFT = 7
SYSTICK_HZ = {
    "microbit": 16_000_000,
    "mps2-an385": 25_000_000,
    "mps2-an386": 25_000_000,
    "mps2-an500": 25_000_000,
    "mps2-an505": 20_000_000,
    "mps3-an547": 32_000_000,
}

# Most of a run's console text is a few lines per input; more than this means a runaway print loop.
_MAX_CONSOLE_BYTES = 64 << 20

_CFSR_BITS = {
    0: "instruction access violation (IACCVIOL)",
    1: "data access violation (DACCVIOL)",
    4: "MPU fault on exception return stacking (MUNSTKERR)",
    5: "MPU fault on exception entry stacking (MSTKERR)",
    8: "instruction bus error (IBUSERR)",
    9: "precise data bus error (PRECISERR)",
    10: "imprecise data bus error (IMPRECISERR)",
    11: "bus fault on exception return (UNSTKERR)",
    12: "bus fault on exception entry stacking (STKERR)",
    16: "undefined instruction (UNDEFINSTR)",
    17: "invalid state, e.g. a jump to an ARM-mode address (INVSTATE)",
    18: "invalid PC on exception return (INVPC)",
    19: "coprocessor disabled or absent, e.g. FPU/Helium off (NOCP)",
    20: "stack overflow past MSPLIM (STKOF)",
    24: "unaligned access (UNALIGNED)",
    25: "divide by zero (DIVBYZERO)",
}


class EmulationError(EmulationFailure):
    """The firmware ran but did not finish well: a fault, a hang, a lock-up, a failed model call.

    Not an EdgekitError: the input was fine, the result is a failed check (the CLI exits 1).
    `kind` is one of: fault, timeout, lockup, exit, invoke, output.
    """

    def __init__(self, path: str | Path, kind: str, problem: str) -> None:
        self.path = str(path)
        self.kind = kind
        self.problem = problem.strip().replace("\n", " ")
        super().__init__(self.message())

    def message(self) -> str:
        return f"edgekit: {self.path}: {self.problem}"


@dataclass(frozen=True)
class LayerStats:
    """One layer of one inference. Instructions are measured; cycles and ms are estimated."""

    index: int  # NNN of NAME_layer_NNN_op
    op: str
    symbol: str
    instructions: int  # measured
    classes: dict[str, int]  # measured, fine classes (edgekit.emulate.isa.CLASSES)
    taken_branches: int  # measured
    flash_data_reads: int  # measured
    flash_line_misses: int  # measured against the modelled flash line buffer
    estimated_cycles: float
    estimated_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "op": self.op,
            "symbol": self.symbol,
            "measured": {
                "instructions": self.instructions,
                "classes": summary_classes(self.classes),
                "taken_branches": self.taken_branches,
                "flash_data_reads": self.flash_data_reads,
                "flash_line_misses": self.flash_line_misses,
            },
            "estimated": {"cycles": round(self.estimated_cycles), "ms": self.estimated_ms},
        }


@dataclass(frozen=True)
class InferenceStats:
    """One NAME_invoke call. `layers` is empty when counting fell back to -icount."""

    index: int
    instructions: int  # measured: the whole call, layers plus NAME_invoke's own code
    glue_instructions: int  # measured: NAME_invoke's own code between the layers
    layers: tuple[LayerStats, ...]
    classes: dict[str, int]  # measured
    taken_branches: int  # measured
    estimated_cycles: float | None
    estimated_ms: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "measured": {
                "instructions": self.instructions,
                "glue_instructions": self.glue_instructions,
                "classes": summary_classes(self.classes),
                "taken_branches": self.taken_branches,
            },
            "estimated": {
                "cycles": None if self.estimated_cycles is None else round(self.estimated_cycles),
                "ms": self.estimated_ms,
            },
            "layers": [layer.as_dict() for layer in self.layers],
        }


@dataclass(frozen=True)
class EmulationResult:
    """What one emulated run measured (and what the cycle model estimated from it)."""

    outputs: np.ndarray  # int8, one row per input vector
    return_codes: tuple[int, ...]
    counting: str  # "plugin" (exact, per layer) or "icount" (per inference only)
    counting_note: str  # why the fallback was used, if it was
    inferences: tuple[InferenceStats, ...]
    stack_high_water_bytes: int  # measured: deepest stack use of the whole run
    call_stack_bytes: int  # measured: deepest stack use of one NAME_invoke call
    sections: SectionSizes  # from the linked ELF
    flash_bytes: int  # .text + .rodata + .data, embedded test vectors excluded
    ram_bytes: int  # .data + .bss + stack high-water mark
    target_name: str
    core: str
    qemu_machine: str
    clock_mhz: float
    flash_wait_states: int
    cycle_model: str  # model version and the source of its numbers
    emulation_note: str  # set when the board has no exact QEMU twin
    unknown_instructions: int  # executed instructions not found in the disassembly (priced as ALU)
    wall_time_s: float
    qemu_version: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def instructions(self) -> int:
        """Measured instructions of the first inference."""
        return self.inferences[0].instructions

    @property
    def estimated_cycles(self) -> float | None:
        return self.inferences[0].estimated_cycles

    @property
    def estimated_ms(self) -> float | None:
        return self.inferences[0].estimated_ms

    @property
    def layers(self) -> tuple[LayerStats, ...]:
        return self.inferences[0].layers

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target_name,
            "core": self.core,
            "qemu_machine": self.qemu_machine,
            "clock_mhz": self.clock_mhz,
            "flash_wait_states": self.flash_wait_states,
            "counting": self.counting,
            "counting_note": self.counting_note,
            "emulation_note": self.emulation_note,
            "cycle_model": self.cycle_model,
            "measured": {
                "instructions": self.instructions,
                "stack_high_water_bytes": self.stack_high_water_bytes,
                "call_stack_bytes": self.call_stack_bytes,
                "sections": self.sections.as_dict(),
                "flash_bytes": self.flash_bytes,
                "ram_bytes": self.ram_bytes,
                "unknown_instructions": self.unknown_instructions,
                "wall_time_s": self.wall_time_s,
            },
            "estimated": {
                "cycles": None if self.estimated_cycles is None else round(self.estimated_cycles),
                "ms": self.estimated_ms,
            },
            "inferences": [inference.as_dict() for inference in self.inferences],
            "notes": list(self.notes),
        }


def find_qemu() -> Path:
    found = shutil.which(QEMU)
    if not found:
        raise EdgekitError(QEMU, f"not found on PATH; install qemu-system-arm (scripts/setup.sh) — {INSTALL_HINT}")
    return Path(found)


def run_firmware(
    build: FirmwareBuild, target: Target, timeout_s: float = 60.0, counting: str = "auto"
) -> EmulationResult:
    """Run `build` in QEMU on `target`'s machine, parse outputs, count instructions, estimate time.

    Raises EmulationError for a fault, hang (after `timeout_s`), lock-up or failed model call, and
    EdgekitError when a tool is missing or the build does not belong to this board's machine.
    """
    if counting not in COUNTING_MODES:
        raise EdgekitError(None, f"unknown counting mode {counting!r}; use one of: {', '.join(COUNTING_MODES)}")
    if build.qemu_machine != target.qemu_machine:
        raise EdgekitError(
            build.elf, f"built for QEMU machine {build.qemu_machine}, but {target.name} runs on {target.qemu_machine}"
        )
    qemu = find_qemu()
    note = ""
    plugin: Path | None = None
    if counting in ("auto", "plugin"):
        try:
            plugin = build_plugin()
        except PluginUnavailable as exc:
            if counting == "plugin":
                raise EdgekitError(None, str(exc)) from None
            note = f"{exc}; counted with -icount instead"
    try:
        regions = region_map(build.elf, build.name)
    except ValueError as exc:
        raise EdgekitError(build.elf, str(exc)) from None

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgekit-qemu-") as tmp_name:
        tmp = Path(tmp_name)
        run = None
        if plugin is not None:
            run = _run_qemu(qemu, build, target, tmp, timeout_s, plugin, regions)
            if run.plugin_failed:
                if counting == "plugin":
                    raise EdgekitError(plugin, f"QEMU could not load the counting plugin: {run.plugin_failed}")
                note = f"QEMU could not load the counting plugin ({run.plugin_failed}); counted with -icount instead"
                run = None
        if run is None:
            run = _run_qemu(qemu, build, target, tmp, timeout_s, None, regions)
        wall = time.monotonic() - started
        harness = parse_harness_output(run.console, build.n_inputs)
        counts = parse_counts(tmp / "counts.txt") if run.mode == "plugin" else None
        _check_run(build, regions, run, harness, counts, timeout_s)

    if run.mode == "plugin":
        assert counts is not None
        inferences, unknown = _plugin_inferences(build, target, regions, counts)
    else:
        inferences, unknown = _icount_inferences(build, target, harness), 0
    timing = cycle_model.timing_for(target.core)
    high_water = harness.stack_high_water or 0
    notes = list(timing.notes)
    if build.qemu_machine == "microbit" and target.core == "cortex-m0plus":
        notes.append("Cortex-M0+ board emulated on QEMU's microbit (a Cortex-M0): same ARMv6-M instructions.")
    return EmulationResult(
        outputs=harness.outputs,
        return_codes=tuple(harness.return_codes),
        counting=run.mode,
        counting_note=note,
        inferences=tuple(inferences),
        stack_high_water_bytes=high_water,
        call_stack_bytes=max(harness.call_stack_bytes, default=0),
        sections=build.sizes,
        flash_bytes=build.flash_bytes,
        ram_bytes=build.ram_bytes(high_water),
        target_name=target.name,
        core=target.core,
        qemu_machine=target.qemu_machine,
        clock_mhz=target.clock_mhz,
        flash_wait_states=target.flash_wait_states,
        cycle_model=f"{cycle_model.MODEL_VERSION}: {timing.source}",
        emulation_note=target.emulation_note,
        unknown_instructions=unknown,
        wall_time_s=round(wall, 3),
        qemu_version=run.version,
        notes=tuple(notes),
    )


def first_difference(expected: np.ndarray, actual: np.ndarray) -> tuple[int, int, int, int] | None:
    """(input row, byte, expected, actual) of the first differing output byte, or None if equal."""
    exp = np.asarray(expected, dtype=np.int8).reshape(len(expected), -1)
    act = np.asarray(actual, dtype=np.int8).reshape(len(actual), -1)
    if exp.shape != act.shape:
        rows = min(len(exp), len(act))
        return (rows, 0, 0, 0) if rows < max(len(exp), len(act)) else (0, min(exp.shape[1], act.shape[1]), 0, 0)
    diff = np.argwhere(exp != act)
    if len(diff) == 0:
        return None
    row, col = (int(v) for v in diff[0])
    return row, col, int(exp[row, col]), int(act[row, col])


# ---- running QEMU ----------------------------------------------------------------------------


@dataclass
class _Run:
    mode: str
    returncode: int | None  # None: killed after the timeout
    console: str
    timed_out: bool
    plugin_failed: str
    version: str


def _qemu_version(qemu: Path) -> str:
    proc = subprocess.run([str(qemu), "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def _run_qemu(
    qemu: Path,
    build: FirmwareBuild,
    target: Target,
    tmp: Path,
    timeout_s: float,
    plugin: Path | None,
    regions: RegionMap,
) -> _Run:
    semihosting = "enable=on,target=native,arg=edgekit"
    cmd = [str(qemu), "-M", target.qemu_machine, "-nographic", "-no-reboot"]
    if plugin is not None:
        regions_file = tmp / "regions.txt"
        regions.write(regions_file)
        # QEMU splits -plugin arguments on commas: the temp folder's path has none.
        cmd += ["-plugin", f"{plugin},regions={regions_file},out={tmp / 'counts.txt'}"]
        mode = "plugin"
    else:
        cmd += ["-icount", f"shift={ICOUNT_SHIFT},align=off,sleep=off"]
        semihosting += ",arg=ticks"
        mode = "icount"
    cmd += ["-semihosting-config", semihosting, "-kernel", str(build.elf)]

    console_path = tmp / f"console-{mode}.txt"
    with open(console_path, "wb") as console:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True
        )
        timed_out = False
        try:
            returncode: int | None = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            # SIGTERM first: QEMU then exits normally and the plugin writes where the code was.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            returncode = None
    with open(console_path, "rb") as f:
        console_text = f.read(_MAX_CONSOLE_BYTES).decode("utf-8", errors="replace")
    plugin_failed = ""
    if plugin is not None and not timed_out and returncode not in (0, None) and "EDGEKIT BEGIN" not in console_text:
        lowered = console_text.lower()
        if "plugin" in lowered:
            plugin_failed = next(
                (line.strip() for line in console_text.splitlines() if "plugin" in line.lower()), "error"
            )
    return _Run(mode, returncode, console_text, timed_out, plugin_failed, _qemu_version(qemu))


def _check_run(
    build: FirmwareBuild,
    regions: RegionMap,
    run: _Run,
    harness: HarnessOutput,
    counts: PluginCounts | None,
    timeout_s: float,
) -> None:
    elf = build.elf
    funcs, _ = read_symbols(elf)
    locate = _Locator(funcs)
    if run.timed_out:
        where = ""
        if counts is not None and counts.last_pc is not None:
            names = regions.region_names(build.name)
            region = names.get(counts.last_region or 0, "?")
            where = f"; it was running {locate(counts.last_pc)} (region {region})"
        done = len(harness.outputs)
        raise EmulationError(
            elf,
            "timeout",
            f"firmware did not finish within {timeout_s:g} s and was stopped: it hangs or loops forever "
            f"({done} of {build.n_inputs} inputs done){where}",
        )
    if harness.fault is not None or run.returncode in (EXIT_FAULT, EXIT_EXCEPTION):
        raise EmulationError(
            elf, "fault", _describe_fault(harness.fault or "", locate, len(harness.outputs), build.n_inputs)
        )
    if "Lockup" in run.console or (run.returncode is not None and run.returncode < 0) or run.returncode == 134:
        line = next((ln.strip() for ln in run.console.splitlines() if "Lockup" in ln or "fatal" in ln), "")
        raise EmulationError(elf, "lockup", _describe_lockup(line, run.console, build, locate))
    if run.returncode != EXIT_OK:
        tail = " | ".join(ln.strip() for ln in run.console.splitlines()[-3:] if ln.strip())
        raise EmulationError(elf, "exit", f"firmware stopped with exit code {run.returncode}: {tail[:300]}")
    if not harness.ended or len(harness.outputs) != build.n_inputs:
        raise EmulationError(
            elf,
            "output",
            f"the run harness reported {len(harness.outputs)} of {build.n_inputs} outputs and no end marker",
        )
    bad = [(i, rc) for i, rc in enumerate(harness.return_codes) if rc != 0]
    if bad:
        i, rc = bad[0]
        raise EmulationError(elf, "invoke", f"{build.name}_invoke returned {rc} for input {i} (0 means success)")
    if counts is not None and len(counts.segments) != build.n_inputs + 1:
        raise EmulationError(
            elf, "output", f"the counting plugin saw {len(counts.segments) - 1} inferences for {build.n_inputs} inputs"
        )


class _Locator:
    """Address -> "function+0xoff" from the ELF's function symbols."""

    def __init__(self, funcs: dict[str, Any]) -> None:
        self.syms = sorted(funcs.values(), key=lambda s: s.addr)
        self.addrs = [s.addr for s in self.syms]

    def __call__(self, addr: int) -> str:
        addr &= ~1
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i >= 0 and addr < self.syms[i].addr + self.syms[i].size:
            sym = self.syms[i]
            return f"{sym.name}+0x{addr - sym.addr:x} (0x{addr:08x})"
        return f"0x{addr:08x}"


def _describe_lockup(line: str, console: str, build: FirmwareBuild, locate: _Locator) -> str:
    """QEMU stops on a lock-up and dumps the registers; the stack pointer tells an overflow apart."""
    registers = dict(re.findall(r"\b(R1[35])=([0-9a-f]{8})", console))
    _, plain = read_symbols(build.elf)
    parts = ["the emulated core locked up (a fault while handling a fault)"]
    sp = int(registers["R13"], 16) if "R13" in registers else None
    limit = plain.get("__stack_limit")
    if sp is not None and limit is not None and sp < limit + 64:
        parts.append(
            f"stack overflow: the stack pointer 0x{sp:08x} went below the bottom of the stack 0x{limit:08x} "
            "(the stack has all RAM above .data and .bss)"
        )
        return "; ".join(parts)
    if line:
        parts.append(line)
    if "R15" in registers and int(registers["R15"], 16) not in (0, 0xFFFFFFFE):
        parts.append(f"pc {locate(int(registers['R15'], 16))}")
    return "; ".join(parts)


def _describe_fault(line: str, locate: _Locator, done: int, total: int) -> str:
    fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
    if "pc" not in fields:
        return f"firmware stopped on an exception: {line or 'no report'} ({done} of {total} inputs done)"
    pc = int(fields["pc"], 16)
    cfsr = int(fields.get("cfsr", "0"), 16)
    causes = [text for bit, text in _CFSR_BITS.items() if cfsr >> bit & 1]
    if cfsr >> 20 & 1:
        # On a stack-limit fault the core does not write the exception frame: pc and lr are stale.
        return f"firmware faulted (HardFault): {', '.join(causes)}; {done} of {total} inputs done"
    parts = [f"firmware faulted (HardFault) at {locate(pc)}"]
    if causes:
        parts.append("cause: " + ", ".join(causes))
    if cfsr >> 15 & 1 and "bfar" in fields:
        parts.append(f"bad data address {fields['bfar']}")
    elif cfsr >> 7 & 1 and "mmfar" in fields:
        parts.append(f"bad data address {fields['mmfar']}")
    hfsr = int(fields.get("hfsr", "0"), 16)
    if hfsr >> 1 & 1:
        parts.append("vector table read failed")
    if "lr" in fields:
        parts.append(f"called from {locate(int(fields['lr'], 16))}")
    parts.append(f"{done} of {total} inputs done")
    return "; ".join(parts)


# ---- turning counts into results ---------------------------------------------------------------


def _plugin_inferences(
    build: FirmwareBuild, target: Target, regions: RegionMap, counts: PluginCounts
) -> tuple[list[InferenceStats], int]:
    timing = cycle_model.timing_for(target.core)
    table = disassemble(build.elf, find_toolchain().objdump, target.core)
    decoded: dict[int, tuple[list[Insn | None], float, Insn | None, Counter[str]]] = {}
    unknown_blocks: dict[int, int] = {}
    for block_id, block in counts.blocks.items():
        insns: list[Insn | None] = []
        addr = block.pc
        unknown = 0
        for raw in block.insn_bytes:
            insn = table.get(addr)
            # A block's last instruction may be reported with the next halfword appended (QEMU
            # peeks at it at a page end), so the disassembly's bytes need only be a prefix.
            if insn is None or not raw.startswith(insn.data):
                insn = None
                unknown += 1
            insns.append(insn)
            addr += len(raw)
        classes = Counter(insn.cls if insn is not None else "unknown" for insn in insns)
        decoded[block_id] = (insns, cycle_model.block_cycles(insns, timing), insns[-1] if insns else None, classes)
        unknown_blocks[block_id] = unknown

    khz = target.clock_mhz * 1000.0
    inferences: list[InferenceStats] = []
    unknown_total = 0
    for k, segment in enumerate(counts.segments[1:]):
        per_region: dict[int, dict[str, Any]] = {}
        for (block_id, region), (executions, taken) in segment.counts.items():
            if region == REGION_OUTSIDE:
                continue
            insns, base, last, classes = decoded[block_id]
            taken = cycle_model.taken_branches(last, taken)
            acc = per_region.setdefault(region, {"instructions": 0, "classes": Counter(), "taken": 0, "cycles": 0.0})
            acc["instructions"] += executions * len(insns)
            for cls, n in classes.items():
                acc["classes"][cls] += executions * n
            acc["taken"] += taken
            acc["cycles"] += executions * base + taken * cycle_model.branch_penalty(last, timing)
            if k == 0:
                unknown_total += executions * unknown_blocks[block_id]
        layers = []
        for layer in regions.layers:
            acc = per_region.get(layer.region, {"instructions": 0, "classes": Counter(), "taken": 0, "cycles": 0.0})
            reads, misses = segment.flash.get(layer.region, (0, 0))
            est = acc["cycles"] + cycle_model.flash_stall_cycles(misses, target.flash_wait_states)
            layers.append(
                LayerStats(
                    index=layer.index,
                    op=layer.op,
                    symbol=layer.symbol,
                    instructions=acc["instructions"],
                    classes=dict(sorted(acc["classes"].items())),
                    taken_branches=acc["taken"],
                    flash_data_reads=reads,
                    flash_line_misses=misses,
                    estimated_cycles=est,
                    estimated_ms=est / khz,
                )
            )
        glue = per_region.get(REGION_GLUE, {"instructions": 0, "classes": Counter(), "taken": 0, "cycles": 0.0})
        _glue_reads, glue_misses = segment.flash.get(REGION_GLUE, (0, 0))
        total_classes: Counter[str] = Counter()
        for acc in per_region.values():
            total_classes.update(acc["classes"])
        total_cycles = sum(layer.estimated_cycles for layer in layers) + glue["cycles"]
        total_cycles += cycle_model.flash_stall_cycles(glue_misses, target.flash_wait_states)
        inferences.append(
            InferenceStats(
                index=k,
                instructions=sum(acc["instructions"] for acc in per_region.values()),
                glue_instructions=glue["instructions"],
                layers=tuple(layers),
                classes=dict(sorted(total_classes.items())),
                taken_branches=sum(acc["taken"] for acc in per_region.values()),
                estimated_cycles=total_cycles,
                estimated_ms=total_cycles / khz,
            )
        )
    return inferences, unknown_total


def _icount_inferences(build: FirmwareBuild, target: Target, harness: HarnessOutput) -> list[InferenceStats]:
    hz = SYSTICK_HZ.get(target.qemu_machine, 25_000_000)
    per_tick_ns = 1e9 / hz
    inferences = []
    for i, ticks in enumerate(harness.ticks):
        instructions = round(ticks * per_tick_ns / (1 << ICOUNT_SHIFT))
        inferences.append(
            InferenceStats(
                index=i,
                instructions=instructions,
                glue_instructions=0,
                layers=(),
                classes={},
                taken_branches=0,
                estimated_cycles=None,
                estimated_ms=None,
            )
        )
    return inferences
