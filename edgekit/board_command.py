"""`edgekit emulate`: the model on each requested board, in QEMU, written next to its convert output."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgekit.errors import EdgekitError
from edgekit.ir.graph import Graph
from edgekit.on_board import BoardRun, run_on_board
from edgekit.outdir import StagedOutput, staged_output
from edgekit.targets import Target, get_target

# What of a board run is kept: the firmware images and the engine sources it was built from.
KEPT = ("firmware/firmware.elf", "firmware/firmware.bin", "firmware/firmware.hex", "firmware/firmware.map")
# A Raspberry Pi run keeps its static AArch64 program (it runs on the board as it is).
KEPT_PI = ("a64/a64_run",)


def _prepare(
    model: Path,
    source: Path,
    boards: Sequence[str],
    out: Path | None,
    targets_dirs: Sequence[str | Path],
    allow_pi: bool = False,
) -> tuple[bytes, Graph, list[Target], Path]:
    """The model's bytes and graph, the boards (microcontrollers, and Raspberry Pis when `allow_pi`),
    and where their folders go."""
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.on_pi import is_pi

    data = model.read_bytes()
    graph = parse_tflite(data, path=model)
    targets = [get_target(name, targets_dirs) for name in dict.fromkeys(boards)]
    for target in targets:
        if not target.is_mcu and not (allow_pi and is_pi(target)):
            raise EdgekitError(
                target.source, f"board {target.name!r} is a Linux board; firmware is built for microcontrollers"
            )
    default = source / "boards" if source.is_dir() else Path("build") / model.stem / "boards"
    return data, graph, targets, out if out is not None else default


def _keep(work: Path, staged: StagedOutput) -> None:
    """Copy the firmware images and the engine sources of a board run into its output folder."""
    for kept in (*KEPT, *KEPT_PI):
        if (work / kept).is_file():
            staged.write(Path(kept).name, (work / kept).read_bytes())
    for source_file in sorted((work / "engine").iterdir()):
        staged.write(f"engine/{source_file.name}", source_file.read_bytes())


def emulate_boards(
    model: Path,
    source: Path,
    boards: Sequence[str],
    opt: str,
    out: Path | None,
    timeout_s: float,
    targets_dirs: Sequence[str | Path],
) -> list[BoardRun]:
    from edgekit.on_pi import run_on_pi

    data, graph, targets, base = _prepare(model, source, boards, out, targets_dirs, allow_pi=True)
    runs = []
    for target in targets:
        with tempfile.TemporaryDirectory(prefix="edgekit-board-") as tmp:
            work = Path(tmp)
            if target.is_mcu:
                run = run_on_board(data, graph, target, work, opt=opt, timeout_s=timeout_s)
            else:
                run = run_on_pi(data, graph, target, work, opt=opt, timeout_s=timeout_s)
            with staged_output(base / target.name) as staged:
                _keep(work, staged)
                staged.write("emulation.json", (json.dumps(run.as_dict(), indent=2) + "\n").encode())
            # The build objects were in the temporary folder; point the result at the kept files.
            run.build = None
        runs.append(run)
    return runs


def build_boards(
    model: Path, source: Path, boards: Sequence[str], opt: str, out: Path | None, targets_dirs: Sequence[str | Path]
) -> list[Path]:
    """`edgekit firmware`: the engine built for each board, not run. Returns the folders written."""
    from edgekit.codegen.engine import generate_engine, target_kernel_family
    from edgekit.codegen.engine_host import write_folder
    from edgekit.firmware import build_firmware
    from edgekit.on_board import random_inputs

    _, graph, targets, base = _prepare(model, source, boards, out, targets_dirs)
    written = []
    for target in targets:
        with tempfile.TemporaryDirectory(prefix="edgekit-board-") as tmp:
            work = Path(tmp)
            engine_dir = write_folder(generate_engine(graph, "model", target_kernel_family(target)), work / "engine")
            build_firmware(engine_dir, target, random_inputs(graph), work / "firmware", opt=opt)
            with staged_output(base / target.name) as staged:
                _keep(work, staged)
        written.append(base / target.name)
    return written
