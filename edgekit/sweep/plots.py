"""The sweep's Pareto plots, drawn by matplotlib as SVG to inline in sweep.html.

Accuracy (int8, what the board runs) against a cost: the model's flash, its RAM, or its latency on
a board. Candidates on the front (no other one is at least as accurate for less) are filled and
joined by the staircase; the others are hollow. Each board's budget for the model is a vertical
line, so a point left of a board's line fits that board on that resource.

matplotlib is imported inside the functions (`edgekit --help` must stay light), with the Agg-free
`Figure` API so no GUI backend is involved. The bytes are reproducible: matplotlib's defaults plus our
style (a user's matplotlibrc cannot leak in), a fixed id salt, text as paths (no font lookup at view
time), no date in the metadata. Namespace declarations, the RDF metadata block and xlink are removed:
the HTML parser knows <svg>, and the page must not contain a single http(s) URL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

INK = "#1f2937"
MUTED = "#9ca3af"
FRONT = "#2563eb"
# Board colours: distinct for the first few boards, which is what a sweep compares.
BOARD_COLORS = ("#ea580c", "#0d9488", "#9333ea", "#ca8a04", "#db2777", "#4b5563", "#65a30d", "#0891b2")
# A budget line further right than this many times the largest candidate is named, not drawn: it
# would squeeze every candidate into the left edge.
OFF_SCALE = 200.0
LOG_SPAN = 8.0  # x-axes spanning more than this ratio are drawn on a log scale

_STYLE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "edgekit-sweep",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": MUTED,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": False,
}


@dataclass(frozen=True)
class PlotPoint:
    id: str
    x: float
    accuracy: float  # 0..1
    series: str = ""  # a board name on the latency plot, where each board has its own points


@dataclass(frozen=True)
class BudgetLine:
    board: str
    x: float
    label: str  # the value as text, e.g. "786.0 KiB"


def board_color(index: int) -> str:
    return BOARD_COLORS[index % len(BOARD_COLORS)]


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib as mpl

    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(_STYLE)
        yield


def pareto_svg(
    name: str,
    xlabel: str,
    points: Sequence[PlotPoint],
    front: Sequence[tuple[str, str]],  # (series, id) pairs on the front
    budgets: Sequence[BudgetLine] = (),
    series_colors: dict[str, str] | None = None,
    budget_colors: dict[str, str] | None = None,
    x_format: str = "kib",  # "kib" or "ms"
) -> tuple[str, list[BudgetLine]]:
    """One Pareto plot as an SVG fragment, and the budget lines left off the axis as off-scale."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    on_front = set(front)
    if x_format == "kib":
        # Drawn in KiB, so a log axis puts its ticks at 1, 10, 100 KiB rather than at 10^k bytes.
        points = [PlotPoint(p.id, p.x / 1024, p.accuracy, p.series) for p in points]
        budgets = [BudgetLine(b.board, b.x / 1024, b.label) for b in budgets]
    xs = [p.x for p in points]
    top = max(xs) if xs else 1.0
    shown = [b for b in budgets if b.x <= top * OFF_SCALE and b.x > 0]
    off = [b for b in budgets if b not in shown]  # in the caller's units: only their labels are used
    span = [*xs, *(b.x for b in shown)]
    low, high = (min(span), max(span)) if span else (1.0, 1.0)
    log = low > 0 and high / low > LOG_SPAN

    with _style():
        fig = Figure(figsize=(7.5, 4.2), layout="constrained")
        ax = fig.add_subplot()
        series = list(dict.fromkeys(p.series for p in points))
        for s in series:
            color = (series_colors or {}).get(s, FRONT)
            mine = [p for p in points if p.series == s]
            best = sorted((p for p in mine if (s, p.id) in on_front), key=lambda p: p.x)
            rest = [p for p in mine if (s, p.id) not in on_front]
            label = f"{s}: " if s else ""
            if best:
                ax.step(
                    [p.x for p in best], [p.accuracy for p in best], where="post", color=color, linewidth=1.2, alpha=0.6
                )
                ax.scatter(
                    [p.x for p in best],
                    [p.accuracy for p in best],
                    s=42,
                    color=color,
                    zorder=3,
                    label=f"{label}on the front",
                )
            if rest:
                ax.scatter(
                    [p.x for p in rest],
                    [p.accuracy for p in rest],
                    s=42,
                    facecolors="white",
                    edgecolors=color if s else MUTED,
                    linewidths=1.2,
                    zorder=3,
                    label=f"{label}dominated",
                )
            for p in mine:
                ax.annotate(p.id, (p.x, p.accuracy), textcoords="offset points", xytext=(5, 5), fontsize=8, color=INK)
        for b in shown:
            color = (budget_colors or {}).get(b.board, MUTED)
            ax.axvline(b.x, color=color, linestyle="--", linewidth=1.2, label=f"{b.board} budget ({b.label})")
        if log:
            from matplotlib.ticker import LogLocator

            ax.set_xscale("log")
            # 1-2-5 steps: a sweep often spans less than one decade, where 10^k ticks alone leave one label.
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        unit = "KiB" if x_format == "kib" else "ms"
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g} {unit}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda _v, _pos: ""))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(xlabel + (" (log scale)" if log else ""))
        ax.set_ylabel("int8 accuracy")
        if points:
            accs = [p.accuracy for p in points]
            pad = max(0.01, (max(accs) - min(accs)) * 0.15)
            ax.set_ylim(max(0.0, min(accs) - pad), min(1.0, max(accs) + pad))
        # Below the axes: inside, it would sit on top of the budget lines that matter most.
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(handles)))
        return _svg(fig, name), off


_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*")
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_XMLNS = re.compile(r'\s+xmlns(?::[\w-]+)?="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')
_IDREF = re.compile(r'(href="#|url\(#)([^")]+)')


def _svg(fig: Any, name: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = _PROLOG.sub("", buf.getvalue())
    svg = _COMMENT.sub("", svg)
    svg = _METADATA.sub("", svg)
    svg = _XMLNS.sub("", svg)
    svg = svg.replace("xlink:href=", "href=")  # SVG 2 href: no xlink namespace needed
    # Several plots share one page: their ids (clip paths, glyph paths) must not collide.
    svg = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = _IDREF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg class="plot" role="img" aria-label="{name}" ', 1).strip() + "\n"
