"""`edgekit check` (the CI gate) and `edgekit analyze` on real models, through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, SHARED_MODELS, assert_user_error, run_edgekit, shared_model

SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())
ALL_TFLITE = (
    sorted(p.relative_to(SHARED_MODELS).as_posix() for p in SHARED_MODELS.rglob("*.tflite"))
    if SHARED_MODELS.is_dir()
    else []
)


@pytest.mark.parametrize("relative", ALL_TFLITE)
def test_check_and_analyze_every_shared_tflite(relative: str) -> None:
    model = shared_model(relative)
    run = run_edgekit("check", model, "-t", "nucleo-l4r5zi", "--json")
    if "kws_ref_model_float32" in relative:  # hybrid: explained, refused as input
        assert_user_error(run, "hybrid", "full-integer")
    else:
        assert run.code in (0, 1), run.stderr
        report = json.loads(run.stdout)
        jsonschema.validate(report, SCHEMA)
        verdict = report["targets"][0]
        assert run.code == (0 if verdict["fits"] else 1)
        if verdict["unsupported_ops"]:
            assert "no kernel for" in verdict["reason"]
        else:
            assert report["tflm_arena"]["min_arena_bytes"] >= report["tflm_arena"]["head_bytes"]
    analysis = run_edgekit("analyze", model, "--json")
    assert analysis.code == 0, analysis.stderr
    data = json.loads(analysis.stdout)
    assert data["analysis"]["layers"], relative
    assert data["memory_plan"]["arena_bytes"] >= data["memory_plan"]["lower_bound_bytes"]


def test_check_gives_exit_1_and_a_table_when_a_board_is_too_small() -> None:
    model = shared_model("mlcommons_tiny/vww_96_int8.tflite")
    run = run_edgekit("check", model, "-t", "blackpill-f401", "-t", "nucleo-l4r5zi")
    assert run.code == 1, run.stderr
    assert "DOES NOT FIT: blackpill-f401" in run.stdout
    row = next(line for line in run.stdout.splitlines() if line.startswith("blackpill-f401"))
    assert "RAM over by" in row
    ok_row = next(line for line in run.stdout.splitlines() if line.startswith("nucleo-l4r5zi"))
    assert ok_row.rstrip().endswith("fits")


def test_check_refuses_a_keras_model_with_advice() -> None:
    run = run_edgekit("check", REPO / "examples" / "digits_cnn.keras")
    assert_user_error(run, "digits_cnn.keras", "edgekit convert")


def test_check_never_imports_tensorflow() -> None:
    model = shared_model("mlcommons_tiny/kws_ref_model.tflite")
    probe = (
        "import sys\nfrom edgekit.cli import main\n"
        f"sys.argv = ['edgekit', 'check', {str(model)!r}, '-t', 'nano33ble']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras', 'onnxruntime', 'ai_edge_litert', 'tflite_micro'))\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "HEAVY [] CODE 0" in proc.stdout, proc.stdout + proc.stderr


def test_analyze_table_matches_published_macs() -> None:
    run = run_edgekit("analyze", shared_model("mlcommons_tiny/kws_ref_model.tflite"))
    assert run.code == 0, run.stderr
    assert "2,656,768 MACs" in run.stdout  # MLPerf Tiny quotes 2.66 M for the KWS DS-CNN
    assert "DEPTHWISE_CONV_2D" in run.stdout


def test_analyze_a_keras_model_says_what_it_analysed(tmp_path: Path) -> None:
    run = run_edgekit("analyze", REPO / "examples" / "digits_cnn.keras", "--json")
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert "int8 TFLite" in data["analysed"]
    assert data["analysis"]["quantization"] == "full-integer"
    ops = {row["opcode"] for row in data["op_support"]}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"} <= ops


def test_export_tflm_writes_the_bundle(tmp_path: Path) -> None:
    model = shared_model("tflite_micro/micro_speech_quantized.tflite")
    out = tmp_path / "bundle"
    run = run_edgekit("export", "tflm", model, "--out", out, "--name", "micro_speech")
    assert run.code == 0, run.stderr
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["micro_speech_arena.h", "micro_speech_data.cc", "micro_speech_data.h", "micro_speech_ops.h"]
    ops = (out / "micro_speech_ops.h").read_text()
    assert "MicroMutableOpResolver<4>" in ops  # RESHAPE, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX
    bad = run_edgekit("export", "tflm", model, "--out", tmp_path / "x", "--name", "Bad-Name")
    assert_user_error(bad, "--name")
