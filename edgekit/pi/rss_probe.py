"""Peak resident memory of a Python process running an int8 model with LiteRT.

Run by path, never imported: `python rss_probe.py bare` or `python rss_probe.py model MODEL.tflite`.
Both modes import the same modules and build nothing else, so their difference is what the model
costs. It prints one JSON object: {"peak_rss_bytes": N} or {"error": "...", "kind": "..."}.

Address-space randomisation makes the peak vary by ~100 KB from run to run; the probe turns it off
for itself (personality(ADDR_NO_RANDOMIZE), then re-exec) so that a report is the same bytes each
time. The interpreter is built as run_model.py builds it by default: LiteRT's default kernels.
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


def _peak_rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise RuntimeError("no VmHWM in /proc/self/status")


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
    print(json.dumps({"peak_rss_bytes": _peak_rss_bytes()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
