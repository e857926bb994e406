"""`edgekit sweep` end to end: the example family at two small widths, trained, converted, budgeted,
then rerun from the cache; the HTML page; the measurement seam; a sweep over model files; user errors.

Real TensorFlow, tflite-micro and matplotlib throughout. The builder sweep trains a few epochs only:
these tests check the machinery, not the accuracy of the example.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_EVAL, EXAMPLE_MODEL, EXAMPLES, REPO, Run, assert_user_error

SWEEP_SCHEMA = json.loads((REPO / "edgekit" / "sweep" / "sweep.schema.json").read_text())
REPORT_SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())
BUILDER = "examples/digits_family.py:build"
TRAIN = EXAMPLES / "digits_train.npz"
BOARDS = ("nano33ble", "blackpill-f401")

# The command line with `sweep` on it, whether or not edgekit/cli.py registers it yet.
_CLI = (
    "import sys\n"
    "from edgekit.cli import cli, main\n"
    "from edgekit.sweep.command import sweep_command\n"
    "if 'sweep' not in cli.commands:\n"
    "    cli.add_command(sweep_command)\n"
    "main(sys.argv[1:])\n"
)


def run_sweep(*args: str | Path, timeout: float = 300) -> tuple[Run, float]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "sweep", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr), time.perf_counter() - start


def builder_args(out: Path, *boards: str) -> list[str | Path]:
    args: list[str | Path] = ["--builder", BUILDER, "--widths", "0.25,0.5", "--epochs", "8"]
    args += ["--train", TRAIN, "--eval", EXAMPLE_EVAL, "--out", out]
    for board in boards or BOARDS:
        args += ["-t", board]
    return args


@dataclass
class Sweeps:
    out: Path
    first: Run
    first_s: float
    first_json: dict[str, Any]
    first_html: bytes
    second: Run
    second_s: float
    second_json: dict[str, Any]
    second_html: bytes
    third: Run  # one more board
    third_json: dict[str, Any]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory) -> Sweeps:
    out = tmp_path_factory.mktemp("sweep") / "out"
    first, first_s = run_sweep(*builder_args(out))
    assert first.code == 0, first.stderr
    first_json = json.loads((out / "sweep.json").read_text())
    first_html = (out / "sweep.html").read_bytes()
    second, second_s = run_sweep(*builder_args(out))
    assert second.code == 0, second.stderr
    second_json = json.loads((out / "sweep.json").read_text())
    second_html = (out / "sweep.html").read_bytes()
    third, _ = run_sweep(*builder_args(out, *BOARDS, "rpi-pico"))
    assert third.code == 0, third.stderr
    third_json = json.loads((out / "sweep.json").read_text())
    return Sweeps(
        out, first, first_s, first_json, first_html, second, second_s, second_json, second_html, third, third_json
    )


def test_builder_sweep_end_to_end(sweeps: Sweeps) -> None:
    report = sweeps.first_json
    jsonschema.validate(report, SWEEP_SCHEMA)
    assert [c["id"] for c in report["candidates"]] == ["w0.25", "w0.5"]
    assert [t["name"] for t in report["targets"]] == list(BOARDS)
    assert report["settings"]["evaluation"]["samples"] == 360
    small, large = report["candidates"]
    assert 0 < small["params"] < large["params"]
    assert 0 < small["macs"] < large["macs"]
    assert 0 < small["int8_flash_bytes"] < large["int8_flash_bytes"]
    for cand in report["candidates"]:
        assert cand["reused_from_cache"] is False
        assert 0.3 < cand["int8_accuracy"] <= 1 and 0.3 < cand["float_accuracy"] <= 1
        assert cand["accuracy_drop"] == pytest.approx(cand["float_accuracy"] - cand["int8_accuracy"], abs=1e-6)
        assert cand["tflm_ram_basis"] == "measured"
        for on in cand["targets"]:
            assert on["fits"] is True and on["engine"] == "tflm"
            assert on["measured"]["status"] == "estimated" and on["measured"]["engine"] == "edgekit"
            assert on["measured"]["estimated_ms"] > 0 and on["measured"]["instructions"] > 0
        folder = sweeps.out / cand["folder"]
        assert (sweeps.out / cand["int8_tflite"]).read_bytes()[4:8] == b"TFL3"
        assert (folder / f"{cand['id']}.keras").is_file()
        jsonschema.validate(json.loads((folder / "report.json").read_text()), REPORT_SCHEMA)
    # Both fit both boards, so each board gets the more accurate one (or the smaller one on a tie).
    best = max(report["candidates"], key=lambda c: (c["int8_accuracy"], -c["int8_flash_bytes"]))
    assert [r["choice"] for r in report["recommendations"]] == [best["id"]] * len(BOARDS)
    assert report["cache"] == {"reused": 0, "computed": 2}

    out = sweeps.first.stdout
    assert "w0.25" in out and "w0.5" in out and "int8 acc" in out
    assert "recommendation per board:" in out
    assert "not emulated yet" not in out and " ms, edgekit RAM " in out
    assert "computed all 2 candidate(s)" in out


def test_cached_rerun_reuses_everything(sweeps: Sweeps) -> None:
    report = sweeps.second_json
    jsonschema.validate(report, SWEEP_SCHEMA)
    assert all(c["reused_from_cache"] for c in report["candidates"])
    assert report["cache"] == {"reused": 2, "computed": 0}
    assert "reused all 2 candidate(s)" in sweeps.second.stdout
    # Timing: no TensorFlow, no training; the bar for the 4-width benchmark is 10 s.
    assert sweeps.second_s < 10, sweeps.second_s
    assert sweeps.second_s < sweeps.first_s / 3, (sweeps.first_s, sweeps.second_s)
    # Same result: only the cache fields differ, and the page does not show them at all.
    assert _without_cache_fields(report) == _without_cache_fields(sweeps.first_json)
    assert sweeps.second_html == sweeps.first_html


def test_adding_a_board_does_not_retrain(sweeps: Sweeps) -> None:
    report = sweeps.third_json
    assert report["cache"] == {"reused": 2, "computed": 0}
    assert [t["name"] for t in report["targets"]] == [*BOARDS, "rpi-pico"]
    assert [r["target"] for r in report["recommendations"]] == [*BOARDS, "rpi-pico"]
    assert all(len(c["targets"]) == 3 for c in report["candidates"])


def _without_cache_fields(report: dict[str, Any]) -> dict[str, Any]:
    data = json.loads(json.dumps(report))
    data.pop("cache")
    for cand in data["candidates"]:
        cand.pop("reused_from_cache")
    return data


def test_html_is_self_contained_and_has_the_plots(sweeps: Sweeps) -> None:
    page = sweeps.first_html.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "xmlns" not in page and "src=" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert page.count('<svg class="plot"') == 3
    assert 'aria-label="sweep-flash"' in page and 'aria-label="sweep-ram"' in page
    # Each board's budget is in the legend (drawn as text paths) and in the caption or the plot.
    assert "Accuracy vs flash" in page and "Accuracy vs RAM" in page
    assert 'aria-label="sweep-latency"' in page
    # Ids are unique across the two inline figures.
    import re

    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_latency_plot_when_figures_are_present(sweeps: Sweeps) -> None:
    from edgekit.sweep.html import render

    data = json.loads(json.dumps(sweeps.first_json))
    for n, cand in enumerate(data["candidates"]):
        for k, on in enumerate(cand["targets"]):
            on["measured"] = {**on["measured"], "status": "estimated", "estimated_ms": 1.0 + n + k}
            on["pareto_latency"] = True
    page = render(data)
    assert page.count('<svg class="plot"') == 3
    assert 'aria-label="sweep-latency"' in page
    assert "Accuracy vs latency</strong>, per board" in page
    assert "http://" not in page and "https://" not in page
    assert "fits, 1 ms" in page  # the table shows the latency next to the verdict


def test_measurement_seam_feeds_reports_and_is_cached(
    sweeps: Sweeps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What measure_candidate returns lands in sweep.json and the page, and is not asked for again."""
    from edgekit.sweep import run as run_mod
    from edgekit.sweep.measure import LatencyFigures

    out = tmp_path / "out"
    shutil.copytree(sweeps.out, out)
    for measured in out.glob("candidates/*/measured.json"):
        measured.unlink()  # the real figures of the first sweep: ask the stand-in instead
    calls: list[tuple[str, int]] = []

    def fake(tflite: bytes, graph: Any, target: Any) -> LatencyFigures:
        calls.append((target.name, len(tflite)))
        return LatencyFigures(
            estimated_ms=len(tflite) / 1000,
            estimated_cycles=len(tflite) * 64,
            instructions=len(tflite) * 50,
            engine_ram_bytes=4096,
            method="test stand-in",
        )

    kwargs: dict[str, Any] = dict(
        builder=BUILDER, widths="0.25,0.5", epochs=8, train=TRAIN, eval_data=EXAMPLE_EVAL, targets=BOARDS, out=out
    )
    monkeypatch.setattr(run_mod, "measure_candidate", fake)
    result = run_mod.sweep(**kwargs)
    assert result.reused == 2  # from the copied cache: no TensorFlow in this test process
    assert len(calls) == 4
    report = json.loads((out / "sweep.json").read_text())
    jsonschema.validate(report, SWEEP_SCHEMA)
    on = report["candidates"][0]["targets"][0]
    assert on["measured"]["status"] == "estimated"
    assert on["measured"]["engine_ram_bytes"] == 4096
    assert on["pareto_latency"] in (True, False)
    assert "latency not emulated yet" not in json.dumps(report["recommendations"])
    assert 'aria-label="sweep-latency"' in (out / "sweep.html").read_text()
    assert "edgekit RAM 4.0 KiB" in (out / "sweep.html").read_text()
    from edgekit.sweep.report import sweep_summary

    assert "edgekit RAM 4.0 KiB" in sweep_summary(result)
    assert "not emulated yet" not in sweep_summary(result)

    monkeypatch.setattr(run_mod, "measure_candidate", lambda *_: pytest.fail("measured again"))
    again = run_mod.sweep(**kwargs)
    assert all(on.measured is not None for c in again.candidates for on in c.targets)


