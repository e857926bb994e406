"""The command line's cheap paths: no heavy imports, version, help, targets listing, packaging."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO, run_edgekit

HEAVY = ("tensorflow", "onnxruntime", "keras", "tf_keras", "tf2onnx", "ai_edge_litert", "tflite_micro", "onnx")


def _modules_after(*argv: str) -> set[str]:
    probe = (
        "import sys\n"
        "from edgekit.cli import main\n"
        f"sys.argv = ['edgekit', *{list(argv)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('MODULES', ','.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES "))
    return set(line.split(" ", 1)[1].split(","))


@pytest.mark.parametrize(
    "argv", [("--help",), ("targets",), ("targets", "--json"), ("convert", "--help"), ("--version",)]
)
def test_cheap_commands_import_no_heavy_library(argv: tuple[str, ...]) -> None:
    loaded = _modules_after(*argv)
    assert "edgekit" in loaded
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_version() -> None:
    from edgekit import __version__

    run = run_edgekit("--version")
    assert run.code == 0 and __version__ in run.stdout


def test_targets_lists_every_board_file() -> None:
    run = run_edgekit("targets", "--json")
    assert run.code == 0, run.stderr
    names = {row["name"] for row in json.loads(run.stdout)}
    assert names == {p.stem for p in (REPO / "targets").glob("*.toml")}
    table = run_edgekit("targets").stdout
    assert "nucleo-l4r5zi" in table and "cortex-m55" in table


def test_wheel_ships_the_board_files(tmp_path: Path) -> None:
    """`pip install .` (not only editable) must find the boards: they travel inside the wheel."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("edgekit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("edgekit/data/targets/")}
    assert shipped == {p.name for p in (REPO / "targets").glob("*.toml")}
    assert "edgekit/schema/report.schema.json" in names
