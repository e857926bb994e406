"""LiteRT's resident memory for one model, measured in subprocesses on the host.

Two fresh Python processes run `rss_probe.py`: one loads the model with LiteRT, allocates its tensors
and runs one inference; the other does everything but load the model. What the model costs is the
first one's peak resident set (VmHWM) minus the second's. Subprocesses because a process's peak never
comes down: measured in edgekit's own process it would hold whatever ran before.

That difference has two parts, kept apart because only one of them is repeatable:
- working memory (anonymous pages: tensors, arena, XNNPACK's packed weights, buffers): the peak less
  the file-backed pages, the same bytes on every run; it grows with the model;
- kernel code paged in from the LiteRT library to run it (file-backed pages, ~3.8 MB whatever the
  model): how many pages the kernel maps around each fault depends on what the page cache holds,
  which moves the figure by up to ~150 KB between runs. It is rounded up to whole MiB so that the
  same model gives the same report.
The mapped model file is file-backed too; the budget counts it on its own line, at its size.

Only the standard library is imported here (`edgekit check` stays light); LiteRT only in the probes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from edgekit.errors import EdgekitError

PROBE = Path(__file__).resolve().parent / "rss_probe.py"
TIMEOUT_S = 300.0


class LitertCannotRun(EdgekitError):
    """LiteRT refused the model (e.g. a quantization it does not support): no Pi can run it as built."""


CODE_GRANULE = 1 << 20  # the file-backed part is rounded up to this


@dataclass(frozen=True)
class ProbeReading:
    peak_bytes: int  # VmHWM
    file_bytes: int  # RssFile at the end of the run

    @property
    def anonymous_peak_bytes(self) -> int:
        # The file-backed pages only grow during a run (libraries stay mapped), so those counted at
        # the end were there at the peak too.
        return max(0, self.peak_bytes - self.file_bytes)


@dataclass(frozen=True)
class LitertMemory:
    with_model: ProbeReading
    bare: ProbeReading
    runtime: str  # e.g. "ai-edge-litert 2.3.0"

    @property
    def working_bytes(self) -> int:
        """Anonymous memory the model adds: tensors, arena, packed weights. Repeatable, never negative."""
        return max(0, self.with_model.anonymous_peak_bytes - self.bare.anonymous_peak_bytes)

    @property
    def code_bytes(self) -> int:
        """File-backed pages the run adds (library code, the mapped model), rounded up to whole MiB."""
        extra = max(0, self.with_model.file_bytes - self.bare.file_bytes)
        return -(-extra // CODE_GRANULE) * CODE_GRANULE

    @property
    def model_bytes(self) -> int:
        """All the model adds to the process's peak, as budgeted: working memory + code."""
        return self.working_bytes + self.code_bytes

    @property
    def bare_bytes(self) -> int:
        return self.bare.peak_bytes

    def working_method(self) -> str:
        return (
            f"peak RSS (VmHWM) of a Python process that ran the model once with {self.runtime} (default "
            "kernels) minus the same process without the model, file-backed pages (RssFile) left out of "
            "both; x86-64 host"
        )

    def code_method(self) -> str:
        return (
            "RssFile of the same two processes (LiteRT's code, and the mapped model, also on its own line), "
            "the difference rounded up to whole MiB as the page cache moves it by up to ~150 KB; x86-64 host"
        )


def installed_runtime_bytes() -> tuple[int, str]:
    """Bytes the runner's packages take once installed (here), and how that was found."""
    from edgekit.pi.bundle import RUNTIME_PACKAGES

    total, named = 0, []
    for name in RUNTIME_PACKAGES:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            problem = f"{name} is not installed (the Raspberry Pi runtime); pip install -r requirements.txt"
            raise EdgekitError(None, problem) from None
        # RECORD lists each installed file with its size.
        total += sum(entry.size or 0 for entry in dist.files or [])
        named.append(f"{name} {dist.version}")
    return total, f"sizes of the installed files of {' and '.join(named)} (RECORD), x86-64 wheels on the host"


def litert_runtime() -> str:
    try:
        return f"ai-edge-litert {metadata.version('ai-edge-litert')}"
    except metadata.PackageNotFoundError:
        raise EdgekitError(
            None, "ai-edge-litert is not installed (the Raspberry Pi runtime); pip install -r requirements.txt"
        ) from None


# Measurements started early by `prefetch_litert_memory`, by the model's sha256: (thread, [result]).
_prefetched: dict[str, tuple[threading.Thread, list[LitertMemory | BaseException]]] = {}


def prefetch_litert_memory(model_bytes: bytes) -> None:
    """Start measuring in the background (`edgekit check` overlaps it with its own parsing)."""
    key = hashlib.sha256(model_bytes).hexdigest()
    if key in _prefetched:
        return
    box: list[LitertMemory | BaseException] = []

    def work() -> None:
        try:
            box.append(_measure(model_bytes, Path("model.tflite")))
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=work, name="edgekit-litert-memory", daemon=True)
    _prefetched[key] = (thread, box)
    thread.start()


def measure_litert_memory(model_bytes: bytes, path: Path) -> LitertMemory:
    """Peak RSS with and without the model; LitertCannotRun (LiteRT's message) when LiteRT rejects it."""
    prefetched = _prefetched.pop(hashlib.sha256(model_bytes).hexdigest(), None)
    if prefetched is not None:
        thread, box = prefetched
        thread.join()
        result = box[0]
        if isinstance(result, EdgekitError):
            # Measured without knowing the user's path: name it in the message now.
            raise type(result)(path if result.path is not None else None, result.problem) from None
        if isinstance(result, BaseException):
            raise result
        return result
    return _measure(model_bytes, path)


def _measure(model_bytes: bytes, path: Path) -> LitertMemory:
    runtime = litert_runtime()
    with tempfile.TemporaryDirectory(prefix="edgekit-rss-") as tmp:
        model_file = Path(tmp) / "model.tflite"
        model_file.write_bytes(model_bytes)
        # Both at once, to save time: a process's resident set holds none of another's pages.
        with_model = _start("model", str(model_file))
        bare = _start("bare")
        with_model_reading = _finish(with_model, path)
        bare_reading = _finish(bare, path)
    return LitertMemory(with_model_reading, bare_reading, runtime)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROBE), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_probe_env(),
        cwd="/",
    )


def _probe_env() -> dict[str, str]:
    """A fixed environment: the caller's variables (and their size) would otherwise move the peak.

    A fixed hash seed gives the same dict and set layouts; one malloc arena keeps LiteRT's threads
    from each taking their own, which depends on their timing.
    """
    env = {"PYTHONHASHSEED": "0", "MALLOC_ARENA_MAX": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "LC_ALL": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # where LiteRT may have been installed
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _finish(proc: subprocess.Popen[str], path: Path) -> ProbeReading:
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise EdgekitError(path, f"LiteRT did not finish one inference within {TIMEOUT_S:.0f} s") from None
    try:
        answer = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        last = (err.strip().splitlines() or [f"exit code {proc.returncode}"])[-1][:200]
        raise EdgekitError(path, f"the LiteRT memory probe failed: {last}") from None
    if "peak_rss_bytes" in answer:
        return ProbeReading(int(answer["peak_rss_bytes"]), int(answer["file_rss_bytes"]))
    if answer.get("kind") == "import":
        raise EdgekitError(None, f"cannot import LiteRT ({answer['error']}); pip install -r requirements.txt")
    raise LitertCannotRun(path, str(answer["error"]))