def test_sweep_over_model_files(sweeps: Sweeps, tmp_path: Path) -> None:
    """A Keras model and an int8 .tflite side by side: the .tflite has no float accuracy to compare."""
    tflite = tmp_path / "small_int8.tflite"
    shutil.copy(sweeps.out / "candidates" / "w0.25" / "model_int8.tflite", tflite)
    out = tmp_path / "files"
    run, _ = run_sweep(
        EXAMPLE_MODEL, tflite, "--calib", EXAMPLE_CALIB, "--eval", EXAMPLE_EVAL, "-t", "nano33ble", "--out", out
    )
    assert run.code == 0, run.stderr
    report = json.loads((out / "sweep.json").read_text())
    jsonschema.validate(report, SWEEP_SCHEMA)
    keras_c, tflite_c = report["candidates"]
    assert (keras_c["id"], tflite_c["id"]) == ("digits_cnn", "small_int8")
    assert keras_c["source"] == {"kind": "model_file", "file": "digits_cnn.keras", "format": "keras"}
    assert keras_c["float_accuracy"] is not None and keras_c["int8_accuracy"] is not None
    assert tflite_c["float_accuracy"] is None and tflite_c["accuracy_drop"] is None
    # The .tflite was run in the TFLM interpreter on the eval data: same figure as in the builder sweep.
    assert tflite_c["int8_accuracy"] == sweeps.first_json["candidates"][0]["int8_accuracy"]
    assert report["recommendations"][0]["choice"] in ("digits_cnn", "small_int8")


