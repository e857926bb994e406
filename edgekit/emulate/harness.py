"""Reading what the run harness (firmware/harness/main.c, or host_main.c) printed.

Lines start with "EDGEKIT "; anything else on the console is ignored, so a model that prints its own
debug text does not confuse the parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

_RUN = re.compile(r"^EDGEKIT RUN (\d+) rc=(-?\d+)(.*)$")
_OUT = re.compile(r"^EDGEKIT OUT (\d+) ([0-9a-f]*)$")
_KV = re.compile(r"(\w+)=(\d+)")


@dataclass
class HarnessOutput:
    outputs: np.ndarray  # int8, one row per input vector that completed
    return_codes: list[int]
    call_stack_bytes: list[int]  # stack the NAME_invoke call itself used, per input
    ticks: list[int]  # SysTick ticks per call (-icount runs only)
    stack_high_water: int | None  # deepest stack use over the whole run, from the stack top
    began: bool
    ended: bool
    fault: str | None  # the harness's "EDGEKIT FAULT ..." line, without the prefix
    header: dict[str, str] = field(default_factory=dict)


def parse_harness_output(text: str, n_inputs: int) -> HarnessOutput:
    """Parse the console text of one run. Rows missing because a run stopped early are left out."""
    outputs: dict[int, bytes] = {}
    codes: dict[int, int] = {}
    stacks: dict[int, int] = {}
    ticks: dict[int, int] = {}
    high_water = None
    began = ended = False
    fault = None
    header: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        # Semihosting text can share a line with earlier unterminated output: find our marker.
        pos = line.find("EDGEKIT ")
        if pos < 0:
            continue
        line = line[pos:]
        if line.startswith("EDGEKIT BEGIN"):
            began = True
            header = dict(part.split("=", 1) for part in line.split()[2:] if "=" in part)
        elif line.startswith("EDGEKIT END"):
            ended = True
        elif line.startswith("EDGEKIT FAULT"):
            fault = line[len("EDGEKIT FAULT") :].strip()
        elif line.startswith("EDGEKIT STACK"):
            values = dict(_KV.findall(line))
            high_water = int(values["high_water"]) if "high_water" in values else None
        elif match := _RUN.match(line):
            index = int(match.group(1))
            codes[index] = int(match.group(2))
            values = {k: int(v) for k, v in _KV.findall(match.group(3))}
            if "call_stack" in values:
                stacks[index] = values["call_stack"]
            if "ticks" in values:
                ticks[index] = values["ticks"] + (values.get("ticks_hi", 0) << 32)
        elif match := _OUT.match(line):
            outputs[int(match.group(1))] = bytes.fromhex(match.group(2))
    done = [i for i in range(n_inputs) if i in outputs]
    rows = [np.frombuffer(outputs[i], dtype=np.int8) for i in done]
    width = len(rows[0]) if rows else 0
    matrix = np.stack(rows) if rows and all(len(r) == width for r in rows) else np.zeros((0, width), np.int8)
    return HarnessOutput(
        outputs=matrix,
        return_codes=[codes[i] for i in done if i in codes],
        call_stack_bytes=[stacks[i] for i in done if i in stacks],
        ticks=[ticks[i] for i in done if i in ticks],
        stack_high_water=high_water,
        began=began,
        ended=ended,
        fault=fault,
        header=header,
    )
