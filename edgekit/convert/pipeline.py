"""`edgekit convert`: model file in, validated artifacts and a verdict per board out.

A function from inputs to a `ConvertResult`; the CLI only renders it. Every file lands in the
output folder at once, at the end (edgekit.outdir), so a failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import budget
from edgekit.errors import EdgekitError
from edgekit.load import data as data_mod
from edgekit.load import detect
from edgekit.load.models import load_float_model, model_name
from edgekit.model_check import MEASURE_LIMIT_BYTES, ModelCheck, check_tflite
from edgekit.targets import Target, get_target

DEFAULT_TARGET = "nano33ble"
MAX_EVAL_SAMPLES = 1000  # enough for stable metrics; the TFLite interpreters run one sample at a time

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Artifact:
    file: str
    kind: str
    bytes: int
    sha256: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "description": self.description,
        }


@dataclass(frozen=True)
class SizeRow:
    format: str
    float32_bytes: int | None
    int8_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        ratio = None
        if self.float32_bytes and self.int8_bytes:
            ratio = round(self.int8_bytes / self.float32_bytes, 4)
        return {
            "format": self.format,
            "float32_bytes": self.float32_bytes,
            "int8_bytes": self.int8_bytes,
            "int8_to_float32": ratio,
        }


@dataclass(frozen=True)
class Validation:
    artifact: str
    runtime: str
    metrics: Any  # edgekit.convert.metrics.Metrics

    def to_dict(self) -> dict[str, Any]:
        return {"artifact": self.artifact, "runtime": self.runtime, **self.metrics.to_dict()}


@dataclass(frozen=True)
class DataInfo:
    source: str
    samples: int
    labels: bool
    random: bool

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "samples": self.samples, "labels": self.labels, "random": self.random}


@dataclass
class ConvertResult:
    model_file: str
    model_format: str
    model_sha256: str
    model_inputs: list[dict[str, Any]]
    model_outputs: list[dict[str, Any]]
    out_dir: Path
    calibration: DataInfo | None = None
    evaluation: DataInfo | None = None
    reference_runtime: str | None = None
    reference_accuracy: float | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    sizes: list[SizeRow] = field(default_factory=list)
    validations: list[Validation] = field(default_factory=list)
    check: ModelCheck | None = None
    emulation: list[dict[str, Any]] | None = None
    verdicts: list[budget.Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return all(v.fits for v in self.verdicts)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _resolve_targets(names: Sequence[str], targets_dirs: Sequence[str | Path]) -> list[Target]:
    unique = list(dict.fromkeys(names or [DEFAULT_TARGET]))
    return [get_target(name, targets_dirs) for name in unique]


def _model_sha(path: Path) -> str:
    if path.is_dir():
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(file.relative_to(path).as_posix().encode())
            digest.update(file.read_bytes())
        return digest.hexdigest()
    return sha256(path.read_bytes())


def convert(
    model_path: str | Path,
    targets: Sequence[str] = (),
    calib: str | Path | None = None,
    eval_data: str | Path | None = None,
    out: str | Path | None = None,
    targets_dirs: Sequence[str | Path] = (),
    progress: Progress | None = None,
    engine: str = "tflm",
    emulate: bool = True,
    max_latency_ms: float | None = None,
) -> ConvertResult:
    """Convert, validate and budget one model; writes the artifacts and reports into `out`.

    `max_latency_ms` budgets the time per inference on every board (see budget.Verdict.latency_status).
    """
    from edgekit.outdir import check_replaceable, staged_output
    from edgekit.report.html import report_html
    from edgekit.report.json_report import report_dict, report_json
    from edgekit.report.markdown import report_markdown

    say = progress or (lambda _msg: None)
    path = Path(model_path)
    fmt = detect.detect_format(path)
    boards = _resolve_targets(targets, targets_dirs)
    out_dir = Path(out) if out is not None else Path("build") / model_name(path)
    check_replaceable(out_dir)
    if fmt != detect.TFLITE and calib is None:
        raise EdgekitError(
            path,
            "int8 quantization needs calibration data: pass --calib DATA.npz (array 'x' of real inputs, "
            "a few hundred samples), or --calib random to try it out with random inputs",
        )

    result = ConvertResult(
        model_file=path.name,
        model_format=fmt,
        model_sha256=_model_sha(path),
        model_inputs=[],
        model_outputs=[],
        out_dir=out_dir,
    )
    files: dict[str, bytes] = {}
    if fmt == detect.TFLITE:
        int8_tflite = path.read_bytes()
        files["model_int8.tflite"] = int8_tflite
        result.notes.append("The model is already a .tflite: edgekit analysed and budgeted it as given.")
        if calib is not None or eval_data is not None:
            result.notes.append(
                "--calib / --eval are not used for a .tflite input (there is no float model to compare with)."
            )
    else:
        int8_tflite = _convert_float_model(path, fmt, calib, eval_data, result, files, say)

    if int8_tflite is not None:
        say("analysing the int8 model and measuring the TFLM tensor arena")
        _budget(path, int8_tflite, boards, result, engine)
        if fmt == detect.TFLITE:
            _describe_io(result)
        files.update(_tflm_bundle_files(int8_tflite, result))
        files.update(_pi_bundle_files(int8_tflite, boards))
        if emulate:
            files.update(_emulate_files(path, int8_tflite, boards, result, engine, say))
            from edgekit.on_pi import pi_emulation  # Raspberry Pi boards: timing under qemu-aarch64

            pi_emulation(path, int8_tflite, result.check.graph if result.check else None, boards, result, say)
            _attach_pi_latency(result, boards)
        _budget_latency(result, max_latency_ms)
        if max_latency_ms is not None and engine != "edgekit" and any(b.is_mcu for b in boards) and result.emulation:
            result.notes.append(
                f"Emulation timed the edgekit engine, not {engine}: its figures are not used for the latency "
                "budget of a microcontroller's TFLM verdict. Pass --engine edgekit to budget the emulated latency."
            )
    else:
        result.notes.append("No int8 TFLite, so no board verdict: budgets are computed from the int8 TFLite model.")

    say("writing reports")
    with staged_output(out_dir) as staged:
        for name in sorted(files):
            staged.write(name, files[name])
        result.artifacts = []
        for name in sorted(files):
            kind, description = _artifact_kind(name)
            result.artifacts.append(Artifact(name, kind, len(files[name]), sha256(files[name]), description))
        staged.write("report.json", report_json(result))
        staged.write("report.html", report_html(report_dict(result)).encode())
        staged.write("report.md", report_markdown(result).encode())
    return result


def _tflm_bundle_files(int8_tflite: bytes, result: ConvertResult) -> dict[str, bytes]:
    """The model as C++ sources for a TFLM firmware, when TFLM can run it."""
    from edgekit.codegen.tflm_bundle import tflm_bundle
    from edgekit.ir.op_support import unsupported
    from edgekit.model_check import measure_arena

    check = result.check
    if check is None or unsupported(check.graph, "tflm") or check.plan.arena_bytes > MEASURE_LIMIT_BYTES:
        return {}
    if check.tflm_arena is not None:
        arena = check.tflm_arena["min_arena_bytes"]
    else:  # the verdict was for another engine
        measured = measure_arena(int8_tflite, Path(result.model_file))
        arena = measured.min_arena_bytes or measured.total_bytes
    bundle = tflm_bundle(int8_tflite, check.graph, arena, name="model")
    return {f"{TFLM_DIR}/{name}": data for name, data in bundle.items()}


def _pi_bundle_files(int8_tflite: bytes, boards: list[Target]) -> dict[str, bytes]:
    """The Raspberry Pi bundle, when a Raspberry Pi (a Linux board) is among the targets."""
    if all(board.is_mcu for board in boards):
        return {}
    from edgekit.pi.bundle import pi_bundle

    return {f"{PI_DIR}/{name}": data for name, data in pi_bundle(int8_tflite).items()}


def attach_latency(result: ConvertResult, board: str, ms: float | None, basis: str) -> None:
    """Give one board's verdict its time per inference (e.g. estimated in emulation), and how it was got.

    The one place a latency figure enters a verdict, for microcontrollers and Raspberry Pis alike; the
    `--max-latency-ms` check (`_budget_latency`) then reads it, in whichever order the two run.
    """
    index = next(i for i, v in enumerate(result.verdicts) if v.target == board)
    result.verdicts[index] = budget.with_latency(result.verdicts[index], ms, basis)


def _attach_pi_latency(result: ConvertResult, boards: list[Target]) -> None:
    from edgekit.on_pi import pi_estimated_ms

    for board in boards:
        if board.is_mcu:
            continue
        ms = pi_estimated_ms(result.emulation, board.name)
        if ms is not None:
            attach_latency(result, board.name, ms, pi_latency_basis(board))


def pi_latency_basis(board: Target) -> str:
    # LiteRT with XNNPACK on the Pi is a different program from the one timed: the basis says so.
    return (
        f"estimated: the edgekit engine (NEON kernels) counted under qemu-aarch64, {board.core} cycle model at "
        f"{board.clock_mhz:g} MHz, one thread; LiteRT on the board runs other kernels"
    )


def _budget_latency(result: ConvertResult, max_latency_ms: float | None) -> None:
    result.verdicts = [budget.with_latency_budget(v, max_latency_ms) for v in result.verdicts]


TFLM_DIR = "tflm"
PI_DIR = "pi"
ENGINE_DIR = "engine"
BOARDS_DIR = "boards"
FIRMWARE_FILES = ("firmware.elf", "firmware.bin", "firmware.hex")


def _emulate_files(
    path: Path, int8_tflite: bytes, boards: list[Target], result: ConvertResult, engine: str, say: Progress
) -> dict[str, bytes]:
    """The edgekit engine's sources, and per microcontroller board its firmware run in QEMU."""
    import shutil
    import tempfile

    from edgekit.codegen.engine import generate_engine, target_kernel_family, unsupported_ops
    from edgekit.model_check import engine_footprint
    from edgekit.on_board import run_on_board

    check = result.check
    mcus = [board for board in boards if board.is_mcu]
    if check is None or not mcus:
        return {}
    problems = unsupported_ops(check.graph)
    if problems:
        result.notes.append(f"No emulation: the edgekit engine cannot run {problems[0]}.")
        return {}
    missing = [tool for tool in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(tool) is None]
    if missing:
        result.notes.append(f"No emulation: {', '.join(missing)} not installed (scripts/setup.sh installs them).")
        return {}
    files = {f"{ENGINE_DIR}/{name}": data for name, data in generate_engine(check.graph).items()}
    result.emulation = []
    for board in mcus:
        say(f"building firmware for {board.name} and running it in QEMU ({board.qemu_machine})")
        with tempfile.TemporaryDirectory(prefix="edgekit-board-") as tmp:
            run = run_on_board(int8_tflite, check.graph, board, Path(tmp))
            for name in FIRMWARE_FILES:
                files[f"{BOARDS_DIR}/{board.name}/{name}"] = (Path(tmp) / "firmware" / name).read_bytes()
        difference = run.first_difference()
        if difference is not None:
            from edgekit.emulate import EmulationError

            raise EmulationError(path, "output", f"on {board.name} the firmware's outputs differ: {difference}")
        figures = run.as_dict()
        figures["measured"].pop("wall_time_s", None)  # the emulator's speed today, not the model's: not reported
        result.emulation.append(figures)
        if engine == "edgekit":
            index = next(i for i, v in enumerate(result.verdicts) if v.target == board.name)
            result.verdicts[index] = budget.edgekit_verdict(
                board, engine_footprint(check.graph, run, family=target_kernel_family(board))
            )
            # Only the edgekit engine was timed: a TFLM verdict gets no latency from this run.
            attach_latency(result, board.name, run.result.estimated_ms, emulated_latency_basis(board))
    return files


