"""sweep.html: the sweep as one self-contained page, rendered from the sweep.json dict.

Rendering from the dict keeps the page and the JSON from ever disagreeing. The page loads nothing: CSS
and the SVG plots are inline, there is no script, and a Content-Security-Policy forbids every fetch.
It leaves out what the cache did (sweep.json says that), so a cached rerun writes the same page.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from edgekit.report.format import kib, pct
from edgekit.sweep import plots
from edgekit.sweep.measure import NOT_EMULATED

if TYPE_CHECKING:
    from edgekit.sweep.run import SweepResult

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2937; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.sub { color: #6b7280; margin-top: 0; }
table { border-collapse: collapse; margin: .5rem 0; font-variant-numeric: tabular-nums; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e5e7eb; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f9fafb; font-weight: 600; }
.yes { color: #15803d; } .no { color: #b91c1c; } td.yes, td.no { white-space: normal; }
.scroll { overflow-x: auto; }
.rec { border-left: 4px solid #2563eb; padding: .4rem .9rem; margin: .8rem 0; background: #f8fafc; }
.rec.none { border-color: #b91c1c; }
.rec ul { margin: .3rem 0 0; padding-left: 1.2rem; color: #374151; }
figure { margin: 1rem 0 2rem; } figcaption { color: #4b5563; max-width: 60rem; }
svg.plot { width: 100%; height: auto; max-width: 760px; display: block; }
.muted { color: #6b7280; }
code { background: #f3f4f6; padding: 0 .25rem; border-radius: 3px; }
"""


def _e(value: object) -> str:
    # Names come from users' files; a "://" in one must not read as a URL in the page.
    return html.escape(str(value), quote=True).replace("://", ":&#47;&#47;")


def _count(n: int) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)


def sweep_html(result: SweepResult) -> str:
    from edgekit.sweep.report import sweep_dict

    return render(sweep_dict(result))


def render(data: dict[str, Any]) -> str:
    settings = data["settings"]
    boards = data["targets"]
    cands = data["candidates"]
    if settings["mode"] == "builder":
        widths = ", ".join(f"{w:g}" for w in settings["widths"])
        what = (
            f"builder <code>{_e(settings['builder'])}</code> at widths {_e(widths)}, trained "
            f"{settings['epochs']} epochs on <code>{_e(settings['train']['file'])}</code>"
        )
    else:
        what = f"{len(cands)} model file(s)"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>edgekit sweep</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<h1>Which model is worth it</h1>",
        f'<p class="sub">edgekit {_e(data["edgekit_version"])} sweep: {what}; '
        f"on {len(boards)} board(s); accuracy on {settings['evaluation']['samples']} samples of "
        f"<code>{_e(settings['evaluation']['file'])}</code> ({_e(settings['accuracy'])}).</p>",
        _recommendations(data),
        _plots(data),
        _table(data),
        _notes(data),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _recommendations(data: dict[str, Any]) -> str:
    out = ["<h2>Recommendation per board</h2>"]
    shown: dict[tuple[str, ...], str] = {}
    for rec in data["recommendations"]:
        cls = "rec" if rec["choice"] else "rec none"
        out.append(f'<div class="{cls}"><p>{_e(rec["summary"])}</p>')
        items = tuple(s["text"] for s in rec["steps"]) + tuple(rec["remarks"])
        if items and items in shown:
            # Until latency is measured the steps do not depend on the board: say them once.
            out.append(f'<p class="muted">Steps up the frontier: as for {_e(shown[items])}.</p>')
        elif items:
            shown[items] = rec["target"]
            out.append("<ul>" + "".join(f"<li>{_e(t)}</li>" for t in items) + "</ul>")
        out.append("</div>")
    return "\n".join(out)


