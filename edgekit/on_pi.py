"""The model on a Raspberry Pi core, from emulation: generate the edgekit engine (NEON kernels by
default), cross-compile it for the board's Cortex-A core, run it under qemu-aarch64, prove its outputs
equal the host build's and the tflite-micro interpreter's, and estimate its single-thread time.

For `convert` (Pi boards get an `emulation` entry in report.json, or a note when the tools are
missing), `emulate --target rpi4-2gb`, and `scripts/bench_pi.py`. Consumers of the time estimate:
`pi_latency` (one board, returns PiLatency) or `pi_estimated_ms` (read back from a convert result).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.ir.graph import Graph
from edgekit.on_board import BoardRun, random_inputs, tflm_reference
from edgekit.targets import Target

DEFAULT_KERNELS = "neon"


def is_pi(target: Target) -> bool:
    """A Linux board whose core has an AArch64 cycle model (every Raspberry Pi edgekit describes)."""
    from edgekit.emulate.cycles_a import TIMINGS

    return not target.is_mcu and target.core in TIMINGS


@dataclass
class PiRun(BoardRun):
    kernels: str = DEFAULT_KERNELS

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data["kernels"] = self.kernels
        return data


@dataclass(frozen=True)
class PiLatency:
    """Single-thread time of one inference on one Pi board. Instructions are measured in emulation;
    cycles and ms are estimated (docs/cycle_model_aarch64.md)."""

    target: str
    core: str
    clock_mhz: float
    kernels: str
    instructions: int  # measured, first inference
    estimated_cycles: float
    estimated_ms: float
    # The same plus one refill for every measured minority outcome of a conditional branch: a bound
    # for the mispredictions the estimate leaves out (docs/cycle_model_aarch64.md).
    estimated_ms_upper: float
    outputs_equal: bool  # emulated outputs == host build (and the tflite-micro interpreter when installed)


def run_on_pi(
    model_bytes: bytes,
    graph: Graph,
    target: Target,
    work_dir: Path,
    inputs: np.ndarray | None = None,
    kernels: str = DEFAULT_KERNELS,
    opt: str = "-O2",
    timeout_s: float = 300.0,
) -> PiRun:
    """Generate, cross-compile for `target`'s core, emulate and compare. The host reference is built
    from the reference kernels (the specification), whatever `kernels` the Pi build uses.
    Raises EdgekitError (bad input, no toolchain) or EmulationError."""
    from edgekit.codegen.engine import generate_engine
    from edgekit.codegen.engine_host import write_folder
    from edgekit.emulate.aarch64 import build_a64, run_a64
    from edgekit.firmware import run_host

    if inputs is None:
        inputs = random_inputs(graph)
    engine_dir = write_folder(generate_engine(graph, "model", kernels), work_dir / "engine")
    build = build_a64(engine_dir, inputs, work_dir / "a64", core=target.core, opt=opt)
    result = run_a64(build, target, timeout_s=timeout_s)
    reference_dir = write_folder(generate_engine(graph, "model"), work_dir / "engine_reference")
    host = run_host(reference_dir, inputs, work_dir / "host")
    return PiRun(target.name, result, inputs, host, tflm_reference(model_bytes, graph, inputs), build, kernels)


def latency_of(run: PiRun) -> PiLatency:
    result = run.result
    return PiLatency(
        target=run.target,
        core=result.core,
        clock_mhz=result.clock_mhz,
        kernels=run.kernels,
        instructions=result.instructions,
        estimated_cycles=float(result.estimated_cycles),
        estimated_ms=float(result.estimated_ms),
        estimated_ms_upper=float(result.estimated_ms_upper),
        outputs_equal=run.first_difference() is None,
    )


def pi_latency(model_bytes: bytes, graph: Graph, target: Target, kernels: str = DEFAULT_KERNELS) -> PiLatency:
    """Estimated single-thread ms of one inference of the edgekit engine on `target` (a Pi board).

    Raises EdgekitError when the AArch64 tools are missing (`edgekit.emulate.aarch64.missing_tools()`
    tells beforehand) or the engine cannot run the model (`codegen.engine.unsupported_ops`)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edgekit-pi-") as tmp:
        return latency_of(run_on_pi(model_bytes, graph, target, Path(tmp), kernels=kernels))


def pi_estimated_ms(emulation: Sequence[dict[str, Any]] | None, board: str) -> float | None:
    """The estimated ms of `board` from a convert result's `emulation` list (report.json), or None."""
    for entry in emulation or ():
        if entry.get("target") == board and entry.get("qemu_machine") == "aarch64-user":
            return entry.get("estimated", {}).get("ms")
    return None


def pi_emulation(
    path: Path, model_bytes: bytes, graph: Graph | None, boards: Sequence[Target], result: Any,
    say: Callable[[str], None],
) -> None:
    """`convert`'s hook: an `emulation` entry per Pi board in `result` (a ConvertResult), or a note
    saying why there is none. A missing toolchain is a note, not a failure; different outputs are."""
    import tempfile

    from edgekit.codegen.engine import unsupported_ops
    from edgekit.emulate import EmulationError
    from edgekit.emulate.aarch64 import missing_tools

    pis = [board for board in boards if is_pi(board)]
    if graph is None or not pis:
        return
    missing = missing_tools()
    if missing:
        result.notes.append(
            f"No Raspberry Pi timing: {', '.join(missing)} not installed (scripts/setup.sh installs them)."
        )
        return
    problems = unsupported_ops(graph)
    if problems:
        result.notes.append(f"No Raspberry Pi timing: the edgekit engine cannot run {problems[0]}.")
        return
    if result.emulation is None:
        result.emulation = []
    for board in pis:
        say(f"cross-compiling the engine for {board.name} ({board.core}) and running it under qemu-aarch64")
        with tempfile.TemporaryDirectory(prefix="edgekit-pi-") as tmp:
            run = run_on_pi(model_bytes, graph, board, Path(tmp))
        difference = run.first_difference()
        if difference is not None:
            raise EmulationError(path, "output", f"on {board.name} the AArch64 build's outputs differ: {difference}")
        figures = run.as_dict()
        figures["measured"].pop("wall_time_s", None)  # the emulator's speed today, not the model's
        result.emulation.append(figures)
