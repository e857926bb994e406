"""report.html: the report as one self-contained page a person opens offline.

Rendered from the report dict (the content of report.json), so the page and the JSON a CI job reads
never disagree. The page loads nothing: CSS and the plots (SVG from edgekit.report.plots) are
inline, the only script sorts the layer table, and a Content-Security-Policy forbids every fetch, so
a page that slipped in a reference would show it as a console error in the browser test. Same dict,
same bytes: no dates, no random ids, no absolute paths.

An `emulation` entry (firmware run in QEMU) is optional. When present it is a list of runs, one per
emulated target (a single run is accepted too), each as edgekit.emulate's EmulationResult.as_dict():

    {"target": str, "core": str, "clock_mhz": float, "emulation_note": str,
     "measured": {"instructions": int, ...}, "estimated": {"cycles": int, "ms": float},
     "inferences": [{"layers": [{"index": int, "op": str,
                                 "measured": {"instructions": int, ...},
                                 "estimated": {"cycles": int, "ms": float}}, ...]}, ...]}

The first inference's layers are shown, matched to the analysis by operator index. Flat keys
(`instructions`, `estimated_cycles`, `estimated_ms` beside `layers`) are read too. Instructions are
shown as measured, cycles and milliseconds as estimated; totals missing from a run are summed from
its layers.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgekit.report import plots
from edgekit.report.format import kib, num, pct

_HIGH_USE = 0.9  # a gauge turns amber from here: it fits, but one more feature will not


def _e(value: object) -> str:
    """HTML-escaped text that never spells a URL scheme.

    Notes and names come from models and users; a note quoting a web address must not make the file
    look as if it referenced the network. `&#47;` renders as "/", so the reader sees the same text.
    """
    return html.escape(str(value), quote=True).replace("://", ":&#47;&#47;")


def _int(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _shape(shapes: Sequence[Sequence[int]]) -> str:
    # -1 is the model's free batch dimension: N reads as that, "-1" reads as an error.
    return ", ".join("\u00d7".join("N" if d == -1 else str(d) for d in s) for s in shapes) or "-"


# ---------------------------------------------------------------- emulation (optional)


@dataclass
class _Run:
    target: str
    instructions: int | None
    cycles: int | None
    ms: float | None
    layers: dict[int, dict[str, Any]] = field(default_factory=dict)  # index -> {"instructions", "cycles", "ms"}
    about: str = ""  # core, clock and how the board was emulated


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    """instructions / cycles / ms of a run or a layer, from the nested shape or the flat one."""
    measured = data.get("measured") if isinstance(data.get("measured"), dict) else {}
    estimated = data.get("estimated") if isinstance(data.get("estimated"), dict) else {}
    return {
        "instructions": measured.get("instructions", data.get("instructions")),
        "cycles": estimated.get("cycles", data.get("estimated_cycles")),
        "ms": estimated.get("ms", data.get("estimated_ms")),
    }


def _emulation_runs(report: dict[str, Any]) -> list[_Run]:
    data = report.get("emulation")
    if not data:
        return []
    out = []
    for n, run in enumerate(data if isinstance(data, list) else [data]):
        if not isinstance(run, dict):
            continue
        inferences = run.get("inferences") or []
        raw_layers = (inferences[0].get("layers") if inferences else run.get("layers")) or []
        layers = {int(layer.get("index", i)): _figures(layer) for i, layer in enumerate(raw_layers)}
        totals = _figures(run)
        for key, value in totals.items():
            values = [layer[key] for layer in layers.values()]
            if value is None and values and all(v is not None for v in values):
                totals[key] = sum(values)
        about = [str(run["core"])] if run.get("core") else []
        if run.get("clock_mhz"):
            about.append(f"{num(float(run['clock_mhz']))} MHz")
        if run.get("emulation_note"):
            about.append(str(run["emulation_note"]))
        out.append(
            _Run(
                target=str(run.get("target") or f"run {n + 1}"),
                instructions=totals["instructions"],
                cycles=totals["cycles"],
                ms=totals["ms"],
                layers=layers,
                about="; ".join(about),
            )
        )
    return out


# ---------------------------------------------------------------- page parts


def _figure(svg: str | None, name: str, caption: str) -> str:
    if svg is None:
        return ""
    return f'<figure id="{name}">\n{svg}<figcaption id="{name}-caption">{caption}</figcaption>\n</figure>\n'


def _overall(report: dict[str, Any]) -> tuple[str, str]:
    targets = report.get("targets") or []
    if not targets:
        return "none", "No board verdict"
    misses = [t["target"] for t in targets if not t["fits"]]
    if not misses:
        return "fits", f"Fits every target ({len(targets)})" if len(targets) > 1 else f"Fits {targets[0]['target']}"
    return "over", f"Does not fit: {', '.join(misses)}"


def _header(report: dict[str, Any]) -> str:
    model = report.get("model") or {}
    state, text = _overall(report)
    facts: list[tuple[str, str]] = [("format", model.get("format", "-"))]
    for label, key in (("input", "inputs"), ("output", "outputs")):
        for t in model.get(key) or []:
            facts.append((label, f"{t['name']}: {_shape([t['shape']])} {t['dtype']}"))
    analysis = report.get("analysis")
    if analysis:
        facts += [
            ("parameters", _int(analysis["total_params"])),
            ("MACs per inference", _int(analysis["total_macs"])),
            ("weights", kib(analysis["total_weight_bytes"])),
            ("quantization", analysis["quantization"]),
        ]
    plan = report.get("memory_plan")
    if plan:
        facts.append(("activation arena (plan)", kib(plan["arena_bytes"])))
    tflm = report.get("tflm_arena")
    if tflm:
        facts.append(("TFLM arena (measured)", kib(tflm["min_arena_bytes"])))
    dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    sha = model.get("sha256", "")
    return (
        '<header class="page">\n'
        '<p class="brand">edgekit report</p>\n'
        f"<h1>{_e(model.get('file', 'model'))}</h1>\n"
        f'<p class="meta">sha256 <code title="{_e(sha)}">{_e(sha[:16])}\u2026</code></p>\n'
        f'<p class="overall {state}" id="overall-verdict">{_e(text)}</p>\n'
        f'<dl class="facts">{dl}</dl>\n'
        "</header>\n"
    )


_SECTIONS = (
    ("verdict", "Verdict"),
    ("layers", "Layers"),
    ("compute", "Compute"),
    ("memory", "Memory"),
    ("artifacts", "Artifacts"),
    ("accuracy", "Accuracy"),
    ("notes", "Notes"),
)


def _nav() -> str:
    links = "".join(f'<a href="#{key}">{title}</a>' for key, title in _SECTIONS)
    return f'<nav aria-label="sections">{links}</nav>\n'


def _gauge(label: str, budget: dict[str, Any]) -> str:
    used, available = int(budget["used_bytes"]), int(budget["available_bytes"])
    share = used / available if available else float("inf")
    state = "over" if used > available else ("high" if share >= _HIGH_USE else "ok")
    width = 100.0 if share == float("inf") else min(share, 1.0) * 100
    headroom = int(budget["headroom_bytes"])
    room = f"headroom {kib(headroom)}" if headroom >= 0 else f"over by {kib(-headroom)}"
    share_text = "-" if share == float("inf") else f"{share:.1%}"
    return (
        f'<div class="gauge {state}">'
        f'<div class="gauge-head"><span class="gauge-label">{_e(label)}</span>'
        f'<span class="gauge-figure">{kib(used)} / {kib(available)} '
        f'<span class="share">({share_text})</span></span></div>'
        f'<div class="track" role="img" aria-label="{_e(label)}: {kib(used)} used of {kib(available)}">'
        f'<div class="fill" style="width:{width:.2f}%"></div></div>'
        f'<div class="room">{_e(room)}</div>'
        "</div>"
    )


def _basis(line: dict[str, Any]) -> str:
    return f"{line['basis']}: {line['method']}" if line.get("method") else str(line["basis"])


def _latency(target: dict[str, Any]) -> str:
    """The latency line of a card: the figure against the budget, or why there is none."""
    latency = target.get("latency") or {}
    ms, budget, status = latency.get("ms"), latency.get("budget_ms"), latency.get("status")
    if ms is None and budget is None:
        return ""
    if ms is None:
        text = f"Latency: no latency figure for this board (budget {num(budget)} ms, not checked)."
    else:
        text = f"Latency: {num(ms)} ms per inference"
        if budget is not None:
            text += f", {'within' if status == 'within budget' else 'OVER'} the {num(budget)} ms budget"
        text += "."
    basis = f" {latency['basis']}" if latency.get("basis") else ""
    return f'<p class="latency">{_e(text)}<span class="basis">{_e(basis)}</span></p>'


def _budget_lines(target: dict[str, Any], storage: str) -> str:
    rows = "".join(
        f'<tr><td>{_e(line["item"])}</td><td class="num">{kib(line["ram_bytes"]) if line["ram_bytes"] else "-"}</td>'
        f'<td class="num">{kib(line["flash_bytes"]) if line["flash_bytes"] else "-"}</td>'
        f'<td><span class="basis">{_e(_basis(line))}</span></td></tr>'
        for line in target["lines"]
    )
    return (
        "<details><summary>What the figures are made of</summary>"
        f'<table class="lines"><thead><tr><th>item</th><th class="num">RAM</th><th class="num">{storage}</th>'
        f"<th>basis</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )


def _target_card(target: dict[str, Any], runs: list[_Run]) -> str:
    fits = bool(target["fits"])
    storage = "storage" if target.get("engine") == "litert" else "flash"
    parts = [
        f'<article class="card {"fits" if fits else "over"}" data-target="{_e(target["target"])}">',
        '<div class="card-head">'
        f'<h3>{_e(target["target"])}</h3><span class="badge">{"fits" if fits else "does not fit"}</span></div>',
        f'<p class="board">{_e(target["title"])} \u00b7 engine <code>{_e(target["engine"])}</code></p>',
    ]
    if target.get("unsupported_ops"):
        parts.append(f'<p class="reason">{_e(target["reason"])}: no memory figures.</p>')
    else:
        if not fits:
            parts.append(f'<p class="reason">{_e(target["reason"])}</p>')
        parts.append(_gauge("RAM", target["ram"]))
        parts.append(_gauge(storage, target["flash"]))
        latency = _latency(target)
        if latency:
            parts.append(latency)
    for run in runs:
        if run.target == target["target"] and (run.ms is not None or run.instructions is not None):
            figures = []
            if run.ms is not None:
                cycles = f", {_int(run.cycles)} cycles" if run.cycles is not None else ""
                figures.append(f"<strong>{num(run.ms)} ms</strong> per inference (estimated{cycles})")
            if run.instructions is not None:
                figures.append(f"{_int(run.instructions)} instructions (measured in emulation)")
            parts.append(f'<p class="timing">{"; ".join(figures)}</p>')
            if run.about:
                parts.append(f'<p class="card-note">Emulated: {_e(run.about)}</p>')
    if target.get("lines"):
        parts.append(_budget_lines(target, storage))
    parts += [f'<p class="card-note">{_e(n)}</p>' for n in target.get("notes") or []]
    parts.append("</article>")
    return "\n".join(parts)


def _verdict_section(report: dict[str, Any], runs: list[_Run], draw: bool) -> str:
    targets = report.get("targets") or []
    body = ['<section id="verdict"><h2>Verdict per target</h2>']
    if not targets:
        body.append(
            '<p class="empty">No board verdict: budgets are computed from the int8 TFLite model, '
            "and this run has none (see the notes).</p>"
        )
    else:
        body.append('<div class="cards">')
        body += [_target_card(t, runs) for t in targets]
        body.append("</div>")
        if draw:
            body.append(
                _figure(
                    plots.budget_chart(targets),
                    "plot-budget",
                    "Where the memory goes: each item's share of the board's RAM and flash. The dashed line "
                    "is all the board has; the grey part is the reserve the target file keeps for the "
                    "application.",
                )
            )
    body.append("</section>\n")
    return "\n".join(body)


@dataclass(frozen=True)
class _Column:
    title: str
    value: Callable[[dict[str, Any]], Any]  # a layer dict -> the cell's value
    numeric: bool  # right-aligned, sorted by value, largest first on the first click
    total: str | None = None  # shown in the table's foot
    board: str | None = None  # per-target columns name the board on a second header line

    def head(self) -> str:
        sub = f'<span class="sub">{_e(self.board)}</span>' if self.board else ""
        if self.numeric:
            return f'<th scope="col" class="num" data-type="num">{_e(self.title)}{sub}</th>'
        return f'<th scope="col" data-type="text">{_e(self.title)}{sub}</th>'


def _layer_columns(analysis: dict[str, Any], runs: list[_Run]) -> list[_Column]:
    columns = [
        _Column("#", lambda layer: layer["index"], True),
        _Column("op", lambda layer: layer["op_type"], False),
        _Column("input", lambda layer: _shape(layer["input_shapes"]), False),
        _Column("weights", lambda layer: _shape(layer["weight_shapes"]), False),
        _Column("output", lambda layer: _shape(layer["output_shapes"]), False),
        _Column("params", lambda layer: layer["params"], True, _int(analysis["total_params"])),
        _Column("MACs", lambda layer: layer["macs"], True, _int(analysis["total_macs"])),
        _Column("weight bytes", lambda layer: layer["weight_bytes"], True, _int(analysis["total_weight_bytes"])),
        _Column("activation bytes", lambda layer: layer["activation_bytes"], True),
        _Column("quant", lambda layer: layer["quantization"], False),
    ]
    for run in runs:

        def instructions(layer: dict[str, Any], run: _Run = run) -> Any:
            return run.layers.get(layer["index"], {}).get("instructions")

        def ms(layer: dict[str, Any], run: _Run = run) -> Any:
            return run.layers.get(layer["index"], {}).get("ms")

        columns.append(_Column("instructions", instructions, True, _int(run.instructions), run.target))
        columns.append(_Column("est. ms", ms, True, num(run.ms), run.target))
    return columns


def _cell(value: Any, numeric: bool) -> str:
    if not numeric:
        return f"<td>{_e(value)}</td>"
    if value is None:
        return '<td class="num" data-v="">-</td>'
    shown = _int(value) if isinstance(value, int) else num(float(value))
    return f'<td class="num" data-v="{value!r}">{shown}</td>'


def _layers_section(report: dict[str, Any], runs: list[_Run]) -> str:
    analysis = report.get("analysis")
    body = ['<section id="layers"><h2>Layers</h2>']
    if not analysis or not analysis.get("layers"):
        body.append('<p class="empty">No per-layer analysis in this report.</p></section>\n')
        return "\n".join(body)
    layers = analysis["layers"]
    columns = _layer_columns(analysis, runs)
    head = "".join(column.head() for column in columns)
    rows = []
    for layer in layers:
        cells = "".join(_cell(column.value(layer), column.numeric) for column in columns)
        rows.append(f"<tr>{cells}</tr>")
    foot = "".join(
        f'<td class="num">{c.total}</td>' if c.total is not None else ("<td>total</td>" if i == 0 else "<td></td>")
        for i, c in enumerate(columns)
    )
    body.append(
        f'<p class="lead">{len(layers)} operators, {_e(analysis["quantization"])} quantization. '
        '<span class="js-only">Click a column header to sort; click again to reverse.</span></p>'
    )
    if runs:
        body.append(
            '<p class="lead">Instructions are counted in emulation (measured); milliseconds are estimated '
            "from a cycle model of the core and the board's clock.</p>"
        )
    body.append(
        '<div class="table-wrap"><table id="layer-table" class="layers" data-sortable>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody><tfoot><tr>{foot}</tr></tfoot>"
        "</table></div>"
    )
    if analysis.get("quantization_note"):
        body.append(f'<p class="note">{_e(analysis["quantization_note"])}</p>')
    support = report.get("op_support") or []
    if support:
        engines = [key for key in ("tflm", "edgekit") if any(key in row for row in support)]
        head = "".join(f"<th>{_e(e)}</th>" for e in engines)
        rows = [
            f'<tr><td>{_e(row["opcode"])}</td><td class="num">{_int(row.get("count"))}</td>'
            + "".join(
                f'<td class="{"yes" if row.get(e) else "no"}">{"yes" if row.get(e) else "no"}</td>' for e in engines
            )
            + "</tr>"
            for row in support
        ]
        body.append(
            "<details><summary>Which engines have a kernel for each op</summary>"
            f'<table class="support"><thead><tr><th>op</th><th class="num">count</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></details>"
        )
    body.append("</section>\n")
    return "\n".join(body)


def _compute_section(report: dict[str, Any], runs: list[_Run], draw: bool) -> str:
    analysis = report.get("analysis")
    layers = analysis["layers"] if analysis else []
    body = ['<section id="compute"><h2>Compute per layer</h2>']
    figures = []
    if draw and layers:
        figures.append(
            _figure(
                plots.macs_chart(layers),
                "plot-macs",
                f"Multiply-accumulates per layer, {_int(analysis['total_macs'])} in all, coloured by op. "
                "Pooling, reshape and softmax layers do element work, not MACs.",
            )
        )
        series = [(run.target, [run.layers.get(layer["index"], {}).get("ms") for layer in layers]) for run in runs]
        figures.append(
            _figure(
                plots.time_chart(len(layers), series),
                "plot-time",
                "Estimated milliseconds per layer on each emulated target (instructions measured in QEMU, "
                "cycles from the core's cycle model, at the board's clock).",
            )
        )
    figures = [f for f in figures if f]
    if figures:
        body += figures
    else:
        body.append('<p class="empty">No per-layer figures to plot.</p>')
    if layers and not runs:
        body.append(
            '<p class="note">No emulation figures in this report: per-layer time appears here once the '
            "firmware has run in emulation.</p>"
        )
    body.append("</section>\n")
    return "\n".join(body)


def _memory_section(report: dict[str, Any], draw: bool) -> str:
    plan = report.get("memory_plan")
    tflm = report.get("tflm_arena")
    body = ['<section id="memory"><h2>Memory over the inference</h2>']
    if not plan:
        body.append('<p class="empty">No memory plan in this report.</p></section>\n')
        return "\n".join(body)
    budgets = list({t["target"]: int(t["ram"]["available_bytes"]) for t in report.get("targets") or []}.items())
    timeline = plan.get("timeline") or []
    peak = max((int(s["live_bytes"]) for s in timeline), default=0)
    shown = plots.boards_on_scale(max(peak, int(plan["arena_bytes"])), budgets)
    off_scale = [(name, ram) for name, ram in budgets if (name, ram) not in shown]
    caption = (
        "Bytes of activations alive while each operator runs (bars), the extent of the planned arena "
        "(step line), and the peak."
    )
    if shown:
        caption += (
            " Dashed red: all the RAM of "
            + ", ".join(f"{_e(n)} ({kib(r)})" for n, r in shown)
            + "; the arena shares it with the runtime and the application reserve (see the verdict)."
        )
    if off_scale:
        caption += (
            " Not drawn, being more than "
            f"{plots.SAME_SCALE:g}\u00d7 the peak: " + ", ".join(f"{_e(n)} RAM {kib(r)}" for n, r in off_scale) + "."
        )
    if draw:
        body.append(_figure(plots.memory_timeline(timeline, int(plan["arena_bytes"]), budgets), "plot-memory", caption))
    facts = [
        f"edgekit's static plan: arena <strong>{kib(plan['arena_bytes'])}</strong> "
        f"({_int(plan['arena_bytes'])} B; lower bound {_int(plan['lower_bound_bytes'])} B; "
        f"{_e(plan['strategy'])}, {_int(plan['alignment'])}-byte alignment)."
    ]
    if tflm:
        facts.append(
            f"TFLM arena, measured with the {_e(tflm['measured_with'])}: "
            f"<strong>{kib(tflm['min_arena_bytes'])}</strong> "
            f"({kib(tflm['head_bytes'])} activations + {kib(tflm['tail_bytes'])} persistent); "
            f"model_arena.h reserves {kib(tflm['arena_size_bytes'])}. The budget uses that figure."
        )
    body.append('<ul class="facts-list">' + "".join(f"<li>{f}</li>" for f in facts) + "</ul>")
    body.append("</section>\n")
    return "\n".join(body)


def _artifacts_section(report: dict[str, Any], draw: bool) -> str:
    sizes = report.get("sizes") or []
    artifacts = report.get("artifacts") or []
    body = ['<section id="artifacts"><h2>Artifacts and sizes</h2>']
    if draw and sizes:
        body.append(
            _figure(
                plots.sizes_chart(sizes),
                "plot-sizes",
                "File size of the float32 model against its int8 version, per format.",
            )
        )
    if sizes:
        rows = [
            f'<tr><td>{_e(s["format"])}</td><td class="num">{kib(s["float32_bytes"])}</td>'
            f'<td class="num">{kib(s["int8_bytes"])}</td><td class="num">{pct(s["int8_to_float32"])}</td></tr>'
            for s in sizes
        ]
        c_bytes = sum(a["bytes"] for a in artifacts if a["kind"] == "tflm_source")
        if c_bytes:
            rows.append(
                f'<tr><td>generated C (TFLM bundle, source text)</td><td class="num">-</td>'
                f'<td class="num">{kib(c_bytes)}</td><td class="num">-</td></tr>'
            )
        body.append(
            '<table class="sizes"><thead><tr><th>format</th><th class="num">float32</th><th class="num">int8</th>'
            f'<th class="num">int8 / float32</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )
    if artifacts:
        rows = [
            f"<tr><td><code>{_e(a['file'])}</code></td><td>{_e(a['description'])}</td>"
            f'<td class="num">{_int(a["bytes"])}</td>'
            f'<td><code class="hash" title="{_e(a["sha256"])}">{_e(a["sha256"][:12])}</code></td></tr>'
            for a in artifacts
        ]
        body.append(
            '<table class="artifacts"><thead><tr><th>file</th><th>what</th><th class="num">bytes</th>'
            f"<th>sha256</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    if not sizes and not artifacts:
        body.append(
            '<p class="empty">No artifacts: this report budgets the model file as given '
            f"(<code>{_e((report.get('model') or {}).get('file', ''))}</code>).</p>"
        )
    body.append("</section>\n")
    return "\n".join(body)


def _accuracy_section(report: dict[str, Any]) -> str:
    validation = report.get("validation") or []
    body = ['<section id="accuracy"><h2>Accuracy against the float model</h2>']
    if not validation:
        body.append(
            '<p class="empty">No accuracy figures: there was no float model to compare the artifacts with.</p>'
            "</section>\n"
        )
        return "\n".join(body)
    evaluation = report.get("evaluation")
    reference = report.get("reference") or {}
    calibration = report.get("calibration")
    lead = []
    if evaluation:
        labels = "with labels" if evaluation["labels"] else "no labels"
        lead.append(
            f"On {_int(evaluation['samples'])} samples from <code>{_e(evaluation['source'])}</code> ({labels})."
        )
    if reference.get("runtime"):
        accuracy = reference.get("accuracy")
        lead.append(
            f"Float model run with {_e(reference['runtime'])}"
            + (f", accuracy <strong>{pct(accuracy)}</strong>." if accuracy is not None else ".")
        )
    if calibration:
        lead.append(
            f"Calibrated on {_int(calibration['samples'])} samples from <code>{_e(calibration['source'])}</code>"
            + (" (random inputs: int8 figures are not meaningful)." if calibration["random"] else ".")
        )
    body.append(f'<p class="lead">{" ".join(lead)}</p>')
    ref_acc = reference.get("accuracy")
    rows = []
    for v in validation:
        delta = "-"
        if v.get("accuracy") is not None and ref_acc is not None:
            points = 100 * (v["accuracy"] - ref_acc)
            delta = f"{points:+.1f} pt"
        rows.append(
            f"<tr><td><code>{_e(v['artifact'])}</code></td><td>{_e(v['runtime'])}</td>"
            f'<td class="num">{num(v["max_abs_error"])}</td><td class="num">{num(v["rmse"])}</td>'
            f'<td class="num">{num(v["cosine_similarity"], 6)}</td><td class="num">{pct(v["top1_agreement"])}</td>'
            f'<td class="num">{pct(v["accuracy"])}</td><td class="num">{delta}</td></tr>'
        )
    body.append(
        '<table class="validation"><thead><tr><th>artifact</th><th>runtime</th><th class="num">max abs error</th>'
        '<th class="num">RMSE</th><th class="num">cosine</th><th class="num">top-1 agreement</th>'
        '<th class="num">accuracy</th><th class="num">vs float</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    body.append("</section>\n")
    return "\n".join(body)


def _notes_section(report: dict[str, Any], plots_note: str | None) -> str:
    notes = list(report.get("notes") or [])
    if plots_note:
        notes.append(plots_note)
    body = ['<section id="notes"><h2>Notes</h2>']
    if notes:
        body.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    else:
        body.append('<p class="empty">None.</p>')
    body.append("</section>\n")
    return "\n".join(body)


def _footer(report: dict[str, Any]) -> str:
    return (
        "<footer><p>edgekit "
        f"{_e(report.get('edgekit_version', '?'))} \u00b7 report schema {_e(report.get('schema_version', '?'))} "
        "\u00b7 rendered from report.json. Each figure says what it rests on: <em>measured</em> (an "
        "interpreter, emulation or a file's size), <em>estimated</em> or <em>documented estimate</em>.</p></footer>\n"
    )


# ---------------------------------------------------------------- the page


def report_html(report: dict[str, Any]) -> str:
    """The whole page for one report dict (report.json's content)."""
    # Through JSON first: the dict from report_dict() and the same report read back from report.json
    # (tuples become lists, numpy floats plain floats) must give the same bytes.
    report = json.loads(json.dumps(report))
    runs = _emulation_runs(report)
    draw = plots.available()
    plots_note = None if draw else "Plots are missing: matplotlib is not installed (pip install matplotlib)."
    state, verdict = _overall(report)
    model_file = (report.get("model") or {}).get("file", "model")
    body = "".join(
        [
            _header(report),
            _nav(),
            _verdict_section(report, runs, draw),
            _layers_section(report, runs),
            _compute_section(report, runs, draw),
            _memory_section(report, draw),
            _artifacts_section(report, draw),
            _accuracy_section(report),
            _notes_section(report, plots_note),
            _footer(report),
        ]
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="edgekit">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>edgekit \u00b7 {_e(model_file)} \u00b7 {_e(verdict)}</title>\n"
        f"<style>\n{_CSS}</style>\n</head>\n"
        f'<body class="verdict-{state}">\n<main>\n{body}</main>\n'
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


_CSS = """\
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --bg: #f4f5f7; --card: #ffffff;
  --accent: #2563eb; --good: #15803d; --good-bg: #ecfdf3; --bad: #b91c1c; --bad-bg: #fef2f2;
  --warn: #b45309; --head: #f9fafb;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
main { max-width: 1240px; margin: 0 auto; padding: 28px 20px 40px; }
code, .hash {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px;
}
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; word-break: break-all; }
h2 { font-size: 18px; margin: 0 0 14px; }
h3 { font-size: 15px; margin: 0; }
.page .brand { margin: 0; color: var(--muted); font-size: 12px; letter-spacing: .08em; text-transform: uppercase; }
.page .meta { margin: 0 0 14px; color: var(--muted); }
.overall { display: inline-block; margin: 0 0 16px; padding: 6px 14px; border-radius: 999px; font-weight: 600; }
.overall.fits { background: var(--good-bg); color: var(--good); border: 1px solid #bbf7d0; }
.overall.over { background: var(--bad-bg); color: var(--bad); border: 1px solid #fecaca; }
.overall.none { background: #f3f4f6; color: var(--muted); border: 1px solid var(--line); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px 20px; margin: 0; }
.facts div { min-width: 0; }
.facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
nav { position: sticky; top: 0; z-index: 2; display: flex; flex-wrap: wrap; gap: 2px 16px; margin: 20px 0 0;
  padding: 8px 0; background: var(--bg); border-bottom: 1px solid var(--line); }
nav a { color: var(--muted); text-decoration: none; font-size: 13px; }
nav a:hover { color: var(--accent); }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px;
  margin: 18px 0; scroll-margin-top: 48px; }
.lead { margin: 0 0 12px; color: #374151; }
.empty, .note, .card-note { color: var(--muted); }
.note { margin: 10px 0 0; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 14px; margin-bottom: 18px; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--good); border-radius: 8px; padding: 14px 16px; }
.card.over { border-left-color: var(--bad); background: #fffafa; }
.card-head { display: flex; align-items: center; justify-content: space-between; gap: 10px; }
.badge { font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
  padding: 2px 9px; border-radius: 999px; background: var(--good-bg); color: var(--good); white-space: nowrap; }
.over .badge { background: var(--bad); color: #fff; }
.board { margin: 2px 0 10px; color: var(--muted); font-size: 13px; }
.reason { margin: 0 0 10px; color: var(--bad); font-weight: 600; }
.timing { margin: 8px 0 0; font-size: 13px; }
.latency { margin: 8px 0 0; font-size: 13px; }
.latency .basis { display: block; }
.card-note { font-size: 12px; margin: 8px 0 0; }
.gauge { margin: 10px 0; }
.gauge-head { display: flex; justify-content: space-between; gap: 8px; font-size: 13px; }
.gauge-label { font-weight: 600; }
.gauge-figure { font-variant-numeric: tabular-nums; }
.share { color: var(--muted); }
.track { height: 10px; margin: 4px 0 3px; background: #e9ecf1; border-radius: 5px; overflow: hidden; }
.fill { height: 100%; min-width: 2px; background: var(--accent); border-radius: 5px 0 0 5px; }
.gauge.high .fill { background: #d97706; }
.gauge.over .fill { background: var(--bad); }
.room { font-size: 12px; color: var(--muted); }
.gauge.over .room, .gauge.over .share { color: var(--bad); font-weight: 600; }
details { margin-top: 10px; }
summary { cursor: pointer; color: var(--accent); font-size: 13px; }
.basis { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { background: var(--head); font-weight: 600; white-space: nowrap; }
tfoot td { font-weight: 600; border-top: 2px solid var(--line); border-bottom: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.yes { color: var(--good); }
td.no { color: var(--bad); font-weight: 600; }
table.sizes, table.artifacts { margin-top: 14px; }
.table-wrap { overflow: auto; max-height: 75vh; border: 1px solid var(--line); border-radius: 8px; }
.table-wrap table { font-size: 12.5px; }
.table-wrap th, .table-wrap td { padding: 5px 8px; white-space: nowrap; }
.table-wrap th { white-space: normal; vertical-align: bottom; }
.table-wrap thead th { position: sticky; top: 0; z-index: 1; box-shadow: inset 0 -1px 0 var(--line); }
.table-wrap th .sub { display: block; font-weight: 400; color: var(--muted); font-size: 11px; }
.layers tbody tr:hover { background: #f8fafc; }
.js-only { display: none; }
.js .js-only { display: inline; }
th button { all: unset; cursor: pointer; }
th button::after { margin-left: 4px; }
th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; border-radius: 3px; }
th button::after { content: "\\2195"; color: #9ca3af; font-size: 11px; }
th[aria-sort="ascending"] button::after { content: "\\25B2"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: "\\25BC"; color: var(--accent); }
figure { margin: 0 0 18px; }
svg.plot { display: block; width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.facts-list { margin: 0; padding-left: 18px; }
.facts-list li { margin: 4px 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 24px; }
@media print {
  body { background: #fff; }
  nav { display: none; }
  section { break-inside: avoid-page; border: 0; padding: 0; }
  .table-wrap { max-height: none; overflow: visible; border: 0; }
}
"""

# Sorting only: the page reads fine without it. Numbers sort by their `data-v` value, text by
# locale; a first click puts numbers largest first (what one looks for) and text A to Z.
_SCRIPT = """
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var tables = document.querySelectorAll("table[data-sortable]");
  Array.prototype.forEach.call(tables, function (table) {
    var body = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(body.rows, function (row, i) { row.setAttribute("data-i", String(i)); });
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () {
        var numeric = th.getAttribute("data-type") === "num";
        var current = th.getAttribute("aria-sort");
        var ascending = current ? current === "descending" : !numeric;
        var rows = Array.prototype.slice.call(body.rows);
        var key = function (row) {
          var cell = row.cells[col];
          if (!numeric) { return cell.textContent; }
          var v = cell.getAttribute("data-v");
          return v === "" || v === null ? null : parseFloat(v);
        };
        rows.sort(function (a, b) {
          var ka = key(a), kb = key(b), order;
          if (ka === null || kb === null) {
            order = ka === kb ? 0 : (ka === null ? 1 : -1);
            return order || (+a.getAttribute("data-i") - +b.getAttribute("data-i"));
          }
          order = numeric ? ka - kb : String(ka).localeCompare(String(kb));
          if (!ascending) { order = -order; }
          return order || (+a.getAttribute("data-i") - +b.getAttribute("data-i"));
        });
        rows.forEach(function (row) { body.appendChild(row); });
        Array.prototype.forEach.call(heads, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      });
    });
  });
})();
"""

# The page may run its own script and styles and show inline images, and nothing else: no fetch,
# no font, no frame, no form target. The script is allowed by its hash, not by 'unsafe-inline'.
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
_CSP = (
    "default-src 'none'; "
    f"script-src 'sha256-{_SCRIPT_HASH}'; "
    "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
