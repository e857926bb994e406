"""All-or-nothing output folders.

Files are written into a hidden staging folder beside `--out`, which replaces `--out` in one
rename once everything succeeded. A failed or interrupted run leaves the previous output as it
was. A folder that edgekit did not write is never replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edgekit.errors import EdgekitError

MARKER = ".edgekit-output"  # marks a folder edgekit wrote, and so may replace


def write_atomic(path: Path, data: bytes) -> None:
    """Write a single file through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def check_replaceable(out: Path) -> None:
    """Refuse early, before any slow work, an --out that we could not or should not replace."""
    if out.exists() and not out.is_dir():
        raise EdgekitError(out, "exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise EdgekitError(out, "exists, is not empty and was not written by edgekit; choose another --out")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgekitError(parent, f"cannot create the output folder: {exc.strerror or exc}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise EdgekitError(parent, "cannot write here: permission denied")
    if out.is_dir() and not os.access(out, os.W_OK | os.X_OK):
        raise EdgekitError(out, "cannot replace the output folder: permission denied")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned_staging(out: Path) -> None:
    """Staging folders left by runs that were killed outright (SIGKILL, power loss)."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(staging|old)-(\d+)-")
    with contextlib.suppress(OSError):
        for entry in out.parent.iterdir():
            match = pattern.match(entry.name)
            if match and not _pid_alive(int(match.group(2))):
                shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Serialize the final swap of concurrent runs that write the same output folder."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class StagedOutput:
    """A staging folder; `path(name)` gives where to write, `commit()` publishes it as `out`."""

    def __init__(self, out: Path) -> None:
        self.out = out
        check_replaceable(out)
        remove_abandoned_staging(out)
        self.dir = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.staging-{os.getpid()}-"))

    def path(self, name: str) -> Path:
        return self.dir / name

    def write(self, name: str, data: bytes) -> Path:
        target = self.dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def commit(self) -> None:
        (self.dir / MARKER).write_bytes(b"This folder was written by edgekit and is replaced on its next run.\n")
        os.chmod(self.dir, 0o755)  # mkdtemp makes it private; an output folder is not
        old = None
        with _folder_lock(self.out.parent):
            # Checked again under the lock: another run may have put a folder there meanwhile.
            check_replaceable(self.out)
            if self.out.exists():
                old = Path(tempfile.mkdtemp(dir=self.out.parent, prefix=f".{self.out.name}.old-{os.getpid()}-"))
                os.replace(self.out, old / "previous")
            os.replace(self.dir, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def staged_output(out: Path) -> Iterator[StagedOutput]:
    staged = StagedOutput(out)
    try:
        yield staged
        staged.commit()
    finally:
        if staged.dir.exists():
            staged.discard()
