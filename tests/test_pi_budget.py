"""Raspberry Pi: LiteRT's resident memory measured in subprocesses, the latency budget, the deploy bundle.

Real LiteRT throughout: the memory probe, `edgekit check` / `convert` on the command line, and the
bundle's run_model.py run with the venv's Python as it would run on the board.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_EVAL, EXAMPLE_MODEL, REPO, assert_user_error, run_edgekit, shared_model

from edgekit.convert.tflite_run import run_litert_int8
from edgekit.pi.memory import measure_litert_memory

SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())
KWS = "mlcommons_tiny/kws_ref_model.tflite"
VWW = "mlcommons_tiny/vww_96_int8.tflite"
PI_FILES = {"model_int8.tflite", "run_model.py", "requirements.txt", "README.md"}
needs_toolchain = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v arm-none-eabi-gcc && command -v qemu-system-arm"]).returncode != 0,
    reason="arm-none-eabi-gcc or qemu-system-arm not installed",
)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory):
    """The example converted for a Pi and an emulated microcontroller, with a latency budget it meets."""
    out = tmp_path_factory.mktemp("pi") / "digits"
    run = run_edgekit(
        "convert",
        EXAMPLE_MODEL,
        "--calib",
        EXAMPLE_CALIB,
        "--eval",
        EXAMPLE_EVAL,
        "-t",
        "rpi4-2gb",
        "-t",
        "nucleo-l4r5zi",
        "--engine",
        "edgekit",
        "--max-latency-ms",
        "1000",
        "--out",
        out,
    )
    return run, out


def _pi_line(verdict: dict, item: str = "LiteRT working memory") -> dict:
    return next(line for line in verdict["lines"] if line["item"].startswith(item))


def test_litert_memory_is_positive_repeatable_and_grows_with_the_model(digits) -> None:
    _, out = digits
    figures = {}
    for name, path in (
        ("digits", out / "model_int8.tflite"),
        ("kws", shared_model(KWS)),
        ("vww", shared_model(VWW)),
    ):
        first = measure_litert_memory(path.read_bytes(), path)
        second = measure_litert_memory(path.read_bytes(), path)
        # The probe fixes the address-space layout and hash seed, so the working memory repeats exactly.
        assert first.working_bytes == second.working_bytes > 0, (name, first, second)
        # Running any model pages in LiteRT's kernel code: megabytes, counted in whole MiB.
        assert first.code_bytes >= 1 << 20 and first.code_bytes % (1 << 20) == 0, (name, first)
        assert first.bare_bytes > 10 << 20, (name, first)
        assert first.model_bytes == first.working_bytes + first.code_bytes
        figures[name] = first.working_bytes
    # VWW (333 KB of weights, 100 KB activations) needs clearly more than KWS, and KWS than the tiny example.
    assert figures["vww"] > figures["kws"] + (256 << 10), figures
    assert figures["kws"] > figures["digits"], figures


def test_check_budgets_a_pi_with_the_measured_figure() -> None:
    model = shared_model(KWS)
    run = run_edgekit("check", model, "-t", "rpi-zero-2w", "-t", "rpi4-2gb", "--json")
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    jsonschema.validate(report, SCHEMA)
    zero, pi4 = report["targets"]
    assert zero["engine"] == pi4["engine"] == "litert" and zero["fits"]
    measured = _pi_line(zero)
    assert measured["basis"] == "measured" and "peak RSS" in measured["method"] and measured["ram_bytes"] > 0
    memory = measure_litert_memory(model.read_bytes(), model)
    assert measured["ram_bytes"] == memory.working_bytes
    code = _pi_line(zero, "LiteRT kernel code")
    assert code["basis"] == "measured" and code["ram_bytes"] >= 1 << 20
    # RAM = the measured figures + the model file + the board's OS reserve (256 MiB on a Zero 2 W).
    measured_total = memory.working_bytes + code["ram_bytes"] + model.stat().st_size
    assert zero["ram"]["used_bytes"] == measured_total + (256 << 20)
    assert pi4["ram"]["used_bytes"] == measured_total + (512 << 20)
    assert any(f"about {round(memory.bare_bytes / 10e6) * 10} MB" in note for note in zero["notes"])
    assert zero["latency"] == {"ms": None, "basis": None, "budget_ms": None, "status": "no budget", "fits": None}
    # Same model, same figures: the report is the same bytes.
    assert run_edgekit("check", model, "-t", "rpi-zero-2w", "-t", "rpi4-2gb", "--json").stdout == run.stdout


def test_latency_budget_without_a_figure_says_so() -> None:
    run = run_edgekit("check", shared_model(KWS), "-t", "rpi4-2gb", "--max-latency-ms", "5", "--json")
    assert run.code == 0, run.stderr
    (verdict,) = json.loads(run.stdout)["targets"]
    assert verdict["latency"]["status"] == "no latency figure" and verdict["latency"]["fits"] is None
    assert verdict["latency"]["budget_ms"] == 5
    assert "no latency figure" in verdict["reason"]
    table = run_edgekit("check", shared_model(KWS), "-t", "rpi4-2gb", "--max-latency-ms", "5")
    assert table.code == 0 and "no latency figure (budget 5 ms)" in table.stdout


@needs_toolchain
def test_latency_budget_gives_exit_1_when_exceeded(digits, tmp_path: Path) -> None:
    run, out = digits
    assert run.code == 0, run.stderr
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    pi, mcu = report["targets"]
    emulated = {entry["target"]: entry["estimated"]["ms"] for entry in report["emulation"]}
    for verdict in (pi, mcu):
        assert verdict["latency"]["status"] == "within budget", verdict["latency"]
        assert verdict["latency"]["basis"].startswith("estimated")
        ms = verdict["latency"]["ms"]
        assert ms == pytest.approx(emulated[verdict["target"]], rel=1e-4) and ms > 0
    assert "qemu-aarch64" in pi["latency"]["basis"] and "cortex-a72" in pi["latency"]["basis"]
    budget_ms = min(pi["latency"]["ms"], mcu["latency"]["ms"]) / 2
    tight = run_edgekit(
        "convert",
        out / "model_int8.tflite",
        "-t",
        "rpi4-2gb",
        "-t",
        "nucleo-l4r5zi",
        "--engine",
        "edgekit",
        "--max-latency-ms",
        f"{budget_ms:g}",
        "--out",
        tmp_path / "tight",
    )
    assert tight.code == 1, tight.stderr
    assert "DOES NOT FIT" in tight.stdout and f"over the {budget_ms:g} ms budget" in tight.stdout
    verdicts = json.loads((tmp_path / "tight" / "report.json").read_text())["targets"]
    for verdict in verdicts:
        assert verdict["latency"]["status"] == "over budget" and verdict["fits"] is False


def test_bad_latency_budget_is_a_usage_error() -> None:
    run = run_edgekit("check", shared_model(KWS), "-t", "rpi4-2gb", "--max-latency-ms", "0")
    assert run.code == 2 and "Traceback" not in run.stderr


def test_convert_writes_the_pi_bundle(digits) -> None:
    run, out = digits
    assert run.code == 0, run.stderr
    assert {p.name for p in (out / "pi").iterdir()} == PI_FILES
    assert (out / "pi" / "model_int8.tflite").read_bytes() == (out / "model_int8.tflite").read_bytes()
    repo_pins = (REPO / "requirements.txt").read_text().splitlines()
    pins = {line for line in repo_pins if line.startswith(("ai-edge-litert==", "numpy=="))}
    assert len(pins) == 2
    assert {line for line in (out / "pi" / "requirements.txt").read_text().splitlines() if "==" in line} == pins
    report = json.loads((out / "report.json").read_text())
    kinds = {a["file"]: a["kind"] for a in report["artifacts"]}
    assert {kinds[f"pi/{name}"] for name in PI_FILES} == {"pi_bundle"}
    assert "Raspberry Pi bundle: pi (4 files)" in run.stdout
    # The human reports name the method of the measured line and where the latency comes from.
    markdown = (out / "report.md").read_text()
    assert "measured: peak RSS (VmHWM)" in markdown and "counted under qemu-aarch64" in markdown


def test_bundle_runner_outputs_equal_the_conversion_check(digits, tmp_path: Path) -> None:
    """run_model.py --reference on the eval data: byte-equal to the int8 outputs convert validated."""
    _, out = digits
    bundle = out / "pi"
    x = np.load(EXAMPLE_EVAL)["x"]
    expected = run_litert_int8((bundle / "model_int8.tflite").read_bytes(), x)[0]
    result = tmp_path / "y.npy"
    proc = _runner(bundle, "--input", EXAMPLE_EVAL, "--reference", "--output", result, "--runs", "3")
    assert "latency over 3 runs" in proc.stdout and f"{len(x)} sample(s)" in proc.stdout
    got = np.load(result)
    assert got.dtype == np.int8 and got.tobytes() == expected.tobytes()
    # LiteRT's default (XNNPACK) kernels are what a Pi deploys: not bit-exact, same predictions.
    fast = tmp_path / "fast.npy"
    _runner(bundle, "--input", EXAMPLE_EVAL, "--output", fast, "--runs", "0")
    assert np.mean(np.argmax(np.load(fast), axis=1) == np.argmax(expected, axis=1)) >= 0.99


def test_exported_kws_runner_quantizes_float_input_like_the_conversion(tmp_path: Path) -> None:
    model = shared_model(KWS)
    run = run_edgekit("export", "pi", model, "--out", tmp_path / "kws")
    assert run.code == 0, run.stderr
    data = model.read_bytes()
    rng = np.random.default_rng(7)
    # Float features in the range the model's input scale covers, several samples at once.
    x = rng.uniform(-20, 20, (5, 49, 10, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    _runner(tmp_path / "kws", "--input", tmp_path / "x.npy", "--reference", "--output", tmp_path / "y.npy")
    assert np.load(tmp_path / "y.npy").tobytes() == run_litert_int8(data, x)[0].tobytes()
    # No input: the real value 0, and a timing.
    proc = _runner(tmp_path / "kws", "--runs", "5")
    assert "1 sample(s)" in proc.stdout and "latency over 5 runs: median" in proc.stdout


def test_export_pi_is_deterministic_and_equals_convert(digits, tmp_path: Path) -> None:
    _, out = digits
    for name in ("a", "b"):
        run = run_edgekit("export", "pi", out / "model_int8.tflite", "--out", tmp_path / name)
        assert run.code == 0, run.stderr
    for file in PI_FILES:
        exported = (tmp_path / "a" / file).read_bytes()
        assert exported == (tmp_path / "b" / file).read_bytes() == (out / "pi" / file).read_bytes(), file


def test_convert_for_a_pi_gives_byte_identical_outputs(tmp_path: Path) -> None:
    model = shared_model(KWS)
    outputs = []
    for name in ("a", "b"):
        out = tmp_path / name
        run = run_edgekit("convert", model, "-t", "rpi3bp", "--no-emulate", "--quiet", "--out", out)
        assert run.code == 0, run.stderr
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert outputs[0] == outputs[1]
    assert {f"pi/{name}" for name in PI_FILES} <= set(outputs[0])


def test_export_pi_refuses_what_is_not_a_tflite(tmp_path: Path) -> None:
    assert_user_error(run_edgekit("export", "pi", EXAMPLE_MODEL, "--out", tmp_path / "x"), "digits_cnn.keras")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(shared_model(KWS).read_bytes()[:300])
    assert_user_error(run_edgekit("export", "pi", broken, "--out", tmp_path / "y"), "broken.tflite")
    assert not (tmp_path / "y").exists()


def test_a_model_litert_rejects_does_not_fit_a_pi(tmp_path: Path) -> None:
    model = shared_model("tflite_micro/person_detect.tflite")  # TFLM runs it, LiteRT refuses it
    run = run_edgekit("check", model, "-t", "rpi5-8gb", "--json")
    assert run.code == 1, run.stderr
    (verdict,) = json.loads(run.stdout)["targets"]
    assert not verdict["fits"] and verdict["reason"].startswith("LiteRT cannot run the model: quantized_dimension")
    assert_user_error(run_edgekit("export", "pi", model, "--out", tmp_path / "pi"), "LiteRT cannot run the model")
    assert not (tmp_path / "pi").exists()


def test_bundle_runner_refuses_an_input_of_the_wrong_shape(tmp_path: Path) -> None:
    model = shared_model(KWS)
    assert run_edgekit("export", "pi", model, "--out", tmp_path / "kws").code == 0
    np.save(tmp_path / "x.npy", np.zeros((3, 7), np.float32))
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "kws" / "run_model.py"), "--input", str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "input shape [3, 7] does not fit the model's input [1, 49, 10, 1]" in proc.stderr


def test_check_on_a_pi_imports_neither_tensorflow_nor_litert() -> None:
    model = shared_model(KWS)
    probe = (
        "import sys\nfrom edgekit.cli import main\n"
        f"sys.argv = ['edgekit', 'check', {str(model)!r}, '-t', 'rpi4-2gb']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorflow', 'keras', 'tf_keras', 'onnxruntime', 'ai_edge_litert'))\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "HEAVY [] CODE 0" in proc.stdout, proc.stdout + proc.stderr


def _runner(bundle: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The bundle's runner in a fresh process, from another folder, as on the board."""
    proc = subprocess.run(
        [sys.executable, str(bundle / "run_model.py"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=bundle.parent,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc
