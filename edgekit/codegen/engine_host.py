"""Build a generated engine folder for this machine and call it from Python (ctypes).

Used by the bit-exact tests and by anything that wants to run the engine's C on the host, e.g. to
compare it with the tflite-micro interpreter before flashing. Needs a C compiler (`cc`, or $CC).
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.ir.graph import Graph, dtype_info

HOST_CFLAGS = ("-std=c99", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror")


def write_folder(files: Mapping[str, bytes], folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def compiler() -> str:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("no C compiler found (set CC)")
    return cc


def build_shared_library(folder: str | Path, output: str | Path | None = None,
                         flags: Sequence[str] = HOST_CFLAGS) -> Path:
    """Compile every .c file of `folder` into one shared library; raise RuntimeError with the
    compiler's message if it fails (warnings are errors)."""
    folder = Path(folder)
    lib = Path(output) if output else folder / "libengine.so"
    sources = sorted(str(p) for p in folder.glob("*.c"))
    proc = subprocess.run([compiler(), *flags, *sources, "-o", str(lib)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"compiling {folder} failed:\n{proc.stderr[-4000:]}")
    return lib


@dataclass
class HostEngine:
    """A compiled engine: `invoke` takes one array per graph input and returns one per output."""

    lib: ctypes.CDLL
    name: str
    input_specs: list[tuple[tuple[int, ...], np.dtype]]
    output_specs: list[tuple[tuple[int, ...], np.dtype]]
    _tmp: tempfile.TemporaryDirectory[str] | None = None

    def invoke(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if len(inputs) != len(self.input_specs):
            raise ValueError(f"expected {len(self.input_specs)} inputs, got {len(inputs)}")
        in_bufs = []
        for arr, (shape, dtype) in zip(inputs, self.input_specs, strict=True):
            a = np.ascontiguousarray(np.asarray(arr, dtype=dtype).reshape(shape))
            in_bufs.append(a)
        out_bufs = [np.zeros(shape, dtype=dtype) for shape, dtype in self.output_specs]
        in_ptrs = (ctypes.c_void_p * len(in_bufs))(*[a.ctypes.data for a in in_bufs])
        out_ptrs = (ctypes.c_void_p * len(out_bufs))(*[a.ctypes.data for a in out_bufs])
        fn = getattr(self.lib, f"{self.name}_invoke_multi")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        status = fn(in_ptrs, out_ptrs)
        if status != 0:
            raise RuntimeError(f"{self.name}_invoke_multi failed in layer {status - 1}")
        return out_bufs


def _specs(graph: Graph, tensors: Sequence[int]) -> list[tuple[tuple[int, ...], np.dtype]]:
    result = []
    for t in tensors:
        tensor = graph.tensors[t]
        np_dtype = dtype_info(tensor.dtype).numpy
        if np_dtype is None:
            raise ValueError(f"tensor {t} has type {tensor.dtype}, which has no numpy equivalent")
        result.append((tensor.shape, np.dtype(np_dtype)))
    return result


def load_host_engine(graph: Graph, files: Mapping[str, bytes], name: str = "model",
                     workdir: str | Path | None = None) -> HostEngine:
    """Write `files` (from generate_engine), compile them with the host compiler and load them."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="edgekit-engine-")
        workdir = tmp.name
    folder = write_folder(files, workdir)
    lib = ctypes.CDLL(str(build_shared_library(folder)))
    return HostEngine(lib, name, _specs(graph, graph.inputs), _specs(graph, graph.outputs), tmp)


def compare_with_tflm(model_bytes: bytes, engine: HostEngine, cases: Sequence[Sequence[np.ndarray]],
                      arena_size: int = 8 << 20) -> list[int]:
    """Run every case (one array per input) through the tflite-micro interpreter and the engine;
    return the indices of the cases whose outputs differ in any byte. Needs tflite-micro."""
    from tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)
    mismatches = []
    for n, inputs in enumerate(cases):
        # TFLM may reuse an input tensor's memory for later tensors: set every input again each time.
        for i, x in enumerate(inputs):
            interpreter.set_input(np.asarray(x), i)
        interpreter.invoke()
        expected = [interpreter.get_output(i) for i in range(len(engine.output_specs))]
        got = engine.invoke(*inputs)
        if any(e.tobytes() != g.tobytes() or e.size != g.size for e, g in zip(expected, got, strict=True)):
            mismatches.append(n)
    return mismatches
