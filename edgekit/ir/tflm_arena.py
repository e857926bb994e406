"""Measure the tensor arena TFLM really uses for a model, with the tflite-micro Python interpreter.

This is the only module of `edgekit.ir` that uses tflite_micro, and it never imports it into the
calling process: each measurement runs the interpreter in a child Python process. Two facts measured
on the reference models force that:
- the interpreter reports its arena only as text printed from C++ to stderr (file descriptor 2),
  which a child's stderr pipe captures whole;
- an arena that is too small does not always fail cleanly: for dtln_noise_suppression and
  keyword_scrambled the interpreter segfaults with an arena of exactly the size it reported as used,
  which would take the caller (a CLI run, a pytest session) down with it.
The reported total is also not always enough to run the model again (hello_world, the LSTM and SVDF
models need more), so the smallest arena that works is searched for separately, by trying sizes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Larger arenas than this are not tried: no microcontroller has that much RAM.
MAX_ARENA_BYTES = 1 << 30
ALIGNMENT = 16
PROBE_TIMEOUT_S = 60

_LINE = re.compile(r"Arena allocation (total|head|tail) (\d+) bytes")
# Every arena allocator failure message in TFLM ends with "missing: N"; other failures (unsupported
# ops, hybrid models) do not go away with a bigger arena.
_ARENA_SHORT = re.compile(r"missing: \d+|Failed to allocate (memory|variable|temp)")

# Runs in the child: build the interpreter with the given arena, run one inference on the zero inputs
# it starts with (kernels may ask for scratch memory on first Invoke), then print the allocation report.
# In the same child it then tries an arena of exactly the reported total, which works for most models:
# one process instead of two keeps `edgekit check` cheap. Where that attempt crashes, the report was
# already written and the parent searches in separate processes.
TOTAL_RUNS = "EDGEKIT_TOTAL_ARENA_RUNS"
_CHILD = """
import os, re, sys, tempfile
from tflite_micro import runtime
with open(sys.argv[1], "rb") as f:
    data = f.read()