@pytest.fixture
def sweep_cli(edgekit_cli):  # -> Callable[..., Run]
    from edgekit.cli import cli
    from edgekit.sweep.command import sweep_command

    if "sweep" not in cli.commands:
        cli.add_command(sweep_command)
    return lambda *args: edgekit_cli("sweep", *args)


def test_user_errors_are_one_line(sweep_cli, tmp_path: Path) -> None:
    out = ["--out", tmp_path / "o"]
    common = ["--train", TRAIN, "--eval", EXAMPLE_EVAL, "-t", "nano33ble", *out]
    unlabelled = ["--train", TRAIN, "--eval", EXAMPLE_CALIB, "-t", "nano33ble", *out]
    assert_user_error(sweep_cli("--builder", BUILDER, "--widths", "1", *unlabelled), "digits_calib.npz", "'y'")
    assert_user_error(sweep_cli(EXAMPLE_MODEL, "--builder", BUILDER, "--widths", "1", *common), "not both")
    assert_user_error(sweep_cli("--builder", BUILDER, *common), "--widths")
    assert_user_error(sweep_cli("--builder", BUILDER, "--widths", "0.5,-1", *common), "positive")
    assert_user_error(sweep_cli("--builder", BUILDER, "--widths", "a", *common), "not a number")
    assert_user_error(sweep_cli("--builder", "examples/digits_family.py", "--widths", "1", *common), "FILE.py:FUNCTION")
    assert_user_error(sweep_cli("--builder", "examples/nope.py:build", "--widths", "1", *common), "no such builder")
    untrained = ["--eval", EXAMPLE_EVAL, "-t", "nano33ble", *out]
    assert_user_error(sweep_cli("--builder", BUILDER, "--widths", "1", *untrained), "--train")
    assert_user_error(sweep_cli("--builder", BUILDER, "--widths", "1", *common[:-2], "-t", "nano34", *out), "nano34")
    assert_user_error(sweep_cli(EXAMPLE_MODEL, "--eval", EXAMPLE_EVAL, "-t", "nano33ble", *out), "--calib")
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"\x08\x07" + b"\x00" * 64)
    assert_user_error(
        sweep_cli(onnx, "--calib", EXAMPLE_CALIB, "--eval", EXAMPLE_EVAL, "-t", "nano33ble", *out), "ONNX"
    )
    assert not (tmp_path / "o").exists()  # nothing written by a refused run


