"""`edgekit emulate`: the model on each requested board, in QEMU, written next to its convert output."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edgekit.errors import EdgekitError
from edgekit.on_board import BoardRun, run_on_board
from edgekit.outdir import staged_output
from edgekit.targets import get_target

# What of a board run is kept: the firmware images and the engine sources it was built from.
KEPT = ("firmware/firmware.elf", "firmware/firmware.bin", "firmware/firmware.hex", "firmware/firmware.map")


def emulate_boards(
    model: Path,
    source: Path,
    boards: Sequence[str],
    opt: str,
    out: Path | None,
    timeout_s: float,
    targets_dirs: Sequence[str | Path],
) -> list[BoardRun]:
    from edgekit.ir.tflite_reader import parse_tflite

    data = model.read_bytes()
    graph = parse_tflite(data, path=model)
    targets = [get_target(name, targets_dirs) for name in dict.fromkeys(boards)]
    for target in targets:
        if not target.is_mcu:
            raise EdgekitError(target.name, "is a Linux board; emulate builds microcontroller firmware")
    base = out if out is not None else (source / "boards" if source.is_dir() else Path("build") / model.stem / "boards")
    runs = []
    for target in targets:
        with tempfile.TemporaryDirectory(prefix="edgekit-board-") as tmp:
            work = Path(tmp)
            run = run_on_board(data, graph, target, work, opt=opt, timeout_s=timeout_s)
            with staged_output(base / target.name) as staged:
                for kept in KEPT:
                    if (work / kept).is_file():
                        staged.write(Path(kept).name, (work / kept).read_bytes())
                for source_file in sorted((work / "engine").iterdir()):
                    staged.write(f"engine/{source_file.name}", source_file.read_bytes())
                staged.write("emulation.json", (json.dumps(run.as_dict(), indent=2) + "\n").encode())
            # The build objects were in the temporary folder; point the result at the kept files.
            run.build = None
        runs.append(run)
    return runs


def build_boards(
    model: Path, source: Path, boards: Sequence[str], opt: str, out: Path | None, targets_dirs: Sequence[str | Path]
) -> list[Path]:
    """`edgekit firmware`: the engine built for each board, not run. Returns the folders written."""
    from edgekit.codegen.engine import generate_engine
    from edgekit.codegen.engine_host import write_folder
    from edgekit.firmware import build_firmware
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.on_board import random_inputs

    data = model.read_bytes()
    graph = parse_tflite(data, path=model)
    targets = [get_target(name, targets_dirs) for name in dict.fromkeys(boards)]
    base = out if out is not None else (source / "boards" if source.is_dir() else Path("build") / model.stem / "boards")
    written = []
    for target in targets:
        with tempfile.TemporaryDirectory(prefix="edgekit-board-") as tmp:
            work = Path(tmp)
            engine_dir = write_folder(generate_engine(graph, "model"), work / "engine")
            build_firmware(engine_dir, target, random_inputs(graph), work / "firmware", opt=opt)
            with staged_output(base / target.name) as staged:
                for kept in KEPT:
                    staged.write(Path(kept).name, (work / kept).read_bytes())
                for source_file in sorted(engine_dir.iterdir()):
                    staged.write(f"engine/{source_file.name}", source_file.read_bytes())
        written.append(base / target.name)
    return written