def emulated_latency_basis(board: Target) -> str:
    return (
        f"estimated: instructions of the edgekit engine counted in QEMU {board.qemu_machine}, "
        f"{board.core} cycle model at {board.clock_mhz:g} MHz"
    )


_ARTIFACT_KINDS = {
    "model_float.onnx": ("onnx_float", "float32 ONNX"),
    "model_int8.onnx": ("onnx_int8_qdq", "int8 ONNX (QDQ, per-channel weights)"),
    "model_int8.tflite": ("tflite_int8", "full-integer int8 TFLite (int8 input and output)"),
}


def _artifact_kind(name: str) -> tuple[str, str]:
    if name.startswith(f"{TFLM_DIR}/"):
        return "tflm_source", "TensorFlow Lite Micro bundle: model array, op resolver, arena size"
    if name.startswith(f"{PI_DIR}/"):
        return "pi_bundle", "Raspberry Pi bundle: int8 model, LiteRT runner run_model.py, pinned requirements"
    if name.startswith(f"{ENGINE_DIR}/"):
        return "engine_source", "edgekit C engine: generated model code and its kernels"
    if name.startswith(f"{BOARDS_DIR}/"):
        return "firmware", "firmware built with arm-none-eabi-gcc and run in QEMU"
    return _ARTIFACT_KINDS[name]


