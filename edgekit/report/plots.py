"""The plots of report.html, drawn by matplotlib as inline SVG.

matplotlib is imported inside the functions: `edgekit check` and `--help` import this package's
siblings and must stay cheap. Figures are built with `matplotlib.figure.Figure` directly, never
pyplot, so no GUI backend is chosen and no global figure state leaks between reports.

Every figure comes out as an SVG fragment for an HTML5 page: no XML prolog, no DOCTYPE, no namespace
URLs (the HTML parser knows <svg>), text drawn as paths so it looks the same on a machine without
DejaVu Sans, and ids prefixed per figure so that several figures can share one document. The same
input gives the same bytes: the style is reset to matplotlib's defaults plus ours (a user's
matplotlibrc cannot change the report), the id hash salt is fixed and the metadata holds no date.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgekit.report.format import kib

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
ACCENT = "#2563eb"
BAD = "#b91c1c"
# Muted qualitative colours that stay apart for the colour-blind in the first six.
PALETTE = (
    "#2563eb",
    "#ea580c",
    "#0d9488",
    "#9333ea",
    "#ca8a04",
    "#db2777",
    "#4b5563",
    "#65a30d",
    "#0891b2",
    "#7c2d12",
    "#6366f1",
    "#be123c",
)
RESERVE = "#cbd5e1"

WIDTH_IN = 10.0  # every figure is this wide, so they line up in the page column
# A board's RAM is drawn on the memory timeline only when it would not flatten the curve.
SAME_SCALE = 4.0
# The MACs chart names the heaviest layer when it holds at least this share of the arithmetic.
DOMINANT = 0.2

_STYLE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "edgekit-report",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": "#9ca3af",
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "xtick.labelcolor": INK,
    "ytick.labelcolor": INK,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "path.simplify": False,
}


def available() -> bool:
    """Whether matplotlib can be imported (it ships with edgekit's convert extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib as mpl

    with mpl.rc_context():
        # Defaults first: a matplotlibrc or style of the user's must not change the report's bytes.
        mpl.rcdefaults()
        mpl.rcParams.update(_STYLE)
        yield


def _figure(height_in: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(WIDTH_IN, round(height_in, 2)), layout="constrained")


_XML_PROLOG = re.compile(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*")
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_NAMESPACE = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_ID = re.compile(r'\sid="([^"]+)"')
_REF = re.compile(r'(href="#|url\(#)([^")]+)')


def _to_svg(fig: Figure, name: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = _XML_PROLOG.sub("", svg)
    # Comments repeat label text: dead weight once text is drawn as paths.
    svg = _COMMENT.sub("", svg)
    svg = _NAMESPACE.sub("", svg, count=2)
    # SVG 2 `href` works in every current browser and needs no xlink namespace URL.
    svg = svg.replace("xlink:href=", "href=")
    referenced = {m.group(2) for m in _REF.finditer(svg)}

    def rename(match: re.Match[str]) -> str:
        # Keep only the ids something points at, prefixed so figures in one page never collide.
        ident = match.group(1)
        return f' id="{name}-{ident}"' if ident in referenced else ""

    svg = _ID.sub(rename, svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", svg)
    return svg.replace("<svg ", f'<svg class="plot" role="img" aria-labelledby="{name}-caption" ', 1).strip() + "\n"


def _render(name: str, height_in: float, draw: Callable[[Figure], None]) -> str:
    with _style():
        fig = _figure(height_in)
        draw(fig)
        return _to_svg(fig, name)


def _eng(axis: Any) -> None:
    from matplotlib.ticker import EngFormatter

    axis.set_major_formatter(EngFormatter(sep=""))


def _count(n: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


def op_colors(op_types: Sequence[str]) -> dict[str, str]:
    """One colour per op type, in order of first appearance, so the same model gets the same colours."""
    colors: dict[str, str] = {}
    for op in op_types:
        if op not in colors:
            colors[op] = PALETTE[len(colors) % len(PALETTE)]
    return colors


def _align(at: int, count: int) -> str:
    """Horizontal alignment of a label over bar `at`, so that labels near an edge stay inside the axes."""
    if count > 1 and at / (count - 1) < 0.15:
        return "left"
    if count > 1 and at / (count - 1) > 0.85:
        return "right"
    return "center"


def _legend_cols(labels: Sequence[str]) -> int:
    """As many legend columns as fit the figure's width, judged from the longest label."""
    longest = max((len(label) for label in labels), default=1)
    widest = max(1, min(len(labels), int(140 // (longest + 6))))
    rows = -(-len(labels) // widest)
    return -(-len(labels) // rows)  # rows as even as they can be: 4 + 3, not 6 + 1


def _layer_ticks(ax: Axes, count: int) -> None:
    from matplotlib.ticker import MaxNLocator

    if count <= 40:
        ax.set_xticks(range(count))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=20))
    ax.set_xlim(-0.7, count - 0.3)
    ax.tick_params(axis="x", length=0)


# ---------------------------------------------------------------- budget


@dataclass(frozen=True)
class _BudgetRow:
    label: str
    used: int
    available: int
    parts: list[tuple[str, int]]


def budget_chart(targets: Sequence[dict[str, Any]]) -> str | None:
    """Stacked bars of what takes RAM and flash on each board, as a share of what the board has."""
    rows: list[_BudgetRow] = []
    for t in targets:
        if t.get("unsupported_ops") or not t.get("lines"):
            continue  # no figures when the engine cannot run the model
        storage = "storage" if t.get("engine") == "litert" else "flash"
        for key, label, field in (("ram", "RAM", "ram_bytes"), ("flash", storage, "flash_bytes")):
            parts = [(line["item"], int(line[field])) for line in t["lines"] if line[field] > 0]
            rows.append(
                _BudgetRow(f"{t['target']}  {label}", int(t[key]["used_bytes"]), int(t[key]["available_bytes"]), parts)
            )
    if not rows:
        return None
    # Legend in the order the budget lists its lines (model, arena, runtime, reserve), not by row.
    items = list(dict.fromkeys(line["item"] for t in targets for line in t.get("lines") or []))
    items = [i for i in items if any(i == item for row in rows for item, _ in row.parts)]
    non_reserve = [i for i in items if "reserve" not in i]
    colors = {item: PALETTE[n % len(PALETTE)] for n, item in enumerate(non_reserve)}
    colors.update({i: RESERVE for i in items if "reserve" in i})
    top = max(100.0, *(100.0 * r.used / r.available for r in rows if r.available))

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ys = list(range(len(rows)))[::-1]
        drawn: set[str] = set()
        for y, row in zip(ys, rows, strict=True):
            left = 0.0
            for item, n in row.parts:
                width = 100.0 * n / row.available if row.available else 0.0
                label = None if item in drawn else item
                drawn.add(item)
                ax.barh(y, width, left=left, height=0.62, color=colors[item], label=label, linewidth=0)
                left += width
            over = row.used > row.available
            share = 100.0 * row.used / row.available if row.available else float("inf")
            text = f"{kib(row.used)} of {kib(row.available)} ({share:.1f}%)"
            if over:
                text += f", over by {kib(row.used - row.available)}"
            ax.text(
                left + top * 0.01,
                y,
                text,
                va="center",
                ha="left",
                fontsize=8.5,
                color=BAD if over else INK,
                fontweight="bold" if over else "normal",
            )
        ax.axvline(100, color=BAD, linewidth=1.2, linestyle="--")
        ax.text(100, len(rows) - 0.45, " available", color=BAD, fontsize=8, va="bottom", ha="left")
        ax.set_yticks(ys, [r.label for r in rows])
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(0, top * 1.32)  # room for the labels right of the bars
        ax.set_ylim(-0.6, len(rows) - 0.1)
        ax.set_xlabel("share of the board's memory used (%)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=_legend_cols(items), fontsize=8)

    legend_rows = -(-len(items) // _legend_cols(items))
    return _render("plot-budget", 0.9 + 0.16 * legend_rows + 0.34 * len(rows), draw)


# ---------------------------------------------------------------- compute


def macs_chart(layers: Sequence[dict[str, Any]]) -> str | None:
    """MACs per layer, coloured by op type: where the model's arithmetic is."""
    if not layers or not any(layer["macs"] for layer in layers):
        return None
    ops = [layer["op_type"] for layer in layers]
    colors = op_colors(ops)
    macs = [layer["macs"] for layer in layers]
    total = sum(macs)
    heaviest = max(range(len(layers)), key=lambda i: macs[i])

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for op in colors:
            xs = [i for i, o in enumerate(ops) if o == op]
            ax.bar(xs, [macs[i] for i in xs], width=0.72, color=colors[op], label=op, linewidth=0)
        _layer_ticks(ax, len(layers))
        _eng(ax.yaxis)
        ax.set_xlabel("layer (operator index)")
        ax.set_ylabel("MACs")
        ax.margins(y=0.18)
        share = macs[heaviest] / total
        if share >= DOMINANT:
            ax.annotate(
                f"#{layers[heaviest]['index']}: {_count(macs[heaviest])} MACs, {share:.0%} of all",
                xy=(heaviest, macs[heaviest]),
                xytext=(0, 5),
                textcoords="offset points",
                ha=_align(heaviest, len(layers)),
                va="bottom",
                fontsize=8.5,
                color=INK,
                fontweight="bold",
            )
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=_legend_cols(list(colors)))

    return _render("plot-macs", 3.4, draw)


def time_chart(layer_count: int, series: Sequence[tuple[str, Sequence[float | None]]]) -> str | None:
    """Estimated milliseconds per layer, one bar per emulated target side by side."""
    series = [(name, values) for name, values in series if any(v for v in values)]
    if not series or layer_count == 0:
        return None
    width = 0.8 / len(series)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for n, (name, values) in enumerate(series):
            offset = (n - (len(series) - 1) / 2) * width
            xs = [i + offset for i, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            ax.bar(xs, ys, width=width * 0.92, color=PALETTE[n % len(PALETTE)], label=name, linewidth=0)
        _layer_ticks(ax, layer_count)
        ax.set_xlabel("layer (operator index)")
        ax.set_ylabel("estimated ms")
        ax.margins(y=0.1)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=_legend_cols([name for name, _ in series]))

    return _render("plot-time", 3.2, draw)


# ---------------------------------------------------------------- memory


def _byte_unit(peak: int) -> tuple[float, str]:
    if peak >= 4 * 1024 * 1024:
        return 1024.0 * 1024.0, "MiB"
    if peak >= 4 * 1024:
        return 1024.0, "KiB"
    return 1.0, "B"


def boards_on_scale(peak: int, budgets: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """The boards whose RAM can share the timeline's axis without flattening the curve to nothing."""
    return [(name, ram) for name, ram in budgets if peak > 0 and ram <= SAME_SCALE * peak]


def memory_timeline(
    timeline: Sequence[dict[str, Any]], arena_bytes: int | None, budgets: Sequence[tuple[str, int]]
) -> str | None:
    """Live activation bytes while each operator runs, the planned arena, the peak and the boards' RAM."""
    if not timeline:
        return None
    live = [int(step["live_bytes"]) for step in timeline]
    high = [int(step["high_water_bytes"]) for step in timeline]
    peak_at = max(range(len(live)), key=lambda i: live[i])
    peak = live[peak_at]
    boards = boards_on_scale(max(peak, arena_bytes or 0), budgets)
    scale, unit = _byte_unit(max([peak, arena_bytes or 0, *(ram for _, ram in boards)]))

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        xs = list(range(len(live)))
        bars = ax.bar(
            xs,
            [v / scale for v in live],
            width=0.72,
            color=ACCENT,
            alpha=0.8,
            linewidth=0,
            label="live activations",
        )
        (extent,) = ax.step(
            xs, [v / scale for v in high], where="mid", color=INK, linewidth=1.1, label="arena high-water (plan)"
        )
        handles = [bars, extent]
        if arena_bytes:
            handles.append(
                ax.axhline(arena_bytes / scale, color=MUTED, linewidth=1, linestyle=":", label="planned arena")
            )
        for n, (name, ram) in enumerate(boards):
            ax.axhline(ram / scale, color=BAD, linewidth=1.2, linestyle="--", alpha=1.0 - 0.25 * (n % 3))
            ax.annotate(
                f"{name} RAM {kib(ram)}",
                xy=(len(live) - 0.3, ram / scale),
                xytext=(0, 2),
                textcoords="offset points",
                color=BAD,
                fontsize=8,
                ha="right",
                va="bottom",
            )
        ax.plot([peak_at], [peak / scale], marker="v", color=BAD, markersize=7, linestyle="none")
        ax.annotate(
            f"peak {kib(peak)} at #{timeline[peak_at]['index']} {timeline[peak_at]['op_type']}",
            xy=(peak_at, peak / scale),
            xytext=(0, 9),
            textcoords="offset points",
            ha=_align(peak_at, len(live)),
            va="bottom",
            fontsize=8.5,
            color=BAD,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        )
        _layer_ticks(ax, len(live))
        ax.set_xlabel("operator index")
        ax.set_ylabel(f"bytes in the arena ({unit})")
        ax.set_ylim(0, max([peak, *high, arena_bytes or 0, *(ram for _, ram in boards)]) / scale * 1.22)
        ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(handles))

    return _render("plot-memory", 3.4, draw)


# ---------------------------------------------------------------- sizes


def sizes_chart(sizes: Sequence[dict[str, Any]]) -> str | None:
    """float32 against int8 file size for each format that has both."""
    rows = [s for s in sizes if s.get("float32_bytes") or s.get("int8_bytes")]
    if not rows:
        return None
    top = max(max(s.get("float32_bytes") or 0, s.get("int8_bytes") or 0) for s in rows)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.grid(axis="x")
        ax.grid(axis="y", visible=False)
        ticks: list[float] = []
        for n, s in enumerate(rows):
            base = (len(rows) - 1 - n) * 1.0
            ticks.append(base)
            for offset, key, color, label in (
                (0.19, "float32_bytes", "#94a3b8", "float32"),
                (-0.19, "int8_bytes", ACCENT, "int8"),
            ):
                value = s.get(key)
                if not value:
                    continue
                ax.barh(base + offset, value / 1024, height=0.36, color=color, label=label if n == 0 else None)
                text = kib(value)
                if key == "int8_bytes" and s.get("float32_bytes"):
                    text += f"  ({100 * value / s['float32_bytes']:.0f}% of float32)"
                ax.text(value / 1024 + top / 1024 * 0.01, base + offset, text, va="center", fontsize=8.5)
        ax.set_yticks(ticks, [s["format"] for s in rows])
        ax.tick_params(axis="y", length=0)
        ax.set_xlim(0, top / 1024 * 1.35)
        ax.set_xlabel("file size (KiB)")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2)

    return _render("plot-sizes", 0.95 + 0.62 * len(rows), draw)