def _plots(data: dict[str, Any]) -> str:
    boards = data["targets"]
    cands = [c for c in data["candidates"] if c["int8_accuracy"] is not None]
    colors = {b["name"]: plots.board_color(i) for i, b in enumerate(boards)}
    out = ["<h2>Accuracy against cost</h2>"]
    caption_tail = (
        " Filled points are on the front: no other candidate is at least as accurate for less. "
        "Dashed lines are what each board leaves for the model once the TFLM runtime and the board's "
        "reserve are taken out (LiteRT's on a Raspberry Pi); a point left of a board's line fits that board "
        "on this resource."
    )
    for name, field, budget_field, xlabel, title in (
        ("flash", "int8_flash_bytes", "model_flash_budget_bytes", "model flash (int8 .tflite)", "Accuracy vs flash"),
        ("ram", "tflm_ram_bytes", "model_ram_budget_bytes", "model RAM (TFLM tensor arena)", "Accuracy vs RAM"),
    ):
        points = [plots.PlotPoint(c["id"], c[field], c["int8_accuracy"]) for c in cands]
        front = [("", c["id"]) for c in cands if c["pareto"][name]]
        budgets = [
            plots.BudgetLine(b["name"], b[budget_field], kib(b[budget_field]))
            for b in boards
            if b[budget_field] is not None
        ]
        svg, off = plots.pareto_svg(f"sweep-{name}", xlabel, points, front, budgets, budget_colors=colors)
        caption = f"<strong>{title}.</strong>{caption_tail}"
        if off:
            caption += (
                " Off the axis, far to the right: " + ", ".join(f"{_e(b.board)} ({_e(b.label)})" for b in off) + "."
            )
        out.append(f"<figure>{svg}<figcaption>{caption}</figcaption></figure>")

    latency_points = []
    latency_front = []
    for c in cands:
        for t in c["targets"]:
            ms = t["measured"]["estimated_ms"]
            if ms is not None:
                latency_points.append(plots.PlotPoint(c["id"], ms, c["int8_accuracy"], t["target"]))
                if t["pareto_latency"]:
                    latency_front.append((t["target"], c["id"]))
    if latency_points:
        svg, _ = plots.pareto_svg(
            "sweep-latency",
            "estimated latency per inference",
            latency_points,
            latency_front,
            series_colors=colors,
            x_format="ms",
        )
        out.append(
            f"<figure>{svg}<figcaption><strong>Accuracy vs latency</strong>, per board: milliseconds are "
            "estimated from instructions counted in emulation and the core's cycle model. Filled points "
            "are on that board's front.</figcaption></figure>"
        )
    else:
        out.append(
            f'<p class="muted"><strong>Accuracy vs latency:</strong> {NOT_EMULATED}. '
            "The plot appears here once candidates are run in emulation.</p>"
        )
    return "\n".join(out)


def _fit_cell(t: dict[str, Any]) -> str:
    measured = t["measured"]
    ms = measured["estimated_ms"]
    latency = f", {ms:.3g} ms" if ms is not None else ""
    if measured["engine_ram_bytes"] is not None:
        latency += f", {_e(measured['engine'])} RAM {kib(measured['engine_ram_bytes'])}"
    if t["fits"]:
        return f'<td class="yes" title="{_e(t["reason"])}">fits{latency}</td>'
    return f'<td class="no" title="{_e(t["reason"])}">{_e(t["reason"])}{latency}</td>'


def _table(data: dict[str, Any]) -> str:
    boards = data["targets"]
    head = ["candidate", "params", "MACs", "int8 flash", "TFLM RAM", "float acc", "int8 acc", "drop"]
    out = [
        "<h2>Candidates</h2>",
        '<div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "".join(f"<th>{_e(b['name'])}</th>" for b in boards)
        + "</tr></thead><tbody>",
    ]
    for c in data["candidates"]:
        drop = "-" if c["accuracy_drop"] is None else f"{100 * c['accuracy_drop']:.1f} pt"
        cells = [
            f"<td>{_e(c['id'])}</td>",
            f"<td>{c['params']:,}</td>",
            f"<td>{_count(c['macs'])}</td>",
            f"<td>{kib(c['int8_flash_bytes'])}</td>",
            f"<td>{kib(c['tflm_ram_bytes'])}</td>",
            f"<td>{pct(c['float_accuracy'])}</td>",
            f"<td>{pct(c['int8_accuracy'])}</td>",
            f"<td>{drop}</td>",
            *(_fit_cell(t) for t in c["targets"]),
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.append(
        '<p class="muted">int8 flash is the int8 .tflite; TFLM RAM is its tensor arena as declared in '
        "model_arena.h (measured with the tflite-micro interpreter, plus headroom). A board's verdict adds "
        "the runtime (TFLM; LiteRT on a Raspberry Pi) and the board's reserve. "
        f"Latency and the edgekit engine's RAM: {NOT_EMULATED} "
        "unless a figure is shown. Each candidate's files are in <code>candidates/&lt;id&gt;/</code>.</p>"
    )
    return "\n".join(out)


def _notes(data: dict[str, Any]) -> str:
    # A note most candidates share (the same conversion caveat) is said once, naming who it is about.
    about: dict[str, list[str]] = {}
    for c in data["candidates"]:
        for note in c["notes"]:
            about.setdefault(note, []).append(c["id"])
    everyone = len(data["candidates"])
    items = [_e(n) for n in data["notes"]]
    for note, ids in about.items():
        who = "all candidates" if len(ids) == everyone else ", ".join(ids)
        items.append(f"<strong>{_e(who)}</strong>: {_e(note)}")
    if not items:
        return ""
    return "<h2>Notes</h2><ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"
