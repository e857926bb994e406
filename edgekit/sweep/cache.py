"""The sweep's cache: the previous run's candidate folders, found again by content hash.

A sweep's output folder holds `candidates/<id>/`, each with `sweep_candidate.json` naming the key of
the inputs it was computed from. The next run into the same folder reads them before it replaces the
folder, and reuses every candidate whose key comes out the same; the rest is recomputed. Keys hash
everything the figures depend on (see `run.cache_key`), never file names of this machine or times.

The cache is best effort: an entry that cannot be read is recomputed, never an error.
"""

from __future__ import annotations

import contextlib
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
    """What a latency / engine figure depends on: the model, the board's facts, this edgekit."""
    facts = target.as_dict()
    facts.pop("source", None)  # where the board file lives is not a fact about the board
    return hash_parts({"cache_format": FORMAT, "edgekit": __version__, "tflite": tflite_sha256, "board": facts})


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
