"""The sweep's cache: the previous run's candidate folders, found again by content hash.

A sweep's output folder holds `candidates/<id>/`, each with `sweep_candidate.json` naming the key of
the inputs it was computed from. The next run into the same folder reads them before it replaces the
folder, and reuses every candidate whose key comes out the same; the rest is recomputed. Keys hash
everything the figures depend on (see `run.cache_key`), never file names of this machine or times.

The cache is best effort: an entry that cannot be read is recomputed, never an error.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edgekit import __version__
from edgekit.outdir import MARKER
from edgekit.sweep.measure import LatencyFigures
from edgekit.targets import Target

FORMAT = 1  # bump when what a cached entry holds changes meaning
CANDIDATES_DIR = "candidates"
RECORD = "sweep_candidate.json"
MEASURED = "measured.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()


def hash_parts(parts: dict[str, Any]) -> str:
    return sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode())


def measurement_key(tflite_sha256: str, target: Target) -> str:
    """What a latency / engine figure depends on: the model, the board's facts, this edgekit, the
    engine and firmware sources that make the firmware (so a kernel change is measured again, even
    within one version) and the cross compiler and emulator that build and run it."""
    from edgekit.sweep.measure import tools_identity

    facts = target.as_dict()
    facts.pop("source", None)  # where the board file lives is not a fact about the board
    parts = {"cache_format": FORMAT, "edgekit": __version__, "tflite": tflite_sha256, "board": facts}
    if target.is_mcu:
        parts.update(sources=engine_sources_digest(), tools=tools_identity())
    return hash_parts(parts)


# What the firmware run's figures come from, besides the model: the package's `firmware/` folder
# (kernels, start-up, harness, linker scripts, counting plugin) and these modules of edgekit.
_ENGINE_MODULES = ("codegen/engine*.py", "emulate/*.py", "firmware.py", "on_board.py", "sweep/measure.py")


@functools.cache
def engine_sources_digest() -> str:
    """sha256 over the engine codegen, firmware and emulation sources (relative path and content)."""
    from edgekit.resources import data_dir

    package = Path(__file__).resolve().parents[1]
    files: list[tuple[str, Path]] = []
    firmware = data_dir("firmware")
    for path in firmware.rglob("*"):
        rel = path.relative_to(firmware)
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            files.append((f"firmware/{rel.as_posix()}", path))
    for pattern in _ENGINE_MODULES:
        files += [(f"edgekit/{path.relative_to(package).as_posix()}", path) for path in package.glob(pattern)]
    digest = hashlib.sha256()
    for name, path in sorted(files):
        data = path.read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


@dataclass
class Entry:
    record: dict[str, Any]  # accuracies, eval sample count, conversion notes
    files: dict[str, bytes]  # the candidate folder's files, relative paths


@dataclass
class Previous:
    candidates: dict[str, Entry] = field(default_factory=dict)  # by cache key
    measurements: dict[str, LatencyFigures] = field(default_factory=dict)  # by measurement key


_RECORD_FIELDS = ("float_accuracy", "int8_accuracy", "eval_samples")
_FIGURE_FIELDS = {f.name for f in fields(LatencyFigures)}


def load_previous(out_dir: Path) -> Previous:
    previous = Previous()
    root = out_dir / CANDIDATES_DIR
    # Only a folder edgekit wrote: anything else is not ours to trust (and the run will refuse it anyway).
    if not (out_dir / MARKER).is_file() or not root.is_dir():
        return previous
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            _load_folder(folder, previous)
    return previous


def _load_folder(folder: Path, previous: Previous) -> None:
    measured = folder / MEASURED
    if measured.is_file():
        for key, figures in json.loads(measured.read_text()).items():
            previous.measurements[key] = LatencyFigures(**{k: v for k, v in figures.items() if k in _FIGURE_FIELDS})
    record = json.loads((folder / RECORD).read_text())
    key = record["key"]
    if not isinstance(key, str) or any(name not in record for name in _RECORD_FIELDS):
        return
    files = {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in (RECORD, MEASURED)
    }
    if "model_int8.tflite" in files:
        previous.candidates[key] = Entry(record, files)
