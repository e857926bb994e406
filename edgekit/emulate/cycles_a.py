"""Cycle models for the Raspberry Pi cores (Cortex-A53, A72, A76), from measured AArch64 blocks.

qemu-aarch64 counts instructions, not cycles. Each executed translated block is priced here in its
steady state, as if it followed itself (inference time is dominated by loop bodies that branch back to
their own start), then multiplied by its measured execution count:

* **Cortex-A53** (in order, dual issue): instructions issue in program order, at most two per
  cycle, and an instruction waits until its source registers are ready (result latencies below).
  Pairing limits: one load/store, one multiply, one divide, one branch and one vector/FP instruction
  per cycle; a 128-bit vector instruction takes the 64-bit NEON datapath twice. The block is issued
  twice in a row and the second pass is the cost, so loop-carried stalls count.
* **Cortex-A72 / A76** (out of order): the cost of a block is the largest of three bounds: decode
  width (instructions / width), the busiest execution-pipe group (instructions / pipes of the kind
  they need), and the loop-carried dependence chain (the growth of the longest register chain from
  one pass of the block to the next, with the result latencies below).

Multiply-accumulates forward their accumulator late on all three cores (Arm's optimization guides
give the accumulate latency in parentheses, e.g. "4(1)"), so a chain of MACs into one accumulator
costs the accumulate latency per step, not the full multiply latency. docs/cycle_model_aarch64.md
lists the numbers and their sources, and what the model leaves out (caches, DRAM, branch
mispredictions, memory dependences).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from edgekit.emulate.isa_a64 import A64Insn

MODEL_VERSION = "edgekit-cycles-a64-1"

# Execution-pipe groups an instruction class needs.
_GROUP = {
    "alu": "int",
    "mul": "mul",
    "div": "mul",
    "load": "load",
    "store": "store",
    "branch": "branch",
    "fp": "vec",
    "simd_load": "load",
    "simd_store": "store",
    "simd_mul": "vec_mul",
    "simd_alu": "vec",
    "sys": "int",
    "unknown": "int",
}


@dataclass(frozen=True)
class ACoreTiming:
    """Issue structure and result latencies of one Cortex-A core."""

    core: str
    source: str
    in_order: bool
    width: int  # instructions decoded (out of order) or issued (in order) per cycle
    pipes: dict[str, float]  # pipe group -> how many instructions of that group start per cycle
    latency: dict[str, float]  # class -> result latency in cycles
    q_latency: dict[str, float]  # class -> latency of the 128-bit form, where it differs
    accumulate_latency: float  # late-forwarded accumulator of a multiply-accumulate
    q_issue_cycles: float = 1.0  # pipe cycles a 128-bit vector instruction occupies
    taken_branch_cycles: float = 0.0  # bubble after a taken branch (correctly predicted)
    # Refill after a mispredicted branch; not in the estimate, only in its misprediction bound.
    mispredict_penalty: float = 0.0
    notes: tuple[str, ...] = field(default=())


TIMINGS: dict[str, ACoreTiming] = {
    "cortex-a53": ACoreTiming(
        core="cortex-a53",
        source="Arm Cortex-A53 TRM (DDI 0500): in-order, dual issue, one load/store pipe, one integer MAC pipe, "
        "64-bit NEON/FP datapath. Arm publishes no A53 optimization guide; latencies follow LLVM's Cortex-A53 "
        "model (AArch64SchedA53.td, from Arm's A53 instruction-timing spreadsheet): issue width 2, ALU 1 with "
        "forwarding, MUL/MADD 3 (accumulator 2), load 3 (LoadLatency), SDIV 4+ (8), ASIMD integer 2-3 (3), "
        "ASIMD multiply 4, ASIMD load 4, FP 4, Q-form ASIMD occupies the ASIMD pipe 2 cycles, mispredict 9",
        in_order=True,
        width=2,
        pipes={"int": 2, "mul": 1, "load": 1, "store": 1, "branch": 1, "vec": 1, "vec_mul": 1},
        latency={
            "alu": 1, "mul": 3, "div": 8, "load": 3, "store": 1, "branch": 1, "fp": 4,
            "simd_load": 4, "simd_store": 1, "simd_mul": 4, "simd_alu": 3, "sys": 1, "unknown": 1,
        },
        q_latency={},
        accumulate_latency=2.0,
        q_issue_cycles=2.0,
        taken_branch_cycles=1.0,
        mispredict_penalty=9.0,
        notes=(
            "Cortex-A53: a correctly predicted taken branch is charged a 1-cycle fetch bubble (our assumption); "
            "mispredictions (9 cycles in LLVM's model) are not modelled.",
        ),
    ),
    "cortex-a72": ACoreTiming(
        core="cortex-a72",
        source="Arm Cortex-A72 Software Optimization Guide (UAN 0016): decode 3 per cycle; pipes I0/I1 "
        "(integer), M (multiply, divide), L (load), S (store), B (branch), F0/F1 (FP/ASIMD, ASIMD multiply on "
        "F0 only); latencies: ALU 1, MUL/MADD 3(1), SDIV 4-12 (8), load 4, ASIMD integer 3, ASIMD multiply/MLA/"
        "MLAL 4(1) (Q form 5(1)), ASIMD load 5, FP 4",
        in_order=False,
        width=3,
        pipes={"int": 2, "mul": 1, "load": 1, "store": 1, "branch": 1, "vec": 2, "vec_mul": 1},
        latency={
            "alu": 1, "mul": 3, "div": 8, "load": 4, "store": 1, "branch": 1, "fp": 4,
            "simd_load": 5, "simd_store": 1, "simd_mul": 4, "simd_alu": 3, "sys": 1, "unknown": 1,
        },
        q_latency={"simd_mul": 5},
        accumulate_latency=1.0,
        mispredict_penalty=14.0,  # LLVM's Cortex-A57 model, which LLVM also uses for the A72
    ),
    "cortex-a76": ACoreTiming(
        core="cortex-a76",
        source="Arm Cortex-A76 Software Optimization Guide (PJDOC-466751330-7215): decode 4 per cycle; pipes "
        "I0/I1/M (integer, M also multiply/divide), L0/L1 (load/store address), B (branch), V0/V1 (FP/ASIMD, "
        "ASIMD multiply on V0 only); latencies: ALU 1, MUL/MADD 2(1), SDIV 5-12 (8), load 4, ASIMD integer 2, "
        "ASIMD multiply/MLA/MLAL 4(1), ASIMD load 6, FP 3",
        in_order=False,
        width=4,
        pipes={"int": 3, "mul": 1, "load": 2, "store": 2, "branch": 1, "vec": 2, "vec_mul": 1},
        latency={
            "alu": 1, "mul": 2, "div": 8, "load": 4, "store": 1, "branch": 1, "fp": 3,
            "simd_load": 6, "simd_store": 1, "simd_mul": 4, "simd_alu": 2, "sys": 1, "unknown": 1,
        },
        q_latency={},
        accumulate_latency=1.0,
        mispredict_penalty=11.0,  # LLVM's Neoverse N1 model (the A76's server sibling)
        notes=("Cortex-A76: loads and stores share the two L pipes; counted as two of each, an optimistic split.",),
    ),
}


def timing_for(core: str) -> ACoreTiming:
    if core not in TIMINGS:
        raise KeyError(f"no cycle model for core {core!r}")
    return TIMINGS[core]


def _latency(insn: A64Insn | None, timing: ACoreTiming) -> float:
    cls = insn.cls if insn is not None else "unknown"
    if insn is not None and insn.q_form and cls in timing.q_latency:
        return timing.q_latency[cls]
    return timing.latency.get(cls, 1.0)


def _ready_time(insn: A64Insn, ready: dict[str, float], accumulate_ready: dict[str, float]) -> float:
    """When all sources of `insn` are available; an accumulator operand may arrive late-forwarded."""
    start = 0.0
    acc_reg = insn.writes[0] if insn.accumulates and insn.writes else None
    for reg in insn.reads:
        if reg == acc_reg:
            start = max(start, accumulate_ready.get(reg, ready.get(reg, 0.0)))
        else:
            start = max(start, ready.get(reg, 0.0))
    return start


@dataclass
class _IssueState:
    """In-order issue state carried from one pass of a block to the next."""

    cycle: float = 0.0
    vec_free: float = 0.0
    ready: dict[str, float] = field(default_factory=dict)
    acc: dict[str, float] = field(default_factory=dict)


def _record(insn: A64Insn, issue: float, timing: ACoreTiming, ready: dict[str, float],
            accumulate_ready: dict[str, float]) -> None:
    done = issue + _latency(insn, timing)
    base_ready = ready.get(insn.writeback, 0.0) + 1.0 if insn.writeback else 0.0
    for reg in insn.writes:
        if reg == insn.writeback:
            # The address update of a pre/post-indexed access needs only the old base (one ALU step),
            # not the loaded value or the stored data.
            ready[reg] = base_ready
            accumulate_ready.pop(reg, None)
            continue
        ready[reg] = done
        if insn.accumulates:
            # The next MAC into this accumulator may start `accumulate_latency` after this one.
            accumulate_ready[reg] = issue + timing.accumulate_latency
        else:
            accumulate_ready.pop(reg, None)


def _in_order_pass(insns: Sequence[A64Insn | None], timing: ACoreTiming, state: _IssueState) -> float:
    """Issue the block once, continuing from `state`; returns the first free cycle after it."""
    cycle = state.cycle
    slots = 0  # instructions issued in `cycle`
    used: dict[str, int] = {}  # pipe group -> instructions of that group issued in `cycle`
    for insn in insns:
        group = _GROUP.get(insn.cls if insn is not None else "unknown", "int")
        vec = group in ("vec", "vec_mul")
        # The vector/FP side is one issue port on the A53, whatever the kind of vector instruction.
        port = "vec" if vec else group
        limit = 1 if vec else int(timing.pipes.get(group, 1))
        earliest = _ready_time(insn, state.ready, state.acc) if insn is not None else 0.0
        if vec:
            earliest = max(earliest, state.vec_free)
        earliest = float(math.ceil(earliest))
        if earliest > cycle:
            cycle, slots, used = earliest, 0, {}
        if slots >= timing.width or used.get(port, 0) >= limit:
            cycle, slots, used = cycle + 1.0, 0, {}
        slots += 1
        used[port] = used.get(port, 0) + 1
        if insn is not None:
            _record(insn, cycle, timing, state.ready, state.acc)
            if vec:
                # A 128-bit operation takes the 64-bit datapath for more than one cycle.
                state.vec_free = cycle + (timing.q_issue_cycles if insn.q_form else 1.0)
    state.cycle = cycle + 1.0
    return state.cycle


def _chain_growth(insns: Sequence[A64Insn | None], timing: ACoreTiming) -> float:
    """Loop-carried dependence bound: how much the longest register chain grows per pass."""
    ready: dict[str, float] = {}
    acc_ready: dict[str, float] = {}
    ends = []
    for _ in range(2):
        for insn in insns:
            if insn is not None:
                _record(insn, _ready_time(insn, ready, acc_ready), timing, ready, acc_ready)
        ends.append(max(ready.values(), default=0.0))
    return max(ends[1] - ends[0], 0.0)


def block_cycles(insns: Sequence[A64Insn | None], timing: ACoreTiming) -> float:
    """Steady-state cycles of one pass of the block (taken-branch bubbles excluded: they are counted)."""
    if not insns:
        return 0.0
    if timing.in_order:
        state = _IssueState()
        first = _in_order_pass(insns, timing, state)
        second = _in_order_pass(insns, timing, state)
        return max(second - first, len(insns) / timing.width)
    per_group: dict[str, float] = {}
    for insn in insns:
        group = _GROUP.get(insn.cls if insn is not None else "unknown", "int")
        cost = timing.q_issue_cycles if insn is not None and insn.q_form else 1.0
        per_group[group] = per_group.get(group, 0.0) + cost
    vec_all = per_group.get("vec", 0.0) + per_group.get("vec_mul", 0.0)
    bounds = [len(insns) / timing.width, vec_all / timing.pipes["vec"], _chain_growth(insns, timing)]
    bounds += [count / timing.pipes.get(group, 1) for group, count in per_group.items()]
    return max(bounds)


def branch_penalty(timing: ACoreTiming) -> float:
    """Extra cycles each time a block ended in a taken branch (a measured count)."""
    return timing.taken_branch_cycles


CONDITIONAL_BRANCHES = ("cbz", "cbnz", "tbz", "tbnz")


def is_conditional_branch(insn: A64Insn | None) -> bool:
    return insn is not None and (insn.mnemonic.startswith("b.") or insn.mnemonic in CONDITIONAL_BRANCHES)


def minority_outcomes(executions: int, taken: int) -> int:
    """How often a conditional branch went its less frequent way: at most that many mispredictions
    for a predictor that learns each branch's usual direction (the bound the estimate leaves out)."""
    return min(taken, executions - taken)
