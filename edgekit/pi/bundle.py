"""The Raspberry Pi deploy bundle: the int8 model, a LiteRT runner and its pinned requirements.

Files only, as bytes: callers write them through edgekit.outdir. The same model gives the same bytes.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "run_model.py"
_CHECKOUT = Path(__file__).resolve().parents[2]  # the repository, when edgekit runs from a checkout
MODEL_FILE = "model_int8.tflite"
# The runner's own imports; their versions come from the repository's pinned set.
RUNTIME_PACKAGES = ("ai-edge-litert", "numpy")


def pi_bundle(model_bytes: bytes) -> dict[str, bytes]:
    """File name -> contents of the bundle for `model_bytes` (an int8 .tflite)."""
    return {
        MODEL_FILE: model_bytes,
        "run_model.py": RUNNER.read_bytes(),
        "requirements.txt": requirements_text().encode(),
        "README.md": _readme().encode(),
    }


def runtime_pins() -> dict[str, str]:
    """Package -> version for the runner: the repository's requirements.txt, else what is installed.

    A wheel install has no requirements.txt; the versions edgekit itself runs with are then the ones
    its validation used, so they are the right pins too.
    """
    checkout = (_CHECKOUT / "pyproject.toml").is_file()
    pins = _pins_from(_CHECKOUT / "requirements.txt") if checkout else {}
    for name in RUNTIME_PACKAGES:
        if name not in pins:
            pins[name] = metadata.version(name)
    return {name: pins[name] for name in RUNTIME_PACKAGES}


def requirements_text() -> str:
    lines = ["# The runtime of run_model.py, pinned to the versions edgekit validated the model with."]
    lines += [f"{name}=={version}" for name, version in runtime_pins().items()]
    return "\n".join(lines) + "\n"


_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def _pins_from(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            # PEP 503: names compare case-insensitively with '-', '_' and '.' alike.
            pins[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return pins


def _readme() -> str:
    return (
        "# Raspberry Pi bundle (written by edgekit)\n\n"
        f"`{MODEL_FILE}` is the full-integer int8 model; `run_model.py` runs it with LiteRT.\n"
        "Use 64-bit (AArch64) Raspberry Pi OS, also on a Pi Zero 2 W or 3B+: the budget assumed it.\n\n"
        "```\n"
        "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt\n"
        ".venv/bin/python run_model.py                        # zero input, prints outputs and latency\n"
        ".venv/bin/python run_model.py --input x.npy --output y.npy\n"
        ".venv/bin/python run_model.py --input x.npz --reference   # int8 outputs as edgekit validated them\n"
        "```\n"
    )
