"""The edgekit engine's arena plan: the IR planner's lifetime model, plus what the engine can do and an
interpreter cannot.

Three things make the engine's arena smaller than TFLM's for the same tensors:
- aliases: RESHAPE / SQUEEZE / EXPAND_DIMS outputs are the same bytes as their input (one buffer for
  the group, live for the union of the lifetimes);
- overlap with a dying input: when an op's input is last read by that op, its output may overlap it,
  as long as the kernel never writes over an input byte it still has to read. The kernels write their
  outputs in strictly ascending (or, with the reverse flag, descending) order and `engine_ops` says,
  for every output element, which input elements it reads. From that, `displacement` computes the
  smallest safe distance between the two buffers' starts in each direction; a 1x1 convolution then
  needs one pixel of slack, a 3x3 depthwise convolution two rows, an elementwise op none;
- the plan searches several placement orders, allowing outputs to slide below their input (offsets
  are normalized afterwards), and keeps the smallest arena; one of the orders is TFLM's own
  (largest first, no overlap), so the result is never worse than the interpreter's plan.
This lives here rather than in `edgekit.ir.planner` because overlap depends on the engine's kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.codegen.engine_ops import NO_READ_HI, NO_READ_LO, Lowered, ReadMap
from edgekit.ir.graph import Graph, dtype_info

ALIGNMENT = 16  # every buffer starts 16-byte aligned, as in TFLM: any kernel variant may use SIMD loads


def align_up(n: int, alignment: int = ALIGNMENT) -> int:
    return -(-n // alignment) * alignment


@dataclass
class Buffer:
    index: int
    tensors: tuple[int, ...]  # the tensors stored here (more than one: an alias group; none: scratch)
    nbytes: int
    size: int  # nbytes rounded up to the alignment
    first_op: int
    last_op: int
    offset: int = -1

    def overlaps_in_time(self, other: Buffer) -> bool:
        return not (self.first_op > other.last_op or other.first_op > self.last_op)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensors": list(self.tensors),
            "nbytes": self.nbytes,
            "size": self.size,
            "first_op": self.first_op,
            "last_op": self.last_op,
            "offset": self.offset,
        }


@dataclass
class Overlap:
    """Op `op` reads buffer `src` for the last time and writes buffer `dst`. Running forward, dst may
    start `forward` or more bytes below src (src.offset - dst.offset >= forward); running reversed,
    `reverse` or more bytes above it (dst.offset - src.offset >= reverse; None: no reversed kernel)."""

    op: int
    src: int
    dst: int
    forward: int
    reverse: int | None

    def directions(self, src_offset: int, dst_offset: int) -> set[str]:
        result = set()
        if src_offset - dst_offset >= self.forward:
            result.add("forward")
        if self.reverse is not None and dst_offset - src_offset >= self.reverse:
            result.add("reverse")
        return result


@dataclass
class EnginePlan:
    buffers: list[Buffer]
    tensor_buffer: dict[int, int]  # tensor index -> buffer index
    overlaps: list[Overlap]  # every candidate overlap (used or not)
    arena_bytes: int
    reversed_ops: frozenset[int]  # ops whose kernel runs last output first
    strategy: str
    no_overlap_bytes: int  # the same buffers placed TFLM's way: what aliasing and overlap saved
    strategies: dict[str, int] = field(default_factory=dict)
    scratch_buffer: dict[int, int] = field(default_factory=dict)  # op index -> its scratch buffer

    def scratch_offset(self, op: int) -> int | None:
        index = self.scratch_buffer.get(op)
        return None if index is None else self.buffers[index].offset

    def tensor_offset(self, tensor: int) -> int:
        return self.buffers[self.tensor_buffer[tensor]].offset

    def to_dict(self) -> dict[str, Any]:
        return {
            "arena_bytes": self.arena_bytes,
            "no_overlap_bytes": self.no_overlap_bytes,
            "strategy": self.strategy,
            "strategies": dict(self.strategies),
            "reversed_ops": sorted(self.reversed_ops),
            "buffers": [b.to_dict() for b in self.buffers],
        }


def displacement(reads: ReadMap, in_elem_bytes: int, out_elem_bytes: int, in_bytes: int,
                 out_bytes: int, alignment: int = ALIGNMENT) -> tuple[int, int | None]:
    """Smallest safe (forward, reverse) start-to-start distances for an output overlapping an input
    read with pattern `reads`, rounded up to `alignment`. See Overlap for their meaning."""
    lo, hi = reads.lo.astype(np.int64), reads.hi.astype(np.int64)
    n = len(lo)
    e = np.arange(n, dtype=np.int64)
    unconstrained = -(in_bytes + out_bytes)  # no read left: any overlap is safe
    # Forward: writing element e must not reach an input byte that a later element still reads.
    later_lo = np.append(np.minimum.accumulate(lo[::-1])[::-1][1:], NO_READ_LO) if n else lo
    mask = later_lo != NO_READ_LO
    forward = int(((e[mask] + 1) * out_elem_bytes - later_lo[mask] * in_elem_bytes).max()) if mask.any() \
        else unconstrained
    reverse: int | None = None
    if reads.reversible:
        earlier_hi = np.concatenate(([NO_READ_HI], np.maximum.accumulate(hi)[:-1])) if n else hi
        mask = earlier_hi != NO_READ_HI
        reverse = int(((earlier_hi[mask] + 1) * in_elem_bytes - e[mask] * out_elem_bytes).max()) if mask.any() \
            else unconstrained
        reverse = align_up(reverse, alignment)
    return align_up(forward, alignment), reverse


def _lifetimes(graph: Graph) -> tuple[dict[int, int], dict[int, int]]:
    last_op = max(len(graph.operators) - 1, 0)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(t: int, i: int) -> None:
        first[t] = min(first.get(t, i), i)
        last[t] = max(last.get(t, i), i)

    for t in graph.inputs:
        touch(t, 0)
    for op in graph.operators:
        for t in (*op.inputs, *op.outputs):
            if t >= 0:
                touch(t, op.index)
    for t in graph.outputs:
        touch(t, last_op)  # read by the caller after the last op
    return first, last


def build_buffers(graph: Graph, lowered: list[Lowered]) -> tuple[list[Buffer], dict[int, int]]:
    """One buffer per alias group of non-constant tensors."""
    first, last = _lifetimes(graph)
    parent: dict[int, int] = {}

    def find(t: int) -> int:
        while parent.get(t, t) != t:
            t = parent[t]
        return t

    for low in lowered:
        if low.alias:
            a, b = find(low.op.inputs[0]), find(low.op.outputs[0])
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for t in sorted(first):
        tensor = graph.tensors[t]
        if tensor.is_constant or tensor.nbytes == 0:
            continue
        groups.setdefault(find(t), []).append(t)
    buffers: list[Buffer] = []
    tensor_buffer: dict[int, int] = {}
    for members in groups.values():
        nbytes = max(graph.tensors[t].nbytes for t in members)
        buf = Buffer(
            index=len(buffers),
            tensors=tuple(members),
            nbytes=nbytes,
            size=align_up(nbytes),
            first_op=min(first[t] for t in members),
            last_op=max(last[t] for t in members),
        )
        for t in members:
            tensor_buffer[t] = buf.index
        buffers.append(buf)
    return buffers, tensor_buffer


def add_scratch_buffers(lowered: list[Lowered], buffers: list[Buffer]) -> dict[int, int]:
    """A buffer live during its op only, for every kernel that asked for working memory: scratch is
    part of the arena, so the planned RAM includes it."""
    result = {}
    for low in lowered:
        if low.scratch_bytes > 0:
            buf = Buffer(index=len(buffers), tensors=(), nbytes=low.scratch_bytes,
                         size=align_up(low.scratch_bytes), first_op=low.op.index, last_op=low.op.index)
            buffers.append(buf)
            result[low.op.index] = buf.index
    return result


def find_overlaps(graph: Graph, lowered: list[Lowered], buffers: list[Buffer],
                  tensor_buffer: dict[int, int]) -> list[Overlap]:
    result = []
    # A graph output read by the last op is "last used" there too, but the caller still needs it.
    keep = {tensor_buffer[t] for t in graph.outputs if t in tensor_buffer}
    for low in lowered:
        if low.alias or not low.reads or len(low.op.outputs) != 1:
            continue
        out_t = low.op.outputs[0]
        dst = tensor_buffer.get(out_t)
        if dst is None or buffers[dst].first_op != low.op.index:
            continue
        for pos, reads in sorted(low.reads.items()):
            in_t = low.op.inputs[pos]
            src = tensor_buffer.get(in_t)
            if src is None or src == dst or src in keep or buffers[src].last_op != low.op.index:
                continue
            if sum(1 for t in low.op.inputs if t >= 0 and tensor_buffer.get(t) == src) > 1:
                continue  # the same buffer read through two inputs: keep it simple, no overlap
            tin, tout = graph.tensors[in_t], graph.tensors[out_t]
            fwd, rev = displacement(reads, dtype_info(tin.dtype).bits // 8, dtype_info(tout.dtype).bits // 8,
                                    tin.nbytes, tout.nbytes)
            result.append(Overlap(low.op.index, src, dst, fwd, rev))
    return result


def _place(buffers: list[Buffer], order: list[Buffer], overlaps: list[Overlap], allow_overlap: bool
           ) -> tuple[dict[int, int], dict[int, set[str]]]:
    """Greedy placement in `order`. Without overlap: TFLM-style first fit at the lowest offset >= 0.
    With overlap: every candidate offset (next to a live buffer, or at a safe distance from an
    overlap partner; negative allowed) is tried and the one giving the smallest span kept."""
    by_pair: dict[tuple[int, int], Overlap] = {}
    if allow_overlap:
        for ov in overlaps:
            by_pair[(ov.src, ov.dst)] = ov
            by_pair[(ov.dst, ov.src)] = ov
    offsets: dict[int, int] = {}
    op_dirs: dict[int, set[str]] = {}
    lo_end: int | None = None  # lowest offset and highest end placed so far
    hi_end: int | None = None

    def check(buf: Buffer, off: int, live: list[Buffer]) -> dict[int, set[str]] | None:
        """None if `off` collides; else the direction constraints it adds."""
        added: dict[int, set[str]] = {}
        for other in live:
            o_off = offsets[other.index]
            if off >= o_off + other.size or o_off >= off + buf.size:
                continue
            ov = by_pair.get((buf.index, other.index))
            if ov is None:
                return None
            src_off = off if ov.src == buf.index else o_off
            dst_off = off if ov.dst == buf.index else o_off
            allowed = ov.directions(src_off, dst_off) & added.get(ov.op, op_dirs.get(ov.op, {"forward", "reverse"}))
            if not allowed:
                return None
            added[ov.op] = allowed
        return added

    for buf in order:
        live = [b for b in buffers if b.index in offsets and b.overlaps_in_time(buf)]
        candidates = {0}
        for other in live:
            o_off = offsets[other.index]
            candidates.add(o_off + other.size)
            if allow_overlap:
                candidates.add(o_off - buf.size)
                ov = by_pair.get((buf.index, other.index))
                if ov is not None:
                    if ov.dst == buf.index:
                        candidates.add(o_off - ov.forward)
                        if ov.reverse is not None:
                            candidates.add(o_off + ov.reverse)
                    else:
                        candidates.add(o_off + ov.forward)
                        if ov.reverse is not None:
                            candidates.add(o_off - ov.reverse)
        best: tuple[tuple[int, int], int, dict[int, set[str]]] | None = None
        for off in sorted(candidates):
            if not allow_overlap and off < 0:
                continue
            added = check(buf, off, live)
            if added is None:
                continue
            if not allow_overlap:
                best = ((0, off), off, added)
                break  # first fit
            span = buf.size if lo_end is None or hi_end is None else \
                max(hi_end, off + buf.size) - min(lo_end, off)
            key = (span, off)
            if best is None or key < best[0]:
                best = (key, off, added)
        assert best is not None  # the offset past every live buffer always fits
        _, off, added = best
        offsets[buf.index] = off
        op_dirs.update(added)
        lo_end = off if lo_end is None else min(lo_end, off)
        hi_end = off + buf.size if hi_end is None else max(hi_end, off + buf.size)
    return offsets, op_dirs


_ORDERS: dict[str, Callable[[Buffer], tuple[int, ...]]] = {
    "size": lambda b: (-b.size, b.index),  # TFLM's GreedyMemoryPlanner order
    "first_use": lambda b: (b.first_op, -b.size, b.index),
    "last_use": lambda b: (-b.last_op, -b.size, b.index),
    "area": lambda b: (-b.size * (b.last_op - b.first_op + 1), b.index),
}


def _span(buffers: list[Buffer], offsets: dict[int, int]) -> int:
    if not buffers:
        return 0
    return max(offsets[b.index] + b.size for b in buffers) - min(offsets[b.index] for b in buffers)


def plan_engine_memory(graph: Graph, lowered: list[Lowered]) -> EnginePlan:
    buffers, tensor_buffer = build_buffers(graph, lowered)
    overlaps = find_overlaps(graph, lowered, buffers, tensor_buffer)
    scratch_buffer = add_scratch_buffers(lowered, buffers)
    strategies: dict[str, int] = {}
    results: dict[str, tuple[dict[int, int], dict[int, set[str]]]] = {}
    for allow in (False, True):
        for name, key in _ORDERS.items():
            label = f"{name}/{'overlap' if allow else 'separate'}"
            offsets, dirs = _place(buffers, sorted(buffers, key=key), overlaps, allow)
            strategies[label] = align_up(_span(buffers, offsets))
            results[label] = (offsets, dirs)
    best = min(strategies, key=lambda k: (strategies[k], k))
    offsets, dirs = results[best]
    base = min(offsets.values(), default=0)
    for b in buffers:
        b.offset = offsets[b.index] - base
    reversed_ops = frozenset(op for op, allowed in dirs.items() if "forward" not in allowed)
    plan = EnginePlan(
        buffers=buffers,
        tensor_buffer=tensor_buffer,
        overlaps=overlaps,
        arena_bytes=strategies[best],
        reversed_ops=reversed_ops,
        strategy=best,
        no_overlap_bytes=min(v for k, v in strategies.items() if k.endswith("/separate")),
        strategies=strategies,
        scratch_buffer=scratch_buffer,
    )
    problems = check_engine_plan(plan)
    if problems:  # a planner bug must never reach generated code
        raise AssertionError("; ".join(problems))
    return plan


def check_engine_plan(plan: EnginePlan) -> list[str]:
    """Every way the plan is unsafe, as sentences: buffers outside the arena or misaligned, or two
    buffers live at the same time sharing bytes other than through an allowed overlap."""
    problems = []
    pairs = {(ov.src, ov.dst): ov for ov in plan.overlaps}
    for b in plan.buffers:
        if b.offset < 0 or b.offset % ALIGNMENT or b.offset + b.size > plan.arena_bytes:
            problems.append(f"buffer {b.index} at {b.offset} (+{b.size}) is misaligned or outside the arena")
    for i, a in enumerate(plan.buffers):
        for b in plan.buffers[i + 1:]:
            if not a.overlaps_in_time(b):
                continue
            if a.offset >= b.offset + b.size or b.offset >= a.offset + a.size:
                continue
            ov = pairs.get((a.index, b.index)) or pairs.get((b.index, a.index))
            if ov is None:
                problems.append(f"buffers {a.index} and {b.index} share bytes while both are live")
                continue
            src, dst = plan.buffers[ov.src], plan.buffers[ov.dst]
            direction = "reverse" if ov.op in plan.reversed_ops else "forward"
            if direction not in ov.directions(src.offset, dst.offset):
                problems.append(f"op {ov.op} writes buffer {dst.index} over input {src.index} unsafely")
    return problems
