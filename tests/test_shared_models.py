"""Public reference models nobody here wrote (../shared/models), converted and budgeted for real."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_edgekit, shared_model

SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())


def _report(out: Path) -> dict:
    import jsonschema

    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    return report


def _tflm_check(report: dict) -> dict:
    return next(v for v in report["validation"] if "tflite-micro" in v["runtime"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("relative", "fmt"),
    [
        ("mlcommons_tiny/kws_ref_model", "savedmodel"),
        ("mlcommons_tiny/pretrainedResnet.h5", "h5"),
        ("mlcommons_tiny/vww_96.h5", "h5"),  # Keras 3 refuses this Keras 2-era file
    ],
)
def test_mlperf_tiny_float_models_convert(tmp_path: Path, relative: str, fmt: str) -> None:
    model = shared_model(relative)
    out = tmp_path / "out"
    run = run_edgekit("convert", model, "--calib", "random", "--out", out, "-t", "nucleo-l4r5zi", "--quiet")
    assert run.code in (0, 1), run.stderr
    report = _report(out)
    assert report["model"]["format"] == fmt
    models = {a["file"] for a in report["artifacts"] if a["kind"] not in ("tflm_source", "engine_source", "firmware")}
    assert models == {
        "model_float.onnx",
        "model_int8.onnx",
        "model_int8.tflite",
    }
    float_onnx = next(v for v in report["validation"] if v["artifact"] == "model_float.onnx")
    assert float_onnx["max_abs_error"] < 1e-4  # the ONNX export is the same function
    assert _tflm_check(report)["cosine_similarity"] > 0.9
    assert report["tflm_arena"]["total_bytes"] > 0


@pytest.mark.slow
def test_streaming_wakeword_h5_with_its_own_calibration_data(tmp_path: Path) -> None:
    model = shared_model("mlcommons_tiny/str_ww_ref_model.h5")
    samples = np.load(shared_model("inputs/streaming_wakeword/calibration_samples.npz"))
    data = tmp_path / "ww.npz"
    np.savez(data, x=samples["specs"].astype(np.float32), y=samples["labels"].astype(np.int64))
    out = tmp_path / "out"
    run = run_edgekit("convert", model, "--calib", data, "--eval", data, "--out", out, "-t", "nano33ble", "--quiet")
    assert run.code == 0, run.stderr
    report = _report(out)
    tflm = _tflm_check(report)
    assert report["reference"]["accuracy"] > 0.8
    assert tflm["top1_agreement"] >= 0.9


@pytest.mark.slow
def test_onnx_model_gets_int8_qdq_and_says_why_no_tflite(tmp_path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    model = shared_model("onnx_models/mnist-8.onnx")
    inputs = []
    for case in sorted(shared_model("inputs/mnist-8").iterdir()):
        tensor = onnx.TensorProto()
        tensor.ParseFromString((case / "input_0.pb").read_bytes())
        inputs.append(numpy_helper.to_array(tensor)[0])
    data = tmp_path / "mnist.npz"
    np.savez(data, x=np.stack(inputs).astype(np.float32), y=np.array([2, 0, 9]))  # the zoo's expected digits
    out = tmp_path / "out"
    run = run_edgekit("convert", model, "--calib", data, "--eval", data, "--out", out)
    assert run.code == 0, run.stderr
    assert "int8 TFLite from an ONNX model is not supported" in run.stdout
    report = _report(out)
    assert report["verdict"] == "not_evaluated"
    assert {a["file"] for a in report["artifacts"]} == {"model_float.onnx", "model_int8.onnx"}
    assert report["reference"]["accuracy"] == 1.0
    int8 = next(v for v in report["validation"] if v["artifact"] == "model_int8.onnx")
    assert int8["top1_agreement"] == 1.0


INT8_TFLITE = [
    "mlcommons_tiny/kws_ref_model.tflite",
    "mlcommons_tiny/vww_96_int8.tflite",
    "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "tflite_micro/person_detect.tflite",  # TF's own interpreter rejects it; TFLM runs it
    "tflite_micro/micro_speech_quantized.tflite",
    "tflite_micro/hello_world_int8.tflite",
]


@pytest.mark.parametrize("relative", INT8_TFLITE)
def test_int8_tflite_is_budgeted_without_conversion(tmp_path: Path, relative: str) -> None:
    model = shared_model(relative)
    out = tmp_path / "out"
    run = run_edgekit("convert", model, "--out", out, "-t", "nucleo-l4r5zi", "-t", "blackpill-f401", "--quiet")
    assert run.code in (0, 1), run.stderr
    report = _report(out)
    assert report["validation"] == []
    assert (out / "model_int8.tflite").read_bytes() == model.read_bytes()
    arena = report["tflm_arena"]["min_arena_bytes"]
    assert arena > 0
    for verdict in report["targets"]:
        flash_model = next(line for line in verdict["lines"] if line["item"].startswith("model"))
        assert flash_model["flash_bytes"] == model.stat().st_size
    fits = {t["target"]: t["fits"] for t in report["targets"]}
    assert run.code == (0 if all(fits.values()) else 1)
    # The 640 KiB NUCLEO-L4R5ZI holds every one of these MLPerf Tiny / TFLM models.
    assert fits["nucleo-l4r5zi"] is True