def _convert_float_model(
    path: Path,
    fmt: str,
    calib: str | Path,
    eval_data: str | Path | None,
    result: ConvertResult,
    files: dict[str, bytes],
    say: Progress,
) -> bytes | None:
    from edgekit.convert import metrics, onnx_export, tflite_run

    say(f"loading {path.name}")
    model = load_float_model(path, fmt)
    result.model_inputs = [t.to_dict() for t in model.inputs]
    result.model_outputs = [t.to_dict() for t in model.outputs]
    sample_shape = model.input.sample_shape
    calibration = (
        data_mod.random_dataset(sample_shape)
        if str(calib) == data_mod.RANDOM
        else data_mod.load_dataset(Path(calib), sample_shape)
    )
    result.calibration = DataInfo(
        calibration.source, len(calibration), calibration.y is not None, calibration.is_random
    )
    if calibration.is_random:
        result.notes.append(
            "Calibration used random inputs (--calib random): int8 accuracy figures are not meaningful."
        )
    evaluation = calibration if eval_data is None else data_mod.load_dataset(Path(eval_data), sample_shape)
    eval_x, eval_y = evaluation.x[:MAX_EVAL_SAMPLES], None if evaluation.y is None else evaluation.y[:MAX_EVAL_SAMPLES]
    result.evaluation = DataInfo(evaluation.source, len(eval_x), eval_y is not None, evaluation.is_random)
    if eval_data is None:
        result.notes.append("No --eval data: artifacts were checked on the calibration data.")

    say("running the float model")
    reference = model.predict(eval_x)[0]
    result.reference_runtime = model.runtime
    result.reference_accuracy = metrics.accuracy(reference, eval_y)

    def check(artifact: str, runtime: str, outputs: list[np.ndarray]) -> None:
        result.validations.append(Validation(artifact, runtime, metrics.compare(reference, outputs[0], eval_y)))

    from edgekit.load.onnx_model import ort_runner, ort_session

    say("exporting float ONNX")
    float_onnx = onnx_export.export_float_onnx(model)
    files["model_float.onnx"] = float_onnx
    check("model_float.onnx", onnx_export.onnx_runtime_name(), ort_runner(ort_session(float_onnx))(eval_x))

    say("quantizing ONNX to int8 (QDQ)")
    int8_onnx = onnx_export.quantize_onnx_qdq(float_onnx, calibration.x, path)
    files["model_int8.onnx"] = int8_onnx
    check("model_int8.onnx", onnx_export.onnx_runtime_name(), ort_runner(ort_session(int8_onnx))(eval_x))
    result.sizes.append(SizeRow("ONNX", len(float_onnx), len(int8_onnx)))

    if fmt == detect.ONNX:
        result.notes.append(
            "int8 TFLite from an ONNX model is not supported yet: export the model from its framework as "
            "Keras or SavedModel, or pass an int8 .tflite, to get the TFLite artifact and a board verdict."
        )
        return None

    from edgekit.convert.tflite_int8 import convert_to_float_tflite, convert_to_int8_tflite

    say("converting to full-integer int8 TFLite")
    int8_tflite = convert_to_int8_tflite(model, calibration.x)
    files["model_int8.tflite"] = int8_tflite
    result.sizes.append(SizeRow("TFLite", len(convert_to_float_tflite(model)), len(int8_tflite)))
    say("checking int8 TFLite with LiteRT and the TFLM interpreter")
    check("model_int8.tflite", tflite_run.litert_version(), tflite_run.run_litert_reference(int8_tflite, eval_x))
    check("model_int8.tflite", tflite_run.tflm_version(), tflite_run.run_tflm(int8_tflite, eval_x, len(model.outputs)))
    return int8_tflite


