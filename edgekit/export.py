"""`edgekit export`: a model as sources for firmware, written all at once into a folder."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import EdgekitError
from edgekit.load import detect


def _read_tflite(model: Path) -> bytes:
    if detect.detect_format(model) != detect.TFLITE:
        raise EdgekitError(model, "export reads an int8 .tflite; run `edgekit convert` on other formats first")
    return model.read_bytes()


def export_tflm(model: str | Path, out: str | Path, name: str = "model") -> list[Path]:
    """Write the TFLM bundle of `model` into `out`; returns the files written."""
    from edgekit.codegen.c_array import is_c_name
    from edgekit.codegen.tflm_bundle import tflm_bundle
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.model_check import measure_arena
    from edgekit.outdir import staged_output

    path, out_dir = Path(model), Path(out)
    if not is_c_name(name):
        raise EdgekitError(None, f"--name '{name}' must be a lowercase snake_case C identifier")
    data = _read_tflite(path)
    graph = parse_tflite(data, path=path)
    arena = measure_arena(data, path)
    files = tflm_bundle(data, graph, arena.min_arena_bytes or arena.total_bytes, name=name)
    with staged_output(out_dir) as staged:
        for filename in sorted(files):
            staged.write(filename, files[filename])
    return [out_dir / filename for filename in sorted(files)]


def export_c(model: str | Path, out: str | Path, name: str = "model", family: str = "reference") -> list[Path]:
    """Write edgekit's generated C engine for `model` into `out` (compiles on its own: cc -c *.c), with
    the kernels of `family` (edgekit.codegen.engine.KERNEL_FAMILIES)."""
    from edgekit.codegen.engine import generate_engine
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.outdir import staged_output

    path, out_dir = Path(model), Path(out)
    data = _read_tflite(path)
    graph = parse_tflite(data, path=path)
    try:
        files = generate_engine(graph, name, family)
    except EdgekitError as exc:
        raise EdgekitError(path, exc.problem) from None
    with staged_output(out_dir) as staged:
        for filename in sorted(files):
            staged.write(filename, files[filename])
    return [out_dir / filename for filename in sorted(files)]


def export_pi(model: str | Path, out: str | Path) -> list[Path]:
    """Write the Raspberry Pi bundle of `model` (model, LiteRT runner, requirements) into `out`."""
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.outdir import staged_output
    from edgekit.pi.bundle import pi_bundle
    from edgekit.pi.memory import LitertCannotRun, measure_litert_memory

    path, out_dir = Path(model), Path(out)
    data = _read_tflite(path)
    parse_tflite(data, path=path)  # a broken or truncated file is refused here, not on the Pi
    try:
        measure_litert_memory(data, path)  # LiteRT loads and runs it once, in a subprocess
    except LitertCannotRun as exc:
        raise EdgekitError(path, f"LiteRT cannot run the model ({exc.problem}), so neither can the Pi") from None
    files = pi_bundle(data)
    with staged_output(out_dir) as staged:
        for filename in sorted(files):
            staged.write(filename, files[filename])
    return [out_dir / filename for filename in sorted(files)]
