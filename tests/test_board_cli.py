"""The engine on emulated boards through the command line: emulate, export c, convert, check --engine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_MODEL, REPO, run_edgekit, shared_model

from edgekit.emulate.aarch64 import missing_tools

SCHEMA = json.loads((REPO / "edgekit" / "schema" / "report.schema.json").read_text())
needs_toolchain = pytest.mark.skipif(
    shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
    reason="arm-none-eabi-gcc or qemu-system-arm is not installed (scripts/setup.sh installs them)",
)


@needs_toolchain
@pytest.mark.parametrize(
    "relative", ["mlcommons_tiny/kws_ref_model.tflite", "mlcommons_tiny/pretrainedResnet_quant.tflite"]
)
def test_emulate_on_m4_and_m55_is_exact_and_reproducible(tmp_path: Path, relative: str) -> None:
    model = shared_model(relative)
    counts = []
    for attempt in range(2):
        run = run_edgekit(
            "emulate", model, "-t", "nucleo-l4r5zi", "-t", "corstone-300", "--out", tmp_path / str(attempt), "--json"
        )
        assert run.code == 0, run.stderr
        results = json.loads(run.stdout)
        assert [r["core"] for r in results] == ["cortex-m4", "cortex-m55"]
        for r in results:
            assert r["outputs_equal_to_host"] is True and r["outputs_equal_to_tflm"] is True
            assert r["measured"]["instructions"] > 1_000_000
            assert r["estimated"]["ms"] > 0
        counts.append(
            [
                (
                    r["measured"]["instructions"],
                    [layer["measured"]["instructions"] for layer in r["inferences"][0]["layers"]],
                )
                for r in results
            ]
        )
    assert counts[0] == counts[1]  # counting is exact: the same run twice gives the same numbers
    firmware = tmp_path / "0" / "nucleo-l4r5zi"
    assert {"firmware.elf", "firmware.bin", "firmware.hex", "emulation.json"} <= {p.name for p in firmware.iterdir()}


@needs_toolchain
def test_tiny_model_on_cortex_m0(tmp_path: Path) -> None:
    run = run_edgekit(
        "emulate", shared_model("tflite_micro/hello_world_int8.tflite"), "-t", "rpi-pico", "--out", tmp_path, "--json"
    )
    assert run.code == 0, run.stderr
    (result,) = json.loads(run.stdout)
    assert result["qemu_machine"] == "microbit" and result["outputs_equal_to_tflm"] is True


def test_export_c_compiles_standalone(tmp_path: Path) -> None:
    out = tmp_path / "engine"
    run = run_edgekit(
        "export", "c", shared_model("tflite_micro/micro_speech_quantized.tflite"), "--out", out, "--name", "speech"
    )
    assert run.code == 0, run.stderr
    sources = sorted(out.glob("*.c"))
    assert (out / "speech.h").is_file() and sources
    for source in sources:
        subprocess.run(
            [
                "cc",
                "-std=c99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-O2",
                "-c",
                str(source),
                "-o",
                str(source.with_suffix(".o")),
            ],
            check=True,
            cwd=out,
        )


@needs_toolchain
def test_convert_example_emulates_each_microcontroller(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = run_edgekit(
        "convert",
        EXAMPLE_MODEL,
        "--calib",
        EXAMPLE_CALIB,
        "-t",
        "nucleo-l4r5zi",
        "-t",
        "rpi4-2gb",
        "--out",
        out,
        "--engine",
        "edgekit",
    )
    assert run.code == 0, run.stderr
    assert "edgekit engine in QEMU" in run.stdout and "equal to host and TFLM" in run.stdout
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    emulated = report["emulation"][0]
    assert emulated["target"] == "nucleo-l4r5zi" and emulated["measured"]["instructions"] > 0
    if missing_tools():
        assert len(report["emulation"]) == 1
        assert any("No Raspberry Pi timing" in note for note in report["notes"])
    else:  # the Raspberry Pi runs under qemu-aarch64 (tests/test_aarch64.py)
        pi = report["emulation"][1]
        assert pi["target"] == "rpi4-2gb" and pi["qemu_machine"] == "aarch64-user" and pi["kernels"] == "neon"
        assert pi["outputs_equal_to_host"] and pi["outputs_equal_to_tflm"] and pi["estimated"]["ms"] > 0
    verdict = next(v for v in report["targets"] if v["target"] == "nucleo-l4r5zi")
    assert verdict["engine"] == "edgekit"
    assert all(line["basis"] in ("measured", "target file") for line in verdict["lines"])
    assert (out / "boards" / "nucleo-l4r5zi" / "firmware.elf").is_file()
    assert (out / "engine" / "model.c").is_file()


def test_check_with_the_edgekit_engine() -> None:
    run = run_edgekit(
        "check",
        shared_model("mlcommons_tiny/vww_96_int8.tflite"),
        "-t",
        "nucleo-l4r5zi",
        "--engine",
        "edgekit",
        "--json",
    )
    assert run.code == 0, run.stderr
    report = json.loads(run.stdout)
    (verdict,) = report["targets"]
    assert verdict["engine"] == "edgekit"
    arena = next(line for line in verdict["lines"] if line["item"].startswith("static arena"))
    # The engine plans VWW's activations in well under TFLM's arena (103,680 B on the host).
    assert arena["ram_bytes"] < 0.6 * 103_680


@needs_toolchain
def test_firmware_builds_without_running(tmp_path: Path) -> None:
    model = shared_model("tflite_micro/hello_world_int8.tflite")
    run = run_edgekit("firmware", model, "-t", "nano33ble", "--opt", "-Os", "--out", tmp_path)
    assert run.code == 0, run.stderr
    folder = tmp_path / "nano33ble"
    assert {"firmware.elf", "firmware.bin", "firmware.hex", "firmware.map"} <= {p.name for p in folder.iterdir()}
    assert (folder / "firmware.elf").read_bytes()[:4] == b"\x7fELF"
    linux = run_edgekit("firmware", model, "-t", "rpi4-2gb", "--out", tmp_path / "pi")
    assert linux.code == 2 and "Linux board" in linux.stderr