def _budget(path: Path, int8_tflite: bytes, boards: list[Target], result: ConvertResult, engine: str) -> None:
    result.check = check_tflite(int8_tflite, path, boards, engine)
    result.verdicts = result.check.verdicts
    result.notes.extend(result.check.notes)


def check(
    model_path: str | Path,
    targets: Sequence[str] = (),
    engine: str = "tflm",
    targets_dirs: Sequence[str | Path] = (),
    max_latency_ms: float | None = None,
) -> ConvertResult:
    """`edgekit check`: budget an int8 .tflite against boards; writes nothing, imports no TensorFlow.

    Nothing is emulated here, so a latency budget finds no figure unless a verdict brings its own.
    """
    path = Path(model_path)
    fmt = detect.detect_format(path)
    if fmt != detect.TFLITE:
        raise EdgekitError(path, "edgekit check reads a .tflite file; run `edgekit convert` on other formats")
    boards = _resolve_targets(targets, targets_dirs)
    data = path.read_bytes()
    result = ConvertResult(
        model_file=path.name,
        model_format=fmt,
        model_sha256=sha256(data),
        model_inputs=[],
        model_outputs=[],
        out_dir=path.parent,
    )
    _budget(path, data, boards, result, engine)
    _budget_latency(result, max_latency_ms)
    _describe_io(result)
    return result


def _describe_io(result: ConvertResult) -> None:
    """Model inputs and outputs as the int8 TFLite has them (for a .tflite input)."""
    assert result.check is not None
    graph = result.check.graph
    for indices, into in ((graph.inputs, result.model_inputs), (graph.outputs, result.model_outputs)):
        for i in indices:
            t = graph.tensors[i]
            into.append({"name": t.name, "shape": list(t.shape), "dtype": t.dtype})
