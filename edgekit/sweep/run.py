"""`edgekit sweep`: convert (and, for a builder, first train) every candidate, budget each on every
board, and recommend one per board.

Per candidate, the expensive part (training, conversion, accuracy on the eval data) depends only on
the candidate's inputs, never on the boards; it is cached in the output folder under a content hash
of those inputs (see `cache_key`). The board part (`check_tflite`: arena, budget verdict) is cheap
and recomputed on every run from the cached int8 .tflite, so adding a board never retrains anything.
Latency and engine RAM come through `edgekit.sweep.measure.measure_candidate`, cached separately.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__, budget
from edgekit.errors import EdgekitError
from edgekit.model_check import ModelCheck, check_tflite
from edgekit.sweep import cache
from edgekit.sweep.candidates import (
    Builder,
    BuiltCandidate,
    Candidate,
    FileCandidate,
    built_candidates,
    digest,
    file_candidates,
    parse_builder,
    parse_widths,
)
from edgekit.sweep.measure import LatencyFigures, measure_candidate
from edgekit.sweep.recommend import Point, Recommendation, recommend
from edgekit.targets import Target, get_target

Progress = Callable[[str], None]

DEFAULT_OUT = Path("build") / "sweep"
ENGINE = "tflm"  # the engine whose budget decides "fits" until the edgekit engine's figures land
ACCURACY_DEFINITION = "top-1 accuracy of the int8 model in the tflite-micro interpreter, on the eval data"
# Library versions that change what training and conversion produce; part of every cache key.
_LIBRARIES = ("tensorflow", "tensorflow-cpu", "keras", "tf-keras", "tflite-micro", "ai-edge-litert", "numpy")


@dataclass
class OnTarget:
    target: Target
    verdict: budget.Verdict
    measured: LatencyFigures | None

    @property
    def latency_ms(self) -> float | None:
        return None if self.measured is None else self.measured.estimated_ms


@dataclass
class CandidateResult:
    id: str
    source: dict[str, Any]
    key: str
    reused: bool
    check: ModelCheck
    int8_tflite: bytes
    float_accuracy: float | None
    int8_accuracy: float | None
    eval_samples: int
    files: dict[str, bytes]  # written under candidates/<id>/
    targets: list[OnTarget] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def params(self) -> int:
        return self.check.analysis.total_params

    @property
    def macs(self) -> int:
        return self.check.analysis.total_macs

    @property
    def int8_flash_bytes(self) -> int:
        return len(self.int8_tflite)

    @property
    def tflm_ram_bytes(self) -> int:
        """The RAM the model itself needs under TFLM: the arena model_arena.h declares."""
        arena = self.check.tflm_arena
        return int(arena["arena_size_bytes"]) if arena else self.check.plan.arena_bytes

    @property
    def tflm_ram_basis(self) -> str:
        return budget.MEASURED if self.check.tflm_arena else budget.PLANNED

    @property
    def accuracy_drop(self) -> float | None:
        if self.float_accuracy is None or self.int8_accuracy is None:
            return None
        return round(self.float_accuracy - self.int8_accuracy, 6)

    def point(self, on: OnTarget) -> Point:
        return Point(
            id=self.id,
            accuracy=self.int8_accuracy,
            flash_bytes=self.int8_flash_bytes,
            ram_bytes=self.tflm_ram_bytes,
            fits=on.verdict.fits,
            latency_ms=on.latency_ms,
            reason="" if on.verdict.fits else on.verdict.reason(),
        )


@dataclass
class SweepResult:
    out_dir: Path
    settings: dict[str, Any]
    targets: list[Target]
    candidates: list[CandidateResult]
    recommendations: list[Recommendation]
    eval_samples: int
    notes: list[str] = field(default_factory=list)

    @property
    def reused(self) -> int:
        return sum(c.reused for c in self.candidates)

    @property
    def all_boards_served(self) -> bool:
        return all(r.choice is not None for r in self.recommendations)


@dataclass(frozen=True)
class _Inputs:
    """Everything a candidate's cached figures depend on, besides the candidate itself."""

    eval_path: Path
    calib: str | None  # a path, "random", or None (from the training data / not needed)
    train_path: Path | None
    epochs: int | None
    common_key: dict[str, Any]


