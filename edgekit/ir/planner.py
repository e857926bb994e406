"""Static activation-memory plan for one arena: tensor lifetimes, offsets, peak and a per-op timeline.

The model is the one TFLM uses, so the numbers compare with its arena: every non-constant tensor gets a
buffer whose size is rounded up to 16 bytes; a buffer is live from the operator that writes it (graph
inputs: from the start) to the last operator that reads it (graph outputs: to the end); two buffers
may share bytes only if their lifetimes do not overlap. Constants stay in flash. Variable tensors
(RNN/LSTM state) hold their values across invocations, so, as in TFLM, they sit in a persistent
section after the planned one rather than in the plan.

Placement is greedy first-fit (each buffer at the lowest offset where it overlaps no placed buffer
live at the same time), run for several buffer orders and gap policies, keeping the smallest peak.
One of those runs is the order TFLM's GreedyMemoryPlanner uses (size descending, ties in tensor
order), so the plan is never larger than TFLM's for the same buffers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from edgekit.ir.graph import Graph

ALIGNMENT = 16  # TFLM's MicroArenaBufferAlignment()


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return -(-n // alignment) * alignment


@dataclass
class BufferPlan:
    tensor: int
    name: str
    nbytes: int  # the tensor's own size
    size: int  # nbytes rounded up to the alignment: what the arena reserves
    first_op: int  # first operator during which the buffer must hold its value
    last_op: int  # last such operator (inclusive)
    offset: int = -1
    persistent: bool = False  # variable tensor, kept for the whole run in the persistent section

    def overlaps_in_time(self, other: BufferPlan) -> bool:
        return not (self.first_op > other.last_op or other.first_op > self.last_op)

    def overlaps_in_space(self, other: BufferPlan) -> bool:
        return self.offset < other.offset + other.size and other.offset < self.offset + self.size

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "name": self.name,
            "nbytes": self.nbytes,
            "size": self.size,
            "first_op": self.first_op,
            "last_op": self.last_op,
            "offset": self.offset,
            "persistent": self.persistent,
        }


@dataclass
class OpMemory:
    index: int
    op_type: str
    live_bytes: int  # aligned bytes of all buffers live during this operator (variables included)
    high_water_bytes: int  # highest arena byte in use during this operator (offset + size)
    live_tensors: list[int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "op_type": self.op_type,
            "live_bytes": self.live_bytes,
            "high_water_bytes": self.high_water_bytes,
            "live_tensors": list(self.live_tensors),
        }


@dataclass
class MemoryPlan:
    path: str | None
    alignment: int
    buffers: list[BufferPlan]
    activation_bytes: int  # peak of the planned (non-persistent) section: compare with TFLM's "head"
    variable_bytes: int  # persistent section for variable tensors
    arena_bytes: int  # activation_bytes + variable_bytes: the tensor arena this plan needs
    lower_bound_bytes: int  # most bytes live at one time; no placement can do better
    strategy: str  # the buffer order and gap policy that gave the smallest peak
    strategies: dict[str, int] = field(default_factory=dict)  # peak of every run tried
    timeline: list[OpMemory] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "alignment": self.alignment,
            "activation_bytes": self.activation_bytes,
            "variable_bytes": self.variable_bytes,
            "arena_bytes": self.arena_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "strategy": self.strategy,
            "strategies": dict(self.strategies),
            "buffers": [b.to_dict() for b in self.buffers],
            "timeline": [t.to_dict() for t in self.timeline],
        }


def tensor_lifetimes(graph: Graph, alignment: int = ALIGNMENT) -> list[BufferPlan]:
    """One unplaced buffer per tensor that needs RAM, with its lifetime in operator indices."""
    last_op = max(len(graph.operators) - 1, 0)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(t: int, i: int) -> None:
        first.setdefault(t, i)
        first[t] = min(first[t], i)
        last[t] = max(last.get(t, i), i)

    for t in graph.inputs:
        touch(t, 0)
    for op in graph.operators:
        for t in op.outputs:
            touch(t, op.index)
        for t in op.inputs:
            if t >= 0:
                touch(t, op.index)
    for t in graph.outputs:
        # Graph outputs are read by the caller after the last operator.
        touch(t, last_op)

    buffers = []
    for t in sorted(first):
        tensor = graph.tensors[t]
        if tensor.is_constant or tensor.nbytes == 0:
            continue
        if tensor.is_variable:
            # State carried from one invocation to the next: live for the whole run.
            first[t], last[t] = 0, last_op
        buffers.append(
            BufferPlan(
                tensor=t,
                name=tensor.name,
                nbytes=tensor.nbytes,
                size=align_up(tensor.nbytes, alignment),
                first_op=first[t],
                last_op=last[t],
                persistent=tensor.is_variable,
            )
        )
    return buffers


def _place(buffers: list[BufferPlan], best_fit: bool) -> dict[int, int]:
    """Greedy placement in the given order; returns tensor -> offset."""
    placed: list[tuple[int, BufferPlan]] = []  # (offset, buffer), kept sorted by offset
    offsets: dict[int, int] = {}
    for buf in buffers:
        candidate = 0
        best: tuple[int, int] | None = None  # (gap size, offset) for best fit
        for off, other in placed:
            if not buf.overlaps_in_time(other):
                continue
            gap = off - candidate
            if gap >= buf.size:
                if not best_fit:
                    break
                if best is None or gap < best[0]:
                    best = (gap, candidate)
            candidate = max(candidate, off + other.size)
        if best_fit and best is not None:
            candidate = best[1]
        offsets[buf.tensor] = candidate
        placed.append((candidate, buf))
        placed.sort(key=lambda item: item[0])
    return offsets


# Buffer orders to try. "size" is TFLM's GreedyMemoryPlanner order: largest first, ties in the
# order the buffers were added (tensor index); Python's sort is stable, as TFLM's bubble sort is.
_ORDERS: dict[str, Callable[[BufferPlan], tuple[int, ...]]] = {
    "size": lambda b: (-b.size,),
    "lifetime": lambda b: (-(b.last_op - b.first_op), -b.size),
    "area": lambda b: (-b.size * (b.last_op - b.first_op + 1), -b.size),
    "first_use": lambda b: (b.first_op, -b.size),
}


def _peak(buffers: Iterable[BufferPlan], offsets: dict[int, int]) -> int:
    return max((offsets[b.tensor] + b.size for b in buffers), default=0)


def _lower_bound(buffers: list[BufferPlan], n_ops: int) -> int:
    return max((sum(b.size for b in buffers if b.first_op <= i <= b.last_op) for i in range(max(n_ops, 1))),
               default=0)


def plan_memory(graph: Graph, alignment: int = ALIGNMENT) -> MemoryPlan:
    """Plan the activation arena of `graph`."""
    all_buffers = tensor_lifetimes(graph, alignment)
    planned = [b for b in all_buffers if not b.persistent]
    variables = [b for b in all_buffers if b.persistent]
    n_ops = len(graph.operators)
    bound = _lower_bound(planned, n_ops)

    best_name, best_offsets, best_peak = "", {}, -1
    strategies: dict[str, int] = {}
    for order_name, key in _ORDERS.items():
        ordered = sorted(planned, key=key)
        for best_fit in (False, True):
            name = f"{order_name}/{'best-fit' if best_fit else 'first-fit'}"
            offsets = _place(ordered, best_fit)
            peak = _peak(planned, offsets)
            strategies[name] = peak
            if best_peak < 0 or peak < best_peak:
                best_name, best_offsets, best_peak = name, offsets, peak
            if best_peak == bound:
                break  # cannot be beaten
        if best_peak == bound:
            break
    best_peak = max(best_peak, 0)

    for b in planned:
        b.offset = best_offsets[b.tensor]
    # The persistent section starts after the planned one, aligned, one buffer after another.
    offset = align_up(best_peak, alignment)
    for b in variables:
        b.offset = offset
        offset += b.size
    variable_bytes = sum(b.size for b in variables)
    arena = (align_up(best_peak, alignment) + variable_bytes) if variables else best_peak

    timeline = []
    for op in graph.operators:
        live = [b for b in all_buffers if b.first_op <= op.index <= b.last_op]
        timeline.append(
            OpMemory(
                index=op.index,
                op_type=op.opcode,
                live_bytes=sum(b.size for b in live),
                high_water_bytes=max((b.offset + b.size for b in live), default=0),
                live_tensors=sorted(b.tensor for b in live),
            )
        )
    return MemoryPlan(
        path=graph.path,
        alignment=alignment,
        buffers=all_buffers,
        activation_bytes=best_peak,
        variable_bytes=variable_bytes,
        arena_bytes=arena,
        lower_bound_bytes=bound,
        strategy=best_name,
        strategies=strategies,
        timeline=timeline,
    )


def check_plan(plan: MemoryPlan) -> list[str]:
    """Every way the plan is unsafe, as sentences; an empty list means it is sound: offsets aligned,
    buffers inside the arena, and no two buffers live at the same time share a byte."""
    problems = []
    for b in plan.buffers:
        if b.offset < 0:
            problems.append(f"tensor {b.tensor} has no offset")
        elif b.offset % plan.alignment:
            problems.append(f"tensor {b.tensor} at offset {b.offset} is not {plan.alignment}-byte aligned")
        if b.size < b.nbytes:
            problems.append(f"tensor {b.tensor} reserves {b.size} bytes for {b.nbytes}")
        if b.offset + b.size > plan.arena_bytes:
            problems.append(
                f"tensor {b.tensor} ends at {b.offset + b.size}, past the arena ({plan.arena_bytes} bytes)"
            )
    ordered = sorted(plan.buffers, key=lambda b: b.offset)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b.offset >= a.offset + a.size:
                break  # sorted by offset: nothing further can overlap `a` in space
            if a.overlaps_in_time(b):
                problems.append(
                    f"tensors {a.tensor} [{a.offset}, {a.offset + a.size}) and {b.tensor} "
                    f"[{b.offset}, {b.offset + b.size}) overlap while both are live "
                    f"(ops {max(a.first_op, b.first_op)}..{min(a.last_op, b.last_op)})"
                )
    return problems
