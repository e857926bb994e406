"""Interrupted and concurrent runs: a previous good output survives, nothing half-written stays."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import EXAMPLE_CALIB, EXAMPLE_MODEL, REPO, run_edgekit, shared_model


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def good_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("interrupts") / "out"
    run = run_edgekit("convert", EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "--out", out, "--quiet")
    assert run.code == 0, run.stderr
    return out


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_convert_keeps_the_previous_output(good_output: Path, signum: int) -> None:
    before = _tree_digest(good_output)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edgekit",
            "convert",
            str(EXAMPLE_MODEL),
            "--calib",
            str(EXAMPLE_CALIB),
            "--out",
            str(good_output),
            "--quiet",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The run imports TensorFlow (~3 s), then converts and validates for several seconds more:
    # 4 s in, it is in the middle of the work.
    time.sleep(4.0)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    assert _tree_digest(good_output) == before
    leftovers = [p.name for p in good_output.parent.iterdir() if p.name != good_output.name]
    assert leftovers == []


def test_parallel_runs_into_different_folders_both_succeed(tmp_path: Path) -> None:
    other = shared_model("tflite_micro/hello_world_int8.tflite")
    jobs = [
        ("convert", EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "--out", tmp_path / "a", "--quiet"),
        ("convert", other, "--out", tmp_path / "b", "--quiet"),
    ]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda args: run_edgekit(*args), jobs))
    assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
    assert (tmp_path / "a" / "model_float.onnx").is_file()
    assert not (tmp_path / "b" / "model_float.onnx").exists()
    assert (tmp_path / "b" / "model_int8.tflite").read_bytes() == other.read_bytes()


def test_parallel_runs_into_the_same_folder_never_mix(tmp_path: Path) -> None:
    other = shared_model("tflite_micro/hello_world_int8.tflite")
    out = tmp_path / "same"
    jobs = [
        ("convert", EXAMPLE_MODEL, "--calib", EXAMPLE_CALIB, "--out", out, "--quiet"),
        ("convert", other, "--out", out, "--quiet"),
    ]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda args: run_edgekit(*args), jobs))
    assert [r.code for r in runs] == [0, 0], [r.stderr for r in runs]
    names = {p.name for p in out.iterdir()}
    # Whichever finished last owns the folder, whole: never files of both runs.
    example_files = {"model_float.onnx", "model_int8.onnx"}
    if example_files <= names:
        assert (out / "model_int8.tflite").read_bytes() != other.read_bytes()
    else:
        assert not names & example_files
        assert (out / "model_int8.tflite").read_bytes() == other.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["same"]
    assert os.listdir(out)