def sweep(
    models: Sequence[str | Path] = (),
    targets: Sequence[str] = (),
    eval_data: str | Path | None = None,
    calib: str | Path | None = None,
    out: str | Path | None = None,
    builder: str | None = None,
    widths: str | Sequence[float] | None = None,
    train: str | Path | None = None,
    epochs: int | None = None,
    targets_dirs: Sequence[str | Path] = (),
    use_cache: bool = True,
    progress: Progress | None = None,
) -> SweepResult:
    """Run a sweep and write sweep.json, sweep.html and candidates/<id>/ into `out`."""
    from edgekit.outdir import check_replaceable, staged_output
    from edgekit.sweep.html import sweep_html
    from edgekit.sweep.report import sweep_json

    say = progress or (lambda _msg: None)
    out_dir = Path(out) if out is not None else DEFAULT_OUT
    candidates, settings, inputs = _plan(models, eval_data, calib, builder, widths, train, epochs)
    boards = [get_target(name, targets_dirs) for name in dict.fromkeys(targets)]
    if not boards:
        raise EdgekitError(None, "edgekit sweep needs at least one --target BOARD (see `edgekit targets`)")
    check_replaceable(out_dir)

    previous = cache.load_previous(out_dir) if use_cache else cache.Previous()
    loaded: dict[str, Callable[[float], Any]] = {}
    results: list[CandidateResult] = []
    for cand in candidates:
        key = cache_key(cand, inputs)
        entry = previous.candidates.get(key)
        if entry is not None:
            say(f"{cand.id}: reusing the cached result")
            files, record = entry.files, entry.record
        else:
            files, record = _compute(cand, inputs, loaded, say)
        results.append(_assemble(cand, key, entry is not None, files, record, boards, previous, say))

    eval_samples = max((c.eval_samples for c in results), default=0)
    settings["evaluation"]["samples"] = eval_samples
    recommendations = [
        recommend(board.name, [c.point(c.targets[i]) for c in results], eval_samples) for i, board in enumerate(boards)
    ]
    result = SweepResult(out_dir, settings, boards, results, recommendations, eval_samples)
    if any(c.check.tflm_arena is None for c in results):
        result.notes.append("RAM of a candidate the tflite-micro interpreter could not run is edgekit's planned arena.")

    say("writing sweep.json and sweep.html")
    with staged_output(out_dir) as staged:
        for cand in results:
            for name in sorted(cand.files):
                staged.write(f"{cache.CANDIDATES_DIR}/{cand.id}/{name}", cand.files[name])
            record = {**_record_of(cand), "key": cand.key}
            staged.write(f"{cache.CANDIDATES_DIR}/{cand.id}/{cache.RECORD}", cache.dumps(record))
            staged.write(f"{cache.CANDIDATES_DIR}/{cand.id}/{cache.MEASURED}", cache.dumps(_measured_of(cand)))
        staged.write("sweep.json", sweep_json(result))
        staged.write("sweep.html", sweep_html(result).encode())
    return result


# ---------------------------------------------------------------- planning (cheap, before any slow work)


