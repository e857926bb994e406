"""Which candidate to pick for a board, and whether each step up in size pays for itself.

Pure functions over plain numbers, so the logic is tested on hand-made candidate sets without any
model. Accuracy is a fraction (0.967); gains are spoken of in percentage points because that is how
people compare classifiers ("+1.2 points").

The frontier is the accuracy-versus-flash staircase of the candidates that fit: sorted by flash, each
step is a candidate more accurate than every smaller one. Flash is the axis because it is what a
bigger model costs first on a microcontroller (weights live in flash); RAM and latency are reported
on every step next to it. The recommendation is the top of that staircase: the most accurate
candidate that fits, and among equally accurate ones the one with less flash, then less RAM, then
the first name in sort order (so the answer never depends on the order candidates were given).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

KIB = 1024


@dataclass(frozen=True)
class Point:
    """One candidate as seen by one board."""

    id: str
    accuracy: float | None  # int8 accuracy on the eval data, 0..1; None when it could not be measured
    flash_bytes: int  # what the model adds to flash (the int8 .tflite)
    ram_bytes: int  # what the model adds to RAM (the tensor arena)
    fits: bool
    latency_ms: float | None = None  # estimated per inference on this board; None until emulated
    reason: str = ""  # why it does not fit, when it does not


@dataclass(frozen=True)
class Step:
    """From one frontier candidate to the next larger one."""

    smaller: str
    larger: str
    accuracy_gain: float  # fraction; > 0 on a frontier
    flash_extra_bytes: int  # > 0 on a frontier
    ram_extra_bytes: int
    latency_extra_ms: float | None  # None unless both latencies are known
    text: str
    noise: float | None = None  # two standard errors of the larger one's accuracy; None without a sample count

    @property
    def within_noise(self) -> bool | None:
        return None if self.noise is None else self.accuracy_gain <= self.noise

    @property
    def points_per_kib_flash(self) -> float:
        return 100 * self.accuracy_gain / (self.flash_extra_bytes / KIB)

    @property
    def points_per_ms(self) -> float | None:
        if self.latency_extra_ms is None or self.latency_extra_ms <= 0:
            return None  # not slower (or unknown): "per extra ms" has no meaning
        return 100 * self.accuracy_gain / self.latency_extra_ms

    def to_dict(self) -> dict[str, Any]:
        per_ms = self.points_per_ms
        return {
            "from": self.smaller,
            "to": self.larger,
            "accuracy_gain": round(self.accuracy_gain, 6),
            "flash_extra_bytes": self.flash_extra_bytes,
            "ram_extra_bytes": self.ram_extra_bytes,
            "latency_extra_ms": None if self.latency_extra_ms is None else round(self.latency_extra_ms, 4),
            "points_per_kib_flash": round(self.points_per_kib_flash, 4),
            "points_per_ms": None if per_ms is None else round(per_ms, 4),
            "noise": None if self.noise is None else round(self.noise, 6),
            "within_noise": self.within_noise,
            "text": self.text,
        }


@dataclass(frozen=True)
class Recommendation:
    target: str
    choice: str | None  # None: nothing fits, or nothing that fits has an accuracy
    frontier: list[str]  # smallest first; the last one is `choice`
    steps: list[Step]
    summary: str
    remarks: list[str] = field(default_factory=list)  # ties, dominated candidates, candidates left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "choice": self.choice,
            "frontier": list(self.frontier),
            "steps": [s.to_dict() for s in self.steps],
            "summary": self.summary,
            "remarks": list(self.remarks),
        }


def _kib(n: int) -> str:
    return f"{n / KIB:.1f} KiB"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _points(x: float) -> str:
    return f"{100 * x:+.1f} points"


def _rank_key(p: Point) -> tuple[float, int, int, str]:
    """Best first: more accurate, then less flash, then less RAM, then by name."""
    assert p.accuracy is not None
    return (-p.accuracy, p.flash_bytes, p.ram_bytes, p.id)


def pareto_front(points: Sequence[Point], cost: str) -> list[str]:
    """Ids not dominated on (higher accuracy, lower `cost`), cheapest first.

    `cost` names a Point field: "flash_bytes", "ram_bytes" or "latency_ms". Points without an
    accuracy or without that cost are left out. Of points equal in both, the one with less flash,
    then less RAM, then the first by name stays: the same tie-break as the recommendation, so the
    front's top is the recommended candidate, and a plot marks one of two twins, not both or neither.
    """
    usable = [p for p in points if p.accuracy is not None and getattr(p, cost) is not None]
    usable.sort(key=lambda p: (getattr(p, cost), -p.accuracy, p.flash_bytes, p.ram_bytes, p.id))  # type: ignore[operator]
    front: list[str] = []
    best: float | None = None
    for p in usable:
        assert p.accuracy is not None
        if best is None or p.accuracy > best:
            front.append(p.id)
            best = p.accuracy
    return front


def recommend(target: str, points: Sequence[Point], eval_samples: int | None = None) -> Recommendation:
    """The most accurate candidate that fits `target`, and what each step up the frontier buys.

    `eval_samples` (how many labelled samples the accuracies come from) lets the text say a gain in
    samples too: "+0.3 points" reads as noise once it says "1 more of 360 images right".
    """
    remarks: list[str] = []
    fitting = [p for p in points if p.fits]
    if not fitting:
        return Recommendation(target, None, [], [], _nothing_fits(target, points))
    scored = [p for p in fitting if p.accuracy is not None]
    unscored = sorted(p.id for p in fitting if p.accuracy is None)
    if unscored:
        remarks.append(f"Left out, no accuracy figure: {', '.join(unscored)}.")
    if not scored:
        summary = (
            f"{len(fitting)} candidate(s) fit {target}, but none has an accuracy figure, "
            "so there is nothing to choose by: give --eval data with labels 'y'."
        )
        return Recommendation(target, None, [], [], summary, remarks)

    by_id = {p.id: p for p in scored}
    frontier = pareto_front(scored, "flash_bytes")
    best = by_id[frontier[-1]]
    steps = [_step(by_id[a], by_id[b], eval_samples) for a, b in itertools.pairwise(frontier)]

    ties = sorted((p for p in scored if p.accuracy == best.accuracy and p.id != best.id), key=_rank_key)
    for tie in ties:
        if (tie.flash_bytes, tie.ram_bytes) == (best.flash_bytes, best.ram_bytes):
            why = "same flash and RAM too, so the first by name"
        elif tie.flash_bytes > best.flash_bytes:
            why = f"it needs less flash ({_kib(best.flash_bytes)} vs {_kib(tie.flash_bytes)})"
        else:
            why = f"same flash, less RAM ({_kib(best.ram_bytes)} vs {_kib(tie.ram_bytes)})"
        remarks.append(f"{tie.id} is as accurate as {best.id} ({_pct(tie.accuracy or 0)}); {best.id} is chosen: {why}.")
    on_front = set(frontier)
    for p in sorted(scored, key=lambda p: (p.flash_bytes, p.id)):
        if p.id in on_front or p in ties:
            continue
        better = _dominator(p, scored)
        remarks.append(
            f"{p.id} is not worth it here: {better.id} is at least as accurate "
            f"({_pct(better.accuracy or 0)} vs {_pct(p.accuracy or 0)}) with no more flash "
            f"({_kib(better.flash_bytes)} vs {_kib(p.flash_bytes)})."
        )

    summary = _summary(target, best, steps, len(scored), [by_id[i] for i in frontier], eval_samples)
    return Recommendation(target, best.id, frontier, steps, summary, remarks)


def _dominator(p: Point, scored: Sequence[Point]) -> Point:
    """The best-ranked candidate that makes `p` not worth having: as accurate or more, no more flash."""
    assert p.accuracy is not None
    candidates = [
        q
        for q in scored
        if q.id != p.id and q.accuracy is not None and q.accuracy >= p.accuracy and q.flash_bytes <= p.flash_bytes
    ]
    return min(candidates, key=_rank_key)


def _step(small: Point, large: Point, eval_samples: int | None) -> Step:
    assert small.accuracy is not None and large.accuracy is not None
    gain = large.accuracy - small.accuracy
    flash = large.flash_bytes - small.flash_bytes
    ram = large.ram_bytes - small.ram_bytes
    latency = None
    if small.latency_ms is not None and large.latency_ms is not None:
        latency = large.latency_ms - small.latency_ms
    per_kib = 100 * gain / (flash / KIB)
    noise = _noise(large.accuracy, eval_samples)
    words = [f"{small.id} → {large.id}: {_points(gain)} of accuracy"]
    if eval_samples:
        right = round(gain * eval_samples)
        words.append(f" ({right} more of {eval_samples} eval samples right")
        if noise is not None and gain <= noise:
            words.append(f", within the noise of that many samples, ±{100 * noise:.1f} points")
        words.append(")")
    words.append(f" for {_kib(flash)} more flash, {per_kib:.2f} points per extra KiB")
    words.append(f"; RAM {'+' if ram >= 0 else '−'}{_kib(abs(ram))}")
    if latency is None:
        words.append("; latency not emulated yet")
    elif latency > 0:
        words.append(f"; {latency:.3g} ms slower, {100 * gain / latency:.2f} points per extra ms")
    else:
        words.append(f"; no slower ({latency:+.3g} ms)")
    return Step(small.id, large.id, gain, flash, ram, latency, "".join(words) + ".", noise)


def _noise(accuracy: float, samples: int | None) -> float | None:
    """Two binomial standard errors of an accuracy measured on `samples` samples.

    A gain no larger than this could come from which samples happen to be in the eval set rather
    than from the model: the plain-words answer to "is the bigger one really better?". Floored at
    one sample, so a perfect score does not claim zero noise.
    """
    if not samples:
        return None
    p = min(max(accuracy, 1 / samples), 1 - 1 / samples)
    return 2 * math.sqrt(p * (1 - p) / samples)


def _summary(
    target: str, best: Point, steps: Sequence[Step], scored: int, front: Sequence[Point], eval_samples: int | None
) -> str:
    assert best.accuracy is not None
    head = (
        f"{target}: {best.id}, the most accurate candidate that fits "
        f"({_pct(best.accuracy)} int8 accuracy, {_kib(best.flash_bytes)} model flash, "
        f"{_kib(best.ram_bytes)} arena RAM)."
    )
    if scored == 1:
        return f"{target}: {best.id}, the only candidate that fits ({_pct(best.accuracy)} int8 accuracy)."
    if not steps:
        return head + " No smaller candidate that fits comes close: it is also the smallest on the frontier."
    last = steps[-1]
    tail = (
        f" Its last step up, from {last.smaller}, buys {_points(last.accuracy_gain)} for "
        f"{_kib(last.flash_extra_bytes)} more flash ({last.points_per_kib_flash:.2f} points per KiB)"
    )
    if last.latency_extra_ms is not None and last.latency_extra_ms > 0:
        tail += f" and {last.latency_extra_ms:.3g} ms more per inference"
    tail += "."
    noise = _noise(best.accuracy, eval_samples)
    # The smallest frontier candidate whose whole gap to the best is noise, not step by step: several
    # noisy steps can add up to a real difference.
    enough = next(p for p in front if noise is None or p.accuracy is None or best.accuracy - p.accuracy <= noise)
    if enough.id != best.id and noise is not None:
        tail += (
            f" As far as {eval_samples} eval samples can tell (±{100 * noise:.1f} points), {enough.id} is as "
            f"good: {_pct(enough.accuracy or 0)} for {_kib(best.flash_bytes - enough.flash_bytes)} less flash."
        )
    return head + tail


def _nothing_fits(target: str, points: Sequence[Point]) -> str:
    if not points:
        return f"{target}: no candidates."
    # The smallest candidate is the one a user would shrink further, so its shortfall is the useful one.
    smallest = min(points, key=lambda p: (p.flash_bytes, p.ram_bytes, p.id))
    reason = f" ({smallest.reason})" if smallest.reason else ""
    return (
        f"{target}: nothing fits. The smallest candidate, {smallest.id}, needs {_kib(smallest.flash_bytes)} "
        f"model flash and {_kib(smallest.ram_bytes)} arena RAM{reason}."
    )
