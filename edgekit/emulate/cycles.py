"""Per-core cycle models: estimated cycles from measured instruction sequences.

QEMU executes instructions, not cycles, so a cycle figure is an estimate. Each translated block's
instructions are priced in order (so the neighbour rules of the Arm tables apply: pipelined loads on
the M3/M4, dual issue on the M7, beat overlap of Helium instructions on the M55), the price is
multiplied by the block's measured execution count, and each measured taken branch adds the core's
pipeline-refill penalty. Flash wait states add `flash_wait_states` cycles for each data read from
the flash image that misses a small line buffer (measured by the plugin). docs/cycle_model.md lists
the sources of every number and the assumptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from edgekit.emulate.isa import Insn

MODEL_VERSION = "edgekit-cycles-1"


@dataclass(frozen=True)
class CoreTiming:
    """Cycle costs of one core at zero wait states."""

    core: str
    source: str
    cost: dict[str, float]  # issue cost by instruction class (multiples add `per_word` per register)
    per_word: float = 1.0  # LDM/STM/PUSH/POP: cost[class] + per_word * registers
    taken_branch_penalty: float = 2.0  # the "P" of Arm's tables: pipeline refill after a taken branch
    loop_end_penalty: float | None = None  # taken LE/LETP (Armv8.1-M loop end), if different
    pipelined_loads: bool = False  # neighbouring single loads/stores complete in one cycle each
    dual_issue: bool = False  # M7: two adjacent pairable instructions issue together
    mve_overlap: bool = False  # M55: a vector instruction after one of the other kind overlaps by a cycle
    notes: tuple[str, ...] = field(default=())


_ARMV6M = {
    "alu": 1,
    "load": 2,
    "store": 2,
    "load_multiple": 1,
    "store_multiple": 1,
    "mul": 1,
    "mul_long": 1,
    "mac_dsp": 1,
    "simd": 1,
    "div": 1,
    "branch": 1,
    "fp": 1,
    "fp_mac": 1,
    "fp_div": 1,
    "mve_load": 1,
    "mve_store": 1,
    "mve_mac": 1,
    "mve_alu": 1,
    "sys": 3,
    "unknown": 1,
}

_M4 = {
    "alu": 1,
    "load": 2,
    "store": 2,
    "load_multiple": 1,
    "store_multiple": 1,
    "mul": 1,
    "mul_long": 1,
    "mac_dsp": 1,
    "simd": 1,
    "div": 7,
    "branch": 1,
    "fp": 1,
    "fp_mac": 3,
    "fp_div": 14,
    "mve_load": 2,
    "mve_store": 2,
    "mve_mac": 2,
    "mve_alu": 2,
    "sys": 2,
    "unknown": 1,
}

TIMINGS: dict[str, CoreTiming] = {
    "cortex-m0plus": CoreTiming(
        core="cortex-m0plus",
        source="Arm Cortex-M0+ TRM (DDI 0484), instruction set summary: ALU/MULS 1 (single-cycle multiplier), "
        "LDR/STR 2, LDM/STM/PUSH/POP 1+N, taken branch 2, BL 3, barriers/MRS 3-4",
        cost=dict(_ARMV6M),
        taken_branch_penalty=1.0,
        notes=("MULS priced at 1 cycle: the fast multiplier option (RP2040 has it); the small one takes 32.",),
    ),
    "cortex-m3": CoreTiming(
        core="cortex-m3",
        source="Arm Cortex-M3 TRM (DDI 0337), table 18-1: ALU/MUL 1, MLA/MLS 2, UMULL/SMULL 3-5, SMLAL 4-7, "
        "SDIV/UDIV 2-12, LDR/STR 2 with neighbours pipelined, LDM/STM 1+N, taken branch 1+P (P 1-3)",
        cost={**_M4, "mul": 1.5, "mul_long": 5, "mac_dsp": 5, "fp": 20, "fp_mac": 40, "fp_div": 60},
        pipelined_loads=True,
        notes=(
            "MLA and MUL are not told apart (1.5 average); long multiplies at 5; divides at 7 (mid of 2-12).",
            "No FPU or DSP: those classes only appear if the code was built for another core.",
        ),
    ),
    "cortex-m4": CoreTiming(
        core="cortex-m4",
        source="Arm Cortex-M4 TRM (DDI 0439), table 3-1 and FPU table 7-1: ALU/MUL/MLA/long MUL/DSP MAC/SIMD 1, "
        "SDIV 2-12, LDR/STR 2 with neighbours pipelined, LDM/STM 1+N, taken branch 1+P (P 1-3), "
        "VADD/VMUL 1, VMLA/VFMA 3, VDIV/VSQRT 14, VLDR 2, VLDM 1+N",
        cost=dict(_M4),
        pipelined_loads=True,
    ),
    "cortex-m33": CoreTiming(
        core="cortex-m33",
        source="Arm Cortex-M33 TRM (100230) gives no cycle table; priced as the Cortex-M4 (same 3-stage "
        "pipeline class, single-cycle 32x32 multiplier and DSP MACs, SDIV 2-11 cycles)",
        cost=dict(_M4),
        pipelined_loads=True,
        notes=("The M33 can dual-issue some pairs of 16-bit instructions; not modelled (slight overestimate).",),
    ),
    "cortex-m7": CoreTiming(
        core="cortex-m7",
        source="Arm publishes no Cortex-M7 cycle table. Costs follow the M4 table with single-cycle "
        "loads (64-bit TCM/cache path) and dual issue of adjacent pairs where at most one is a load/store, "
        "at most one a multiply/MAC and at most one a branch, as measured by third parties "
        "(quinapalus.com/cm7cycles.html); taken branches predicted (BTAC) with a 1-cycle bubble",
        cost={**_M4, "load": 1, "store": 1, "fp_mac": 1},
        taken_branch_penalty=1.0,
        dual_issue=True,
        notes=("Assumes code and data hit TCM or the L1 caches; mispredictions are not modelled.",),
    ),
    "cortex-m55": CoreTiming(
        core="cortex-m55",
        source="Arm Cortex-M55 TRM (101051) and Software Optimization Guide: scalar costs as the M4 "
        "(single-cycle MAC, LDR 1-2); Helium is dual-beat, a 128-bit vector instruction takes 2 cycles and "
        "overlaps by 1 cycle with a following vector instruction of the other kind (memory vs arithmetic); "
        "low-overhead loops (LE/LETP) branch back with no refill",
        cost=dict(_M4),
        pipelined_loads=True,
        loop_end_penalty=0.0,
        mve_overlap=True,
    ),
}

_LOADSTORE_SINGLE = frozenset({"load", "store"})
_MVE_MEMORY = frozenset({"mve_load", "mve_store"})
_MVE_COMPUTE = frozenset({"mve_mac", "mve_alu"})
_MULTIPLE = frozenset({"load_multiple", "store_multiple"})
# Classes that may take part in an M7 dual-issue pair, grouped by the pipe they need.
_M7_PIPE = {
    "alu": "alu",
    "simd": "alu",
    "load": "mem",
    "store": "mem",
    "mul": "mac",
    "mul_long": "mac",
    "mac_dsp": "mac",
    "branch": "branch",
    "fp": "fp",
    "fp_mac": "fp",
}


def timing_for(core: str) -> CoreTiming:
    if core not in TIMINGS:
        raise KeyError(f"no cycle model for core {core!r}")
    return TIMINGS[core]


def block_cycles(insns: Sequence[Insn | None], timing: CoreTiming) -> float:
    """Cycles to run one block once, taken-branch penalties excluded (they come from measured counts)."""
    total = 0.0
    prev_cls: str | None = None
    pending_pair = False  # M7: the previous instruction is waiting for a partner
    prev_cost = 0.0
    prev_words = 1
    for insn in insns:
        cls = insn.cls if insn is not None else "unknown"
        cost = timing.cost.get(cls, 1.0)
        if cls in _MULTIPLE and insn is not None:
            cost = timing.cost.get(cls, 1.0) + timing.per_word * insn.regs
        elif cls in _LOADSTORE_SINGLE and insn is not None and insn.regs == 2:
            cost += 1.0  # LDRD/STRD move two words: 1 + N
        words = insn.regs if insn is not None else 1
        # Only single-word loads and stores pipeline with a neighbour (LDRD/STRD are not "single").
        if timing.pipelined_loads and cls in _LOADSTORE_SINGLE and prev_cls in _LOADSTORE_SINGLE and words == 1 \
                and prev_words == 1:
            cost = 1.0
        if (
            timing.mve_overlap
            and prev_cls is not None
            and ((cls in _MVE_MEMORY and prev_cls in _MVE_COMPUTE) or (cls in _MVE_COMPUTE and prev_cls in _MVE_MEMORY))
        ):
            cost -= 1.0
        if timing.dual_issue:
            pipe = _M7_PIPE.get(cls)
            if pending_pair and pipe is not None and prev_cls is not None and _M7_PIPE.get(prev_cls) is not None:
                prev_pipe = _M7_PIPE[prev_cls]
                if pipe != prev_pipe or pipe == "alu":
                    # Issued together: the pair costs as much as its slower member.
                    total += max(cost, prev_cost) - prev_cost
                    pending_pair = False
                    prev_cls = cls
                    prev_words = words
                    continue
            pending_pair = pipe is not None
            prev_cost = cost
        total += cost
        prev_cls = cls
        prev_words = words
    return total


def taken_branches(last: Insn | None, taken: int) -> int:
    """The plugin's taken count for a block whose last instruction is `last`, as branches: QEMU also ends
    blocks at page boundaries, and a block that does not end in a branch went on to the next
    instruction, whatever the successor's start looked like (so code placement does not show)."""
    if last is not None and last.cls != "branch" and not last.writes_pc:
        return 0
    return taken


def branch_penalty(insn: Insn | None, timing: CoreTiming) -> float:
    """Extra cycles each time the block's last instruction branched (a measured count)."""
    if insn is not None and timing.loop_end_penalty is not None and insn.mnemonic.split(".")[0] in ("le", "letp"):
        return timing.loop_end_penalty
    return timing.taken_branch_penalty


def flash_stall_cycles(line_misses: int, wait_states: int) -> float:
    """Wait-state cycles for data reads from flash that missed the line buffer."""
    return float(line_misses * wait_states)
