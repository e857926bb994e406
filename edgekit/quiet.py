"""Keeps TensorFlow's and the native runtimes' log chatter off the user's terminal.

The converters and interpreters print from C++ straight to file descriptor 2, which Python's
`sys.stderr` redirection cannot catch; the text is kept so that a failure can still show it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator


def quiet_tensorflow_logs() -> None:
    """Set before TensorFlow is first imported: only errors from its C++ side."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # keeps float results the same run to run
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


class CapturedText:
    def __init__(self) -> None:
        self.text = ""


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[CapturedText]:
    """Capture everything written to fd 2 (C and Python) for the duration of the block."""
    captured = CapturedText()
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace")
