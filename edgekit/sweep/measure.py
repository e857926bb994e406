"""The one seam through which the sweep gets figures that need a board run: latency and engine RAM.

Everything else the sweep reports is computed on the host. For a microcontroller board,
`measure_candidate` generates the edgekit engine for the candidate, builds it into firmware with
arm-none-eabi-gcc, runs one inference in QEMU with instructions counted per layer, and proves the
outputs equal to the host build and the tflite-micro interpreter (`edgekit.on_board.run_on_board`).
Instructions are measured; cycles and milliseconds come from the per-core cycle model at the board's
clock, so estimated. Engine RAM is the planned arena plus the stack high-water mark of the run; engine
flash is what the linked ELF puts in flash, the embedded test input excluded.

When there is nothing to measure it says so instead of inventing a number: a Linux board gives None
(no emulation path yet), and so does a run that ran out of time (tried again on the next sweep). A
model the engine cannot run, a machine without the cross toolchain or QEMU, or a run whose outputs
disagree gives figures without latency whose `method` says why; every report shows those as
"no latency", never as zero.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.ir.graph import Graph
    from edgekit.targets import Target

NOT_EMULATED = "not emulated yet"
TIMING_INPUTS = 1  # one inference gives the instruction count; each further one only costs time
OPT = "-O2"
TIMEOUT_S = 300.0


@dataclass(frozen=True)
class LatencyFigures:
    """What running one candidate on one board (in emulation) gave.

    Instructions are counted, so measured; cycles and milliseconds come from a per-core cycle model
    and the board clock, so estimated (DESIGN.md, "Measurements and their honesty"). A field the
    run could not produce stays None.
    """

    estimated_ms: float | None
    estimated_cycles: int | None = None
    instructions: int | None = None
    engine: str = "edgekit"  # which runtime was run
    engine_ram_bytes: int | None = None  # that engine's RAM for the model: planned arena plus stack
    engine_flash_bytes: int | None = None  # weights plus code, from the linked ELF
    method: str = ""  # how the figures were obtained, shown next to them

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "estimated" if self.estimated_ms is not None else "no latency",
            "engine": self.engine,
            "estimated_ms": None if self.estimated_ms is None else round(self.estimated_ms, 6),
            "estimated_cycles": self.estimated_cycles,
            "instructions": self.instructions,
            "engine_ram_bytes": self.engine_ram_bytes,
            "engine_flash_bytes": self.engine_flash_bytes,
            "method": self.method,
        }


def not_measured_dict() -> dict[str, Any]:
    """What a report holds for a candidate and board that `measure_candidate` had nothing for."""
    return {
        "status": NOT_EMULATED,
        "engine": None,
        "estimated_ms": None,
        "estimated_cycles": None,
        "instructions": None,
        "engine_ram_bytes": None,
        "engine_flash_bytes": None,
        "method": None,
    }


def measure_candidate(tflite_bytes: bytes, graph: Graph, target: Target) -> LatencyFigures | None:
    """Latency and edgekit-engine footprint of one int8 model on one board, or None when not available.

    Called once per candidate and board, after the host-side figures, with the candidate's int8
    .tflite, its Graph IR and the board. It may be slow (a firmware build and an emulator run): the
    sweep caches what it returns, keyed by the .tflite, the board's facts, the edgekit version, the
    engine and firmware sources and the tools (`edgekit.sweep.cache.measurement_key`), and calls it
    again for a None. It should raise EdgekitError for a problem the user can fix.
    """
    if not target.is_mcu:
        return None  # Linux boards: no emulated run of the engine there yet
    from edgekit.codegen.engine import build_engine, target_kernel_family, unsupported_ops

    problems = unsupported_ops(graph)
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        return _no_latency(f"the edgekit engine has no kernel for {'; '.join(problems[:3])}{more}")
    missing = missing_tools()
    if missing:
        return _no_latency(missing)

    from edgekit.emulate import EmulationError
    from edgekit.errors import EdgekitError
    from edgekit.on_board import random_inputs, run_on_board

    arena = build_engine(graph, family=target_kernel_family(target)).arena_bytes
    with tempfile.TemporaryDirectory(prefix="edgekit-sweep-board-") as tmp:
        try:
            run = run_on_board(
                tflite_bytes,
                graph,
                target,
                Path(tmp),
                inputs=random_inputs(graph, TIMING_INPUTS),
                opt=OPT,
                timeout_s=TIMEOUT_S,
            )
        except EmulationError as exc:
            if exc.kind == "timeout":
                return None  # maybe only a busy machine: not cached, tried again next time
            return _no_latency(f"the emulated run failed: {exc.problem}", emulated=True)
        except EdgekitError as exc:
            return _no_latency(f"the firmware could not be built or run: {exc.problem}", emulated=True)
    difference = run.first_difference()
    if difference is not None:
        return _no_latency(f"emulated outputs differ ({difference}), so no timing is reported", emulated=True)

    result, build = run.result, run.build
    compared = (
        "the host build and the tflite-micro interpreter"
        if run.tflm_outputs is not None
        else "the host build (tflite-micro is not installed)"
    )
    if result.estimated_ms is not None:
        timing = (
            f"cycles and ms estimated with the {target.core} cycle model at {target.clock_mhz:g} MHz, "
            f"{target.flash_wait_states} flash wait state(s)"
        )
    else:
        timing = f"no cycle estimate: {result.counting_note or 'counted per inference only'}"
    method = (
        f"edgekit engine, arm-none-eabi-gcc {build.gcc_version} {build.opt}, run in QEMU {target.qemu_machine}: "
        f"instructions of one inference counted ({result.counting}), {timing}; "
        f"outputs equal to {compared}"
    )
    cycles = result.estimated_cycles
    return LatencyFigures(
        # Rounded as to_dict() stores it, so a cached rerun gives exactly the figures of the first run.
        estimated_ms=None if result.estimated_ms is None else round(result.estimated_ms, 6),
        estimated_cycles=None if cycles is None else round(cycles),
        instructions=result.instructions,
        engine="edgekit",
        engine_ram_bytes=arena + result.stack_high_water_bytes,
        engine_flash_bytes=build.flash_bytes,
        method=method,
    )


def _no_latency(why: str, emulated: bool = False) -> LatencyFigures:
    """Figures without latency, saying why: kept in the reports and cached like a measurement."""
    return LatencyFigures(
        estimated_ms=None, engine="edgekit", method=f"{'no latency' if emulated else 'not emulated'}: {why}"
    )


def missing_tools() -> str | None:
    """Why this machine cannot build and emulate firmware, or None when it can."""
    from edgekit.emulate.qemu import QEMU
    from edgekit.errors import EdgekitError
    from edgekit.firmware import INSTALL_HINT, find_toolchain

    try:
        find_toolchain()
    except EdgekitError as exc:
        return f"{exc.path}: {exc.problem}" if exc.path else exc.problem
    if shutil.which(QEMU) is None:
        return f"{QEMU} not found on PATH; install qemu-system-arm ({INSTALL_HINT})"
    if shutil.which("cc") is None:
        return "host C compiler cc not found on PATH (the reference build); install gcc"
    return None


@functools.cache
def tools_identity() -> dict[str, str | None]:
    """Versions of the tools the figures depend on (None: not installed), for the cache key."""
    from edgekit.emulate.qemu import QEMU
    from edgekit.errors import EdgekitError
    from edgekit.firmware import find_toolchain

    try:
        gcc: str | None = find_toolchain().version
    except EdgekitError:
        gcc = None
    qemu_path = shutil.which(QEMU)
    qemu = None
    if qemu_path:
        proc = subprocess.run([qemu_path, "--version"], capture_output=True, text=True, check=False)
        qemu = (proc.stdout.splitlines() or [""])[0]
    return {"arm_gcc": gcc, "qemu": qemu, "host_cc": shutil.which("cc") and "present"}