def test_builder_failures_are_user_errors(sweep_cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text(
        "def build(width):\n    raise ValueError('width too odd')\n\ndef notamodel(width):\n    return 3\n"
    )
    common = ["--widths", "1", "--train", TRAIN, "--eval", EXAMPLE_EVAL, "-t", "nano33ble", "--out", tmp_path / "o"]
    assert_user_error(sweep_cli("--builder", f"{broken}:build", *common), "width too odd")
    assert_user_error(sweep_cli("--builder", f"{broken}:notamodel", *common), "not a Keras model")
    assert_user_error(sweep_cli("--builder", f"{broken}:missing", *common), "no function 'missing'")


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from edgekit.sweep.command import sweep_command\n"
        "result = CliRunner().invoke(sweep_command, ['--help'])\n"
        "assert result.exit_code == 0 and 'your own code' in result.output, result.output\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(loaded & {'tensorflow', 'keras', 'matplotlib', 'onnxruntime'}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_cache_key_follows_content_not_spelling(tmp_path: Path) -> None:
    from edgekit.sweep.run import _plan, cache_key

    def keys(**changes: Any) -> list[str]:
        args: dict[str, Any] = dict(
            models=(), eval_data=EXAMPLE_EVAL, calib=None, builder_spec=BUILDER, widths="0.5,1", train=TRAIN, epochs=5
        )
        args.update(changes)
        candidates, _, inputs = _plan(**args)
        return [cache_key(c, inputs) for c in candidates]

    base = keys()
    assert len(set(base)) == 2  # one per width
    assert keys() == base
    assert keys(builder_spec="./examples/digits_family.py:build") == base  # same file, other spelling
    assert keys(widths="1,0.5") == base[::-1]
    assert keys(epochs=6) != base
    assert keys(calib=EXAMPLE_CALIB) != base
    copy = tmp_path / "family.py"
    copy.write_bytes((EXAMPLES / "digits_family.py").read_bytes())
    assert keys(builder_spec=f"{copy}:build") == base  # the content is what counts
    copy.write_bytes(copy.read_bytes() + b"\n# changed\n")
    assert keys(builder_spec=f"{copy}:build") != base
    train = tmp_path / "train.npz"
    shutil.copy(TRAIN, train)
    assert keys(train=train) == base
    import numpy as np

    with np.load(TRAIN) as data:
        np.savez(train, x=data["x"][:100], y=data["y"][:100])
    assert keys(train=train) != base


def _tiny_board(folder: Path, name: str, flash_kib: int, reserved_flash_kib: int) -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.toml").write_text(
        'title = "A made-up board with little flash"\nkind = "mcu"\nsoc = "none"\ncore = "cortex-m4"\n'
        f"clock_mhz = 48\nram_kib = 64\nflash_kib = {flash_kib}\nreserved_ram_kib = 16\n"
        f"reserved_flash_kib = {reserved_flash_kib}\n"
        'fpu = "fpv4-sp-d16"\nfloat_abi = "hard"\ndsp = true\nmve = false\nflash_wait_states = 0\n'
        'qemu_machine = "mps2-an386"\n'
    )


def test_small_boards_get_the_small_model_or_nothing(sweeps: Sweeps, sweep_cli, tmp_path: Path) -> None:
    """Budgets decide: 6 KiB left for the model takes w0.25 (5.7 KiB) but not w0.5 (7.0 KiB); 2 KiB takes none."""
    out = tmp_path / "out"
    shutil.copytree(sweeps.out, out)  # reused from the cache: only the budgets are new
    boards = tmp_path / "boards"
    # 64 KiB flash - 46 KiB TFLM runtime - 12 KiB reserve = 6 KiB for the model; 56 - 46 - 8 = 2 KiB.
    _tiny_board(boards, "six-kib", 64, 12)
    _tiny_board(boards, "two-kib", 56, 8)
    args = builder_args(out, "six-kib", "two-kib")
    run = sweep_cli(*args, "--targets-dir", boards)
    assert run.code == 1, run.stderr  # nothing fits one board
    report = json.loads((out / "sweep.json").read_text())
    assert report["cache"]["reused"] == 2
    six, two = report["recommendations"]
    assert [t["model_flash_budget_bytes"] for t in report["targets"]] == [6 * 1024, 2 * 1024]
    assert six["choice"] == "w0.25" and six["frontier"] == ["w0.25"]
    assert "only candidate that fits" in six["summary"]
    assert two["choice"] is None and "nothing fits" in two["summary"]
    assert "w0.25" in two["summary"] and "flash over by" in two["summary"]
    w05 = report["candidates"][1]
    assert [on["fits"] for on in w05["targets"]] == [False, False]
    assert "two-kib: nothing fits" in run.stdout
