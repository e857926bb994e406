"""Peak resident memory of a Python process running an int8 model with LiteRT.

Run by path, never imported: `python rss_probe.py bare` or `python rss_probe.py model MODEL.tflite`.
Both modes import the same modules and build nothing else, so their difference is what the model
costs. It prints one JSON object, {"peak_rss_bytes": N, "file_rss_bytes": N, "anon_rss_bytes": N},
read after the run with the interpreter still alive, or {"error": "...", "kind": "..."}.

Address-space randomisation makes the peak vary by ~100 KB from run to run; the probe turns it off
for itself (personality(ADDR_NO_RANDOMIZE), then re-exec). File-backed pages (library code, the
mapped model) still vary with the page cache, so the caller keeps them apart (edgekit.pi.memory).
The interpreter is built as run_model.py builds it by default: LiteRT's default kernels.
"""

from __future__ import annotations

import json
import os
import re
import sys

ADDR_NO_RANDOMIZE = 0x0040000
_REEXEC_ENV = "EDGEKIT_RSS_PROBE_FIXED_LAYOUT"


def _fixed_layout() -> None:
    """Re-execute this process with address-space randomisation off, when the kernel allows it."""
    if os.environ.get(_REEXEC_ENV):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    current = libc.personality(0xFFFFFFFF)  # 0xffffffff queries without changing
    if current == -1 or libc.personality(current | ADDR_NO_RANDOMIZE) == -1:
        return  # not allowed here (e.g. a seccomp filter): measure with randomisation on
    os.environ[_REEXEC_ENV] = "1"
    os.execv(sys.executable, [sys.executable, *sys.argv])


def _memory_status() -> dict[str, int]:
    """VmHWM (peak resident), RssFile and RssAnon from /proc/self/status, in bytes."""
    wanted = {"VmHWM", "RssFile", "RssAnon", "RssShmem"}
    found = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in wanted:
                found[key] = int(value.split()[0]) * 1024  # the kernel reports kB
    missing = wanted - set(found)
    if missing:
        raise RuntimeError(f"no {', '.join(sorted(missing))} in /proc/self/status")
    return found


def main(argv: list[str]) -> int:
    _fixed_layout()
    try:
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        print(json.dumps({"error": str(exc), "kind": "import"}))
        return 3
    if argv[:1] == ["model"]:
        try:
            interpreter = Interpreter(model_path=argv[1])
            interpreter.allocate_tensors()
            for detail in interpreter.get_input_details():
                interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
            interpreter.invoke()
            for detail in interpreter.get_output_details():
                interpreter.get_tensor(detail["index"])
        except Exception as exc:  # LiteRT raises RuntimeError / ValueError with its own message
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            # LiteRT runs its messages together ("...Was 3.Tensor 33 has..."): keep the first one.
            first = re.split(r"(?<=\.)(?=[A-Z])", lines[0])[0]
            print(json.dumps({"error": first[:300], "kind": "model"}))
            return 4
    status = _memory_status()
    print(
        json.dumps(
            {
                "peak_rss_bytes": status["VmHWM"],
                "file_rss_bytes": status["RssFile"],
                "anon_rss_bytes": status["RssAnon"] + status["RssShmem"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
