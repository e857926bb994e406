"""`edgekit convert` end to end on the bundled example: real TensorFlow, onnxruntime, LiteRT and TFLM."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_EVAL, EXAMPLE_MODEL, REPO, run_edgekit

SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())
EXPECTED_FILES = {
    ".edgekit-output",
    "model_float.onnx",
    "model_int8.onnx",
    "model_int8.tflite",
    "report.json",
    "report.md",
    "report.html",
    "tflm",
    "engine",
    "boards",
}
BUNDLE = {"model_data.h", "model_data.cc", "model_ops.h", "model_arena.h"}


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("example") / "digits"
    run = run_edgekit(
        "convert",
        EXAMPLE_MODEL,
        "--calib",
        EXAMPLE_CALIB,
        "--eval",
        EXAMPLE_EVAL,
        "--target",
        "nucleo-l4r5zi",
        "--target",
        "rpi-pico",
        "--out",
        out,
    )
    return run, out


def test_example_converts_and_fits(example_run) -> None:
    run, out = example_run
    assert run.code == 0, run.stderr
    assert {p.name for p in out.iterdir()} == EXPECTED_FILES
    assert "fits every target" in run.stdout
    assert "nucleo-l4r5zi" in run.stdout and "rpi-pico" in run.stdout


def test_report_json_matches_schema_and_files(example_run) -> None:
    _, out = example_run
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"].startswith("1.")
    assert report["verdict"] == "fits"
    sizes = {a["file"]: a["bytes"] for a in report["artifacts"]}
    for name, size in sizes.items():
        assert (out / name).stat().st_size == size
    # The int8 TFLite keeps the float model's predictions on the held-out digits.
    tflm = [v for v in report["validation"] if "tflite-micro" in v["runtime"]]
    assert tflm and tflm[0]["top1_agreement"] >= 0.95
    assert tflm[0]["accuracy"] >= 0.9
    assert report["evaluation"]["labels"] is True and report["evaluation"]["samples"] == 360
    # The RAM figure holds the arena that the tflite-micro interpreter measured.
    arena = report["tflm_arena"]["arena_size_bytes"]
    assert arena > report["tflm_arena"]["min_arena_bytes"] > 0
    pico = next(t for t in report["targets"] if t["target"] == "rpi-pico")
    arena_line = next(line for line in pico["lines"] if line["item"].startswith("tensor arena"))
    assert arena_line["ram_bytes"] == arena and arena_line["basis"] == "measured"
    # ... and the TFLM bundle declares the same arena.
    header = (out / "tflm" / "model_arena.h").read_text()
    assert f"= {arena};" in header


def test_int8_tflite_is_full_integer(example_run) -> None:
    from ai_edge_litert.interpreter import Interpreter

    _, out = example_run
    interpreter = Interpreter(model_path=str(out / "model_int8.tflite"))
    assert interpreter.get_input_details()[0]["dtype"].__name__ == "int8"
    assert interpreter.get_output_details()[0]["dtype"].__name__ == "int8"
    # Every tensor that carries activations is int8 (biases are int32 by design).
    kinds = {d["dtype"].__name__ for d in interpreter.get_tensor_details()}
    assert "float32" not in kinds


def test_markdown_report_puts_the_verdict_first(example_run) -> None:
    _, out = example_run
    text = (out / "report.md").read_text()
    assert text.index("Verdict") < text.index("Accuracy")
    assert "| nucleo-l4r5zi |" in text


def test_same_inputs_give_byte_identical_outputs(example_run, tmp_path: Path) -> None:
    _, first = example_run
    second = tmp_path / "again"
    run = run_edgekit(
        "convert",
        EXAMPLE_MODEL,
        "--calib",
        EXAMPLE_CALIB,
        "--eval",
        EXAMPLE_EVAL,
        "--target",
        "nucleo-l4r5zi",
        "--target",
        "rpi-pico",
        "--out",
        second,
        "--quiet",
    )
    assert run.code == 0, run.stderr
    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert {f"tflm/{b}" for b in BUNDLE} | {"boards/nucleo-l4r5zi/firmware.elf", "engine/model.c"} <= set(files)
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_rerun_replaces_a_previous_output(example_run, tmp_path: Path) -> None:
    out = tmp_path / "build"
    args = ("convert", EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "--out", out, "--quiet")
    assert run_edgekit(*args).code == 0
    (out / "stale.txt").write_text("from an older run")
    assert run_edgekit(*args).code == 0
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]  # no staging folders left


def test_board_that_is_too_small_exits_1_with_a_table(tmp_path: Path) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    toml = (REPO / "targets" / "rpi-pico.toml").read_text()
    tiny = toml.replace("ram_kib = 264", "ram_kib = 48").replace("reserved_ram_kib = ", "reserved_ram_kib = 40 # ")
    assert tiny != toml
    (boards / "tiny-board.toml").write_text(tiny)
    run = run_edgekit(
        "convert",
        EXAMPLE_MODEL,
        "--calib",
        EXAMPLE_CALIB,
        "--out",
        tmp_path / "out",
        "--targets-dir",
        boards,
        "-t",
        "tiny-board",
        "-t",
        "nucleo-l4r5zi",
        "--json",
    )
    assert run.code == 1, run.stderr
    report = json.loads(run.stdout)
    jsonschema.validate(report, SCHEMA)
    verdicts = {t["target"]: t for t in report["targets"]}
    assert verdicts["tiny-board"]["fits"] is False
    assert verdicts["tiny-board"]["ram"]["headroom_bytes"] < 0
    assert "RAM over by" in verdicts["tiny-board"]["reason"]
    assert verdicts["nucleo-l4r5zi"]["fits"] is True
    assert report["verdict"] == "does_not_fit"


def test_random_calibration_is_reported(tmp_path: Path) -> None:
    run = run_edgekit("convert", EXAMPLE_MODEL, "--calib", "random", "--out", tmp_path / "out", "--json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["calibration"]["random"] is True
    assert any("random" in note for note in report["notes"])
    assert "RANDOM" in (tmp_path / "out" / "report.md").read_text()


def test_image_folder_as_calibration_data(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    x = np.load(EXAMPLE_EVAL)["x"][:20]
    for i, sample in enumerate(x):
        # Saved at 16x16 so that edgekit's resize to the model's 8x8 input is exercised too.
        Image.fromarray((sample[..., 0] * 255).astype(np.uint8)).resize((16, 16)).save(images / f"{i:02d}.png")
    (images / "README.txt").write_text("not an image: ignored")
    run = run_edgekit("convert", EXAMPLE_MODEL, "--calib", images, "--eval", EXAMPLE_EVAL,
                      "--out", tmp_path / "out", "--json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["calibration"] == {"source": "images", "samples": 20, "labels": False, "random": False}
    tflm = next(v for v in report["validation"] if "tflite-micro" in v["runtime"])
    assert tflm["accuracy"] > 0.85