def _plan(
    models: Sequence[str | Path],
    eval_data: str | Path | None,
    calib: str | Path | None,
    builder_spec: str | None,
    widths: str | Sequence[float] | None,
    train: str | Path | None,
    epochs: int | None,
) -> tuple[list[Candidate], dict[str, Any], _Inputs]:
    if models and builder_spec:
        raise EdgekitError(None, "give either model files or --builder, not both")
    if not models and not builder_spec:
        raise EdgekitError(
            None, "give model files to compare, or --builder FILE.py:FUNCTION --widths ... --train DATA.npz"
        )
    if eval_data is None:
        raise EdgekitError(None, "edgekit sweep ranks candidates by accuracy: pass --eval DATA.npz with labels 'y'")
    eval_path = Path(eval_data)
    _require_labels(eval_path, "--eval")
    calib_arg: str | None = None
    calib_key: Any = None
    if calib is not None:
        calib_arg = str(calib)
        if calib_arg == "random":
            calib_key = "random"
        else:
            calib_path = Path(calib_arg)
            if not calib_path.exists():
                raise EdgekitError(calib_path, "no such file or folder")
            calib_key = digest(calib_path)

    settings: dict[str, Any] = {
        "mode": "builder" if builder_spec else "model_files",
        "builder": None,
        "widths": None,
        "epochs": None,
        "training": None,
        "train": None,
        "calibration": None,
        "evaluation": {"file": eval_path.name, "sha256": digest(eval_path), "samples": 0},
        "accuracy": ACCURACY_DEFINITION,
        "engine": ENGINE,
    }
    candidates: list[Candidate]
    train_path: Path | None = None
    if builder_spec:
        from edgekit.sweep.train import CALIB_FROM_TRAIN, DEFAULT_EPOCHS, RECIPE

        if train is None:
            raise EdgekitError(builder_spec, "--builder needs --train DATA.npz (inputs 'x', labels 'y') to train on")
        if widths is None:
            raise EdgekitError(builder_spec, "--builder needs --widths, e.g. --widths 0.25,0.5,1,2")
        train_path = Path(train)
        _require_labels(train_path, "--train")
        epochs = DEFAULT_EPOCHS if epochs is None else epochs
        if epochs < 1:
            raise EdgekitError(str(epochs), "--epochs must be at least 1")
        builder = parse_builder(builder_spec)
        width_list = parse_widths(widths) if isinstance(widths, str) else parse_widths(",".join(map(str, widths)))
        candidates = list(built_candidates(builder, width_list))
        settings.update(
            builder=builder.spec,
            widths=width_list,
            epochs=epochs,
            training=RECIPE.to_dict(),
            train={"file": train_path.name, "sha256": digest(train_path)},
        )
        if calib_arg is None:
            calib_key = {"from_train": CALIB_FROM_TRAIN, "seed": RECIPE.seed}
            settings["calibration"] = {"source": "training data", "samples": CALIB_FROM_TRAIN}
        builder_key: dict[str, Any] = {
            "builder_source": builder.source_digest(),
            "function": builder.function,
            "train": settings["train"]["sha256"],
            "epochs": epochs,
            "recipe": RECIPE.to_dict(),
        }
    else:
        if widths is not None or train is not None or epochs is not None:
            raise EdgekitError(None, "--widths, --train and --epochs go with --builder")
        candidates = list(file_candidates([Path(m) for m in models]))
        float_models = [c for c in candidates if isinstance(c, FileCandidate) and c.format != "tflite"]
        if float_models and calib_arg is None:
            raise EdgekitError(
                float_models[0].path,
                "int8 quantization needs calibration data: pass --calib DATA.npz (array 'x' of real inputs)",
            )
        builder_key = {}
    if calib_arg is not None:
        settings["calibration"] = (
            {"source": "random"} if calib_arg == "random" else {"file": Path(calib_arg).name, "sha256": calib_key}
        )

    common = {
        "cache_format": cache.FORMAT,
        "edgekit": __version__,
        "libraries": _library_versions(),
        "engine": ENGINE,
        "max_eval_samples": _max_eval_samples(),
        "eval": settings["evaluation"]["sha256"],
        "calib": calib_key,
        **builder_key,
    }
    return candidates, settings, _Inputs(eval_path, calib_arg, train_path, epochs, common)


def _max_eval_samples() -> int:
    from edgekit.convert.pipeline import MAX_EVAL_SAMPLES

    return MAX_EVAL_SAMPLES


