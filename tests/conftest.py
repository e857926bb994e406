"""Shared test helpers: paths, the reference-model folder, and running the real `edgekit` command."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = REPO.parent / "shared" / "models"
EXAMPLES = REPO / "examples"
EXAMPLE_MODEL = EXAMPLES / "digits_cnn.keras"
EXAMPLE_CALIB = EXAMPLES / "digits_calib.npz"
EXAMPLE_EVAL = EXAMPLES / "digits_eval.npz"


def shared_model(relative: str) -> Path:
    """A reference model from ../shared/models, or skip the test when that folder is absent."""
    path = SHARED_MODELS / relative
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"reference models not present ({SHARED_MODELS} is absent)")
    if not path.exists():
        pytest.skip(f"reference model {relative} is not in {SHARED_MODELS}")
    return path


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def run_edgekit(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 600
) -> Run:
    """Run the real command line in a fresh process, as a user or a CI job would."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", *map(str, args)],
        cwd=cwd or REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_user_error(run: Run, *fragments: str) -> None:
    """Exit 2, one line `edgekit: PATH: PROBLEM` on stderr, no traceback."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("edgekit: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def edgekit_cli(capsys: pytest.CaptureFixture[str]):
    """Run the command line in this process (TensorFlow imported once for many cases)."""
    from edgekit.cli import run_command

    def run(*args: str | Path) -> Run:
        capsys.readouterr()
        try:
            run_command([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run
