"""`edgekit analyze`: what is inside a model, layer by layer, read from its int8 TFLite."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.load import detect
from edgekit.model_check import inspect_tflite


@dataclass
class AnalyzeReport:
    model_file: str
    analysed: str  # what was analysed: the file itself or the int8 TFLite made from it
    analysis: Any
    plan: Any
    op_support: list[Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        analysis = self.analysis.to_dict()
        analysis.pop("path", None)
        plan = self.plan.to_dict()
        plan.pop("path", None)
        return {
            "model": self.model_file,
            "analysed": self.analysed,
            "analysis": analysis,
            "memory_plan": plan,
            "op_support": [row.to_dict() for row in self.op_support],
            "notes": list(self.notes),
        }


def analyze_model(model_path: str | Path, calib: str | None = None) -> AnalyzeReport:
    path = Path(model_path)
    fmt = detect.detect_format(path)
    notes: list[str] = []
    if fmt == detect.TFLITE:
        data = path.read_bytes()
        analysed = "the .tflite file as given"
    elif fmt == detect.ONNX:
        raise EdgekitError(
            path, "int8 TFLite from an ONNX model is not supported yet; analyse a Keras, SavedModel or .tflite model"
        )
    else:
        data = _convert_in_memory(path, fmt, calib)
        analysed = "the int8 TFLite that `edgekit convert` makes of it"
        notes.append(f"Analysed {analysed}" + (" (calibrated on random inputs)." if calib is None else "."))
    graph, analysis, plan, support = inspect_tflite(data, path)
    notes.extend(graph.notes)
    return AnalyzeReport(path.name, analysed, analysis, plan, support, notes)


def _convert_in_memory(path: Path, fmt: str, calib: str | None) -> bytes:
    from edgekit.convert.tflite_int8 import convert_to_int8_tflite
    from edgekit.load import data as data_mod
    from edgekit.load.models import load_float_model

    model = load_float_model(path, fmt)
    shape = model.input.sample_shape
    samples = (
        data_mod.random_dataset(shape, 16)
        if calib in (None, data_mod.RANDOM)
        else data_mod.load_dataset(Path(calib), shape)
    )
    return convert_to_int8_tflite(model, samples.x)