def _library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _require_labels(path: Path, option: str) -> None:
    """Fail before any slow work when data that must be labelled is not (checked from the archive's index)."""
    if not path.exists():
        raise EdgekitError(path, "no such file")
    if path.is_dir() or path.suffix.lower() != ".npz":
        raise EdgekitError(path, f"{option} needs a .npz with arrays 'x' (inputs) and 'y' (labels)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
    except Exception as exc:
        raise EdgekitError(path, f"not a readable .npz file: {exc}") from None
    if "x" not in names or "y" not in names:
        raise EdgekitError(path, f"{option} needs arrays 'x' and 'y' (labels); it has: {', '.join(names) or 'none'}")


def cache_key(cand: Candidate, inputs: _Inputs) -> str:
    """The content hash a candidate's cached result is stored under."""
    parts = dict(inputs.common_key)
    if isinstance(cand, FileCandidate):
        parts.update(kind="model_file", model=digest(cand.path), file=cand.path.name, format=cand.format)
    else:
        parts.update(kind="builder", width=repr(float(cand.width)))
    return cache.hash_parts(parts)


# ---------------------------------------------------------------- computing one candidate


def _compute(
    cand: Candidate, inputs: _Inputs, loaded: dict[str, Callable[[float], Any]], say: Progress
) -> tuple[dict[str, bytes], dict[str, Any]]:
    from edgekit.convert.pipeline import convert

    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory(prefix="edgekit-sweep-") as tmp:
        work = Path(tmp)
        calib = inputs.calib
        if isinstance(cand, BuiltCandidate):
            model_path = work / f"{cand.id}.keras"
            files[model_path.name] = _train(cand, inputs, loaded, say)
            model_path.write_bytes(files[model_path.name])
            if calib is None:
                calib = str(_calib_from_train(model_path, inputs, work))
        else:
            model_path = cand.path
        say(f"{cand.id}: converting and checking on the eval data")
        result = convert(
            model_path,
            targets=(),
            calib=calib,
            eval_data=inputs.eval_path,
            out=work / "convert",
            progress=lambda msg: say(f"{cand.id}: {msg}"),
        )
        for path in sorted((work / "convert").rglob("*")):
            rel = path.relative_to(work / "convert").as_posix()
            if path.is_file() and not rel.startswith(".") and rel not in ("report.json", "report.md"):
                files[rel] = path.read_bytes()
        files["report.json"] = _board_free_report(result)

    if "model_int8.tflite" not in files:
        raise EdgekitError(cand.id, "conversion gave no int8 TFLite model, so there is nothing to budget")
    float_acc = result.reference_accuracy
    int8_acc = _tflm_accuracy(result)
    eval_samples = result.evaluation.samples if result.evaluation else 0
    # The board-side notes come back from check_tflite on every run; only conversion's are kept.
    board_notes = result.check.notes if result.check else []
    notes = [n for n in result.notes if n not in board_notes]
    if isinstance(cand, FileCandidate) and cand.format == "tflite":
        int8_acc, eval_samples = _tflite_accuracy(files["model_int8.tflite"], cand, inputs)
        notes = [n for n in notes if "--calib / --eval" not in n]
    record = {"float_accuracy": float_acc, "int8_accuracy": int8_acc, "eval_samples": eval_samples, "notes": notes}
    return files, record


def _train(cand: BuiltCandidate, inputs: _Inputs, loaded: dict[str, Callable[[float], Any]], say: Progress) -> bytes:
    from edgekit.sweep.train import train_width

    assert inputs.train_path is not None and inputs.epochs is not None
    builder: Builder = cand.builder
    if builder.spec not in loaded:
        loaded[builder.spec] = builder.load()
    say(f"{cand.id}: training width {cand.width:g} for {inputs.epochs} epochs")
    trained = train_width(loaded[builder.spec], builder.spec, cand.width, inputs.train_path, inputs.epochs)
    return trained.keras_bytes


def _calib_from_train(model_path: Path, inputs: _Inputs, work: Path) -> Path:
    from edgekit.load.models import load_float_model
    from edgekit.sweep.train import calib_sample

    assert inputs.train_path is not None
    shape = load_float_model(model_path).input.sample_shape
    path = work / "calibration_from_train.npz"
    np.savez_compressed(path, x=calib_sample(inputs.train_path, shape))
    return path


def _tflm_accuracy(result: Any) -> float | None:
    from edgekit.convert.tflite_run import tflm_version

    runtime = tflm_version()
    for v in result.validations:
        if v.artifact == "model_int8.tflite" and v.runtime == runtime:
            return v.metrics.accuracy
    return None


def _tflite_accuracy(model: bytes, cand: FileCandidate, inputs: _Inputs) -> tuple[float | None, int]:
    """An int8 .tflite has no float model to convert: run it in the TFLM interpreter on the eval data."""
    from edgekit.convert import metrics, tflite_run
    from edgekit.ir.tflite_reader import parse_tflite
    from edgekit.load.data import load_dataset

    graph = parse_tflite(model, path=cand.path)
    shape = tuple(int(d) for d in graph.tensors[graph.inputs[0]].shape[1:])
    data = load_dataset(inputs.eval_path, shape)
    n = _max_eval_samples()
    x, y = data.x[:n], None if data.y is None else data.y[:n]
    outputs = tflite_run.run_tflm(model, x, len(graph.outputs))
    return metrics.accuracy(outputs[0], y), len(x)


def _board_free_report(result: Any) -> bytes:
    """convert's report.json without board verdicts: the candidate folder is cached across board sets,
    and sweep.json holds the verdicts of the boards of this run."""
    from edgekit.report.json_report import report_dict

    report = report_dict(result)
    report["targets"] = []
    report["verdict"] = "not_evaluated"
    report["notes"] = [*report["notes"], "Board verdicts for this candidate are in sweep.json, recomputed every sweep."]
    return (json.dumps(report, indent=2) + "\n").encode()


# ---------------------------------------------------------------- boards and the measurement seam


def _assemble(
    cand: Candidate,
    key: str,
    reused: bool,
    files: dict[str, bytes],
    record: dict[str, Any],
    boards: list[Target],
    previous: cache.Previous,
    say: Progress,
) -> CandidateResult:
    tflite = files["model_int8.tflite"]
    say(f"{cand.id}: budgeting on {len(boards)} board(s)")
    check = check_tflite(tflite, Path(cand.id) / "model_int8.tflite", boards, ENGINE)
    result = CandidateResult(
        id=cand.id,
        source=cand.describe(),
        key=key,
        reused=reused,
        check=check,
        int8_tflite=tflite,
        float_accuracy=record["float_accuracy"],
        int8_accuracy=record["int8_accuracy"],
        eval_samples=int(record["eval_samples"]),
        files=files,
        notes=list(record.get("notes", [])) + list(check.notes),
    )
    tflite_sha = cache.sha256(tflite)
    for board, verdict in zip(boards, check.verdicts, strict=True):
        mkey = cache.measurement_key(tflite_sha, board)
        measured = previous.measurements.get(mkey)
        if measured is None:
            measured = measure_candidate(tflite, check.graph, board)
        result.targets.append(OnTarget(board, verdict, measured))
    return result


def _record_of(cand: CandidateResult) -> dict[str, Any]:
    return {
        "id": cand.id,
        "source": cand.source,
        "float_accuracy": cand.float_accuracy,
        "int8_accuracy": cand.int8_accuracy,
        "eval_samples": cand.eval_samples,
        "notes": [n for n in cand.notes if n not in cand.check.notes],
    }


def _measured_of(cand: CandidateResult) -> dict[str, Any]:
    """What measure_candidate gave, per board, under the key it is reused by; Nones are not kept."""
    tflite_sha = cache.sha256(cand.int8_tflite)
    return {
        cache.measurement_key(tflite_sha, on.target): on.measured.to_dict()
        for on in cand.targets
        if on.measured is not None
    }