interpreter = runtime.Interpreter.from_bytes(data, arena_size=int(sys.argv[2]))
interpreter.invoke()
if sys.argv[3] == "report":
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        interpreter.print_allocations()
        os.dup2(saved, 2)
        sink.seek(0)
        text = sink.read().decode("utf-8", "replace")
    sys.stderr.write(text)
    sys.stderr.flush()
    total = re.search(r"Arena allocation total (\\d+) bytes", text)
    if total:
        arena = -(-int(total.group(1)) // 16) * 16
        runtime.Interpreter.from_bytes(data, arena_size=arena).invoke()
        sys.stderr.write(f"TOTAL_RUNS {arena}\\n")
""".replace("TOTAL_RUNS", TOTAL_RUNS)


# Answers "does the model run with an arena of N bytes?" for each N read from stdin, one line each.
# Each try runs in a forked process: a too-small arena can crash the interpreter, and forking the
# process that has already imported tflite_micro costs milliseconds instead of a fresh interpreter
# start (~0.15 s) per try.
_PROBE_SERVER = """
import os, sys
from tflite_micro import runtime
with open(sys.argv[1], "rb") as f:
    data = f.read()
for line in sys.stdin:
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            runtime.Interpreter.from_bytes(data, arena_size=int(line)).invoke()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write("ok\\n" if os.waitstatus_to_exitcode(status) == 0 else "fail\\n")
    sys.stdout.flush()
"""


class _Prober:
    """A child process that tries arena sizes; see _PROBE_SERVER."""

    def __init__(self, model_path: str) -> None:
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _PROBE_SERVER, model_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
        )

    def runs(self, arena_size: int) -> bool:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"{arena_size}\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline().strip()
        if answer not in ("ok", "fail"):
            raise RuntimeError("the TFLM arena probe stopped unexpectedly")
        return answer == "ok"

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._proc.kill()


@dataclass
class TflmArena:
    total_bytes: int  # head + tail, as TFLM reports it for this (64-bit host) build
    head_bytes: int  # non-persistent part: the tensor memory plan and scratch buffers
    tail_bytes: int  # persistent part: runtime structs, quantization data, variable tensors
    raw_text: str  # the interpreter's allocation report as printed
    arena_size: int  # the arena the report was taken with (large enough, not minimal)
    # Smallest arena (multiple of 16) with which the interpreter builds and runs the model; None when
    # not searched. Can exceed total_bytes: prepare-time scratch is freed before the report is made.
    min_arena_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "head_bytes": self.head_bytes,
            "tail_bytes": self.tail_bytes,
            "arena_size": self.arena_size,
            "min_arena_bytes": self.min_arena_bytes,
            "raw_text": self.raw_text,
        }


@dataclass
class _Run:
    ok: bool
    stderr: str
    returncode: int

    @property
    def arena_too_small(self) -> bool:
        return _ARENA_SHORT.search(self.stderr) is not None

    def describe(self) -> str:
        if self.returncode < 0:
            return f"the interpreter crashed (signal {-self.returncode})"
        # TFLM's own log comes before Python's traceback; the traceback's last line is the exception.
        log, _, traceback = self.stderr.partition("Traceback (most recent call last):")
        lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
        tail = [ln.strip() for ln in traceback.splitlines() if ln.strip()][-1:]
        return " ".join(tail + lines[-3:])[:300] or f"exit code {self.returncode}"


def _run(model_path: str, arena_size: int, report: bool) -> _Run:
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, model_path, str(arena_size), "report" if report else "run"],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _Run(False, f"timed out after {PROBE_TIMEOUT_S} s", 1)
    return _Run(proc.returncode == 0, proc.stderr.decode("utf-8", errors="replace"), proc.returncode)


def _align(n: int) -> int:
    return -(-n // ALIGNMENT) * ALIGNMENT


def _smallest_working(runs: Callable[[int], bool], low: int, high: int) -> int:
    """Smallest multiple of 16 in [low, high] that runs, given that `high` runs; assumes a larger
    arena never fails where a smaller one worked."""
    low, high = _align(low), _align(high)
    if runs(low):
        return low
    # Grow the step from the failing size first: the answer is usually just above the reported total.
    step = 4 * ALIGNMENT
    while low + step < high:
        if runs(low + step):
            high = low + step
            break
        low, step = low + step, step * 2
    # Invariant: `low` fails, `high` works.
    while high - low > ALIGNMENT:
        mid = _align((low + high) // 2)
        if mid >= high:
            mid = high - ALIGNMENT
        if mid <= low:
            break
        if runs(mid):
            high = mid
        else:
            low = mid
    return high


_prefetched: dict[str, tuple[threading.Thread, list[Any]]] = {}


def prefetch_tflm_arena(model_bytes: bytes) -> None:
    """Start measuring in the background, so that the interpreter's start-up in its child process
    overlaps the caller's own imports and parsing (`edgekit check` is a CI gate: every 0.1 s counts).
    `measure_tflm_arena` on the same bytes then waits for this result."""
    key = hashlib.sha256(model_bytes).hexdigest()
    if key in _prefetched:
        return
    box: list[Any] = []

    def work() -> None:
        try:
            box.append(measure_tflm_arena(model_bytes, use_prefetched=False))
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=work, name="edgekit-tflm-arena", daemon=True)
    _prefetched[key] = (thread, box)
    thread.start()


def measure_tflm_arena(model_bytes: bytes, *, find_minimal: bool = True, use_prefetched: bool = True) -> TflmArena:
    """Run `model_bytes` once in the tflite-micro interpreter and return its arena report.

    The interpreter needs an arena size up front; it is started generously and doubled while the
    model does not fit. With `find_minimal`, the smallest arena that runs the model is then searched
    for (a few more interpreter runs, about 0.2 s each). Raises RuntimeError if TFLM cannot run the
    model (hybrid models, ops it lacks, a crash) or tflite-micro is not installed.
    """
    key = hashlib.sha256(model_bytes).hexdigest() if use_prefetched and find_minimal else None
    if key is not None and key in _prefetched:
        thread, box = _prefetched.pop(key)
        thread.join()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]
    if importlib.util.find_spec("tflite_micro") is None:
        raise RuntimeError("tflite-micro is not installed (pip install tflite-micro)")
    data = bytes(model_bytes)
    with tempfile.TemporaryDirectory(prefix="edgekit-tflm-") as tmp:
        model_path = os.path.join(tmp, "model.tflite")
        with open(model_path, "wb") as f:
            f.write(data)

        arena_size = _align(max(len(data) * 10, 1 << 20))
        while True:
            run = _run(model_path, arena_size, report=True)
            if run.ok or len(_LINE.findall(run.stderr)) >= 3:  # the report came out before any crash
                break
            if not run.arena_too_small or arena_size * 2 > MAX_ARENA_BYTES:
                raise RuntimeError(f"TFLM cannot run the model: {run.describe()}")
            arena_size *= 2

        report = [ln for ln in run.stderr.splitlines() if "RecordingMicroAllocator" in ln]
        values = {kind: int(n) for kind, n in _LINE.findall(run.stderr)}
        if not {"total", "head", "tail"} <= values.keys():
            raise RuntimeError(f"unexpected TFLM allocation report: {run.stderr.strip()[:200]!r}")
        minimal = None
        if find_minimal:
            total_runs = re.search(rf"{TOTAL_RUNS} (\d+)", run.stderr)
            if total_runs:
                minimal = int(total_runs.group(1))
            else:
                prober = _Prober(model_path)
                try:
                    minimal = _smallest_working(prober.runs, values["total"], arena_size)
                finally:
                    prober.close()
    return TflmArena(
        total_bytes=values["total"],
        head_bytes=values["head"],
        tail_bytes=values["tail"],
        raw_text="\n".join(report),
        arena_size=arena_size,
        min_arena_bytes=minimal,
    )
