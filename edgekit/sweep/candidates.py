"""What the sweep compares: model files as given, or one builder function at several widths.

Nothing here imports TensorFlow or runs the user's builder: the sweep must be able to tell, from
file contents alone, which candidates its cache already holds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.load import detect

# Directory names are also candidate ids: keep them to characters every file system accepts.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def digest(path: Path) -> str:
    """sha256 of a file, or of a folder's relative paths and file contents (a SavedModel)."""
    h = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(file.relative_to(path).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(file.read_bytes()).digest())
        return h.hexdigest()
    h.update(path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Builder:
    """`file.py:function` or `package.module:function`, as the user wrote it."""

    spec: str
    function: str
    file: Path | None  # the form with a path
    module: str | None  # the importable form

    def source_file(self) -> Path:
        if self.file is not None:
            return self.file
        assert self.module is not None
        try:
            found = importlib.util.find_spec(self.module)
        except (ImportError, ValueError) as exc:
            raise EdgekitError(self.spec, f"cannot find module {self.module!r}: {exc}") from None
        if found is None or not found.origin or not Path(found.origin).is_file():
            raise EdgekitError(
                self.spec, f"cannot find module {self.module!r} (give a file path, e.g. path/to/file.py:function)"
            )
        return Path(found.origin)

    def source_digest(self) -> str:
        """What the cache keys on: the builder's own source file (not the modules it imports)."""
        return digest(self.source_file())

    def load(self) -> Callable[[float], Any]:
        """Import the builder. This runs the user's own code, on purpose: it is their model family."""
        try:
            if self.file is not None:
                name = f"edgekit_sweep_builder_{hashlib.sha256(str(self.file.resolve()).encode()).hexdigest()[:12]}"
                spec = importlib.util.spec_from_file_location(name, self.file)
                if spec is None or spec.loader is None:
                    raise EdgekitError(self.spec, "not a Python file")
                module = importlib.util.module_from_spec(spec)
                # Registered before running it, as `import` does, so dataclasses and pickling inside work.
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                assert self.module is not None
                module = importlib.import_module(self.module)
        except EdgekitError:
            raise
        except Exception as exc:
            raise EdgekitError(self.spec, f"importing the builder failed: {type(exc).__name__}: {exc}") from None
        fn = getattr(module, self.function, None)
        if not callable(fn):
            raise EdgekitError(self.spec, f"no function {self.function!r} in the builder's module")
        return fn


def parse_builder(spec: str) -> Builder:
    where, sep, function = spec.rpartition(":")
    if not sep or not where or not function.isidentifier():
        raise EdgekitError(
            spec, "--builder takes FILE.py:FUNCTION or MODULE:FUNCTION, e.g. examples/digits_family.py:build"
        )
    if where.endswith(".py") or "/" in where or "\\" in where:
        file = Path(where)
        if not file.is_file():
            raise EdgekitError(file, "no such builder file")
        return Builder(spec, function, file, None)
    if not all(part.isidentifier() for part in where.split(".")):
        raise EdgekitError(spec, f"{where!r} is neither a .py file nor a module name")
    return Builder(spec, function, None, where)


def parse_widths(text: str) -> list[float]:
    """`0.25,0.5,1,2` -> [0.25, 0.5, 1.0, 2.0]; duplicates dropped, order kept."""
    widths: list[float] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            raise EdgekitError(text, f"--widths: {part!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise EdgekitError(text, f"--widths: {part!r} must be a positive number")
        if value not in widths:
            widths.append(value)
    if not widths:
        raise EdgekitError(text, "--widths needs at least one width, e.g. 0.25,0.5,1,2")
    return widths


def width_id(width: float) -> str:
    return f"w{width:g}"


@dataclass(frozen=True)
class FileCandidate:
    id: str
    path: Path
    format: str

    def describe(self) -> dict[str, Any]:
        return {"kind": "model_file", "file": self.path.name, "format": self.format}


@dataclass(frozen=True)
class BuiltCandidate:
    id: str
    builder: Builder
    width: float

    def describe(self) -> dict[str, Any]:
        return {"kind": "builder", "builder": self.builder.spec, "width": self.width}


Candidate = FileCandidate | BuiltCandidate


def file_candidates(paths: Sequence[Path]) -> list[FileCandidate]:
    """One candidate per distinct model file; ids from the file names, made unique."""
    seen: set[Path] = set()
    out: list[FileCandidate] = []
    taken: set[str] = set()
    for path in paths:
        fmt = detect.detect_format(path)  # raises EdgekitError for a missing or unknown file
        if fmt == detect.ONNX:
            raise EdgekitError(
                path,
                "edgekit sweep budgets each candidate from its int8 TFLite, which edgekit cannot make from "
                "ONNX yet; give the Keras or SavedModel model, or an int8 .tflite",
            )
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        base = _UNSAFE.sub("_", path.name if path.is_dir() else path.stem) or "model"
        ident, n = base, 2
        while ident in taken:
            ident, n = f"{base}-{n}", n + 1
        taken.add(ident)
        out.append(FileCandidate(ident, path, fmt))
    return out


def built_candidates(builder: Builder, widths: Sequence[float]) -> list[BuiltCandidate]:
    return [BuiltCandidate(width_id(w), builder, w) for w in widths]
