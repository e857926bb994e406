"""sweep.json (schema: edgekit/sweep/sweep.schema.json) and the terminal summary of a sweep.

Same inputs, same bytes: no timestamps, no absolute paths, candidates and boards in the order given.
The one field that differs between a first run and a cached rerun is each candidate's
`reused_from_cache` (and the `cache` counts): it is there so a CI job can see the cache worked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgekit import __version__
from edgekit.report.format import kib, pct, table
from edgekit.sweep.cache import CANDIDATES_DIR
from edgekit.sweep.measure import NOT_EMULATED, not_measured_dict
from edgekit.sweep.recommend import pareto_front

if TYPE_CHECKING:
    from edgekit.sweep.run import CandidateResult, SweepResult

SCHEMA_VERSION = "1.0"


@dataclass(frozen=True)
class Allowance:
    """How much flash and RAM a board leaves for the model, once runtime and reserves are taken out.

    The plots draw each board at these figures on the same axes as the candidates' own int8 size and
    arena, so "left of the line" reads as "fits". From the verdict's own lines (available minus
    everything that is not the model), the smallest over the candidates: on a Linux board the model
    file also sits in RAM, which moves the RAM allowance a little per candidate.
    """

    target: str
    flash_bytes: int | None
    ram_bytes: int | None


def allowances(result: SweepResult) -> list[Allowance]:
    out = []
    for i, board in enumerate(result.targets):
        flash: list[int] = []
        ram: list[int] = []
        for cand in result.candidates:
            verdict = cand.targets[i].verdict
            if verdict.unsupported_ops:
                continue  # no figures: the engine cannot run it at all
            flash.append(verdict.flash_available - (verdict.flash_used - cand.int8_flash_bytes))
            ram.append(verdict.ram_available - (verdict.ram_used - cand.tflm_ram_bytes))
        out.append(Allowance(board.name, min(flash) if flash else None, min(ram) if ram else None))
    return out


def pareto_flags(result: SweepResult) -> dict[str, dict[str, Any]]:
    """Per candidate: on the accuracy-vs-flash front, on the accuracy-vs-RAM front, per board latency."""
    points = [c.point(c.targets[0]) for c in result.candidates] if result.targets else []
    flash = set(pareto_front(points, "flash_bytes"))
    ram = set(pareto_front(points, "ram_bytes"))
    latency: dict[str, set[str]] = {}
    for i, board in enumerate(result.targets):
        latency[board.name] = set(pareto_front([c.point(c.targets[i]) for c in result.candidates], "latency_ms"))
    flags: dict[str, dict[str, Any]] = {}
    for cand in result.candidates:
        flags[cand.id] = {
            "flash": cand.id in flash,
            "ram": cand.id in ram,
            "latency": {
                on.target.name: (cand.id in latency[on.target.name]) if on.latency_ms is not None else None
                for on in cand.targets
            },
        }
    return flags


def _candidate_dict(cand: CandidateResult, flags: dict[str, Any]) -> dict[str, Any]:
    folder = f"{CANDIDATES_DIR}/{cand.id}"
    return {
        "id": cand.id,
        "source": cand.source,
        "cache_key": cand.key,
        "reused_from_cache": cand.reused,
        "folder": folder,
        "int8_tflite": f"{folder}/model_int8.tflite",
        "params": cand.params,
        "macs": cand.macs,
        "int8_flash_bytes": cand.int8_flash_bytes,
        "tflm_ram_bytes": cand.tflm_ram_bytes,
        "tflm_ram_basis": cand.tflm_ram_basis,
        "float_accuracy": cand.float_accuracy,
        "int8_accuracy": cand.int8_accuracy,
        "accuracy_drop": cand.accuracy_drop,
        "eval_samples": cand.eval_samples,
        "pareto": {"flash": flags["flash"], "ram": flags["ram"]},
        "targets": [
            {
                "target": on.target.name,
                "engine": on.verdict.engine,
                "fits": on.verdict.fits,
                "reason": on.verdict.reason(),
                "ram_used_bytes": on.verdict.ram_used,
                "ram_available_bytes": on.verdict.ram_available,
                "flash_used_bytes": on.verdict.flash_used,
                "flash_available_bytes": on.verdict.flash_available,
                "pareto_latency": flags["latency"][on.target.name],
                "measured": on.measured.to_dict() if on.measured is not None else not_measured_dict(),
            }
            for on in cand.targets
        ],
        "notes": list(cand.notes),
    }


def sweep_dict(result: SweepResult) -> dict[str, Any]:
    flags = pareto_flags(result)
    budgets = {a.target: a for a in allowances(result)}
    return {
        "schema_version": SCHEMA_VERSION,
        "edgekit_version": __version__,
        "settings": result.settings,
        "targets": [
            {
                "name": t.name,
                "title": t.title,
                "kind": t.kind,
                "core": t.core,
                "clock_mhz": t.clock_mhz,
                "ram_bytes": t.ram_bytes,
                "flash_bytes": t.flash_bytes,
                "model_flash_budget_bytes": budgets[t.name].flash_bytes,
                "model_ram_budget_bytes": budgets[t.name].ram_bytes,
            }
            for t in result.targets
        ],
        "candidates": [_candidate_dict(c, flags[c.id]) for c in result.candidates],
        "recommendations": [r.to_dict() for r in result.recommendations],
        "cache": {"reused": result.reused, "computed": len(result.candidates) - result.reused},
        "notes": list(result.notes),
    }


def sweep_json(result: SweepResult) -> bytes:
    return (json.dumps(sweep_dict(result), indent=2, ensure_ascii=False) + "\n").encode()


def _count(n: int) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.3g}{suffix}"
    return str(n)


def _drop(x: float | None) -> str:
    # Points lost to quantization: positive is worse; a negative drop means int8 happened to do better.
    return "-" if x is None else f"{100 * x:.1f} pt"


def _board_cell(cand: CandidateResult, i: int) -> str:
    on = cand.targets[i]
    if on.verdict.unsupported_ops:
        text = "no (ops)"
    elif on.verdict.fits:
        text = "yes"
    else:
        over = [name for name, ok in (("RAM", on.verdict.fits_ram), ("flash", on.verdict.fits_flash)) if not ok]
        text = f"no ({', '.join(over)})"
    if on.latency_ms is not None:
        text += f", {on.latency_ms:.3g} ms"
    if on.measured is not None and on.measured.engine_ram_bytes is not None:
        text += f", {on.measured.engine} RAM {kib(on.measured.engine_ram_bytes)}"
    return text


def sweep_summary(result: SweepResult) -> str:
    """The terminal table, the recommendations in words, and what the cache did."""
    headers = ["candidate", "params", "MACs", "int8 flash", "TFLM RAM", "float acc", "int8 acc", "drop"]
    headers += [t.name for t in result.targets]
    rows = []
    for cand in result.candidates:
        mark = " *" if cand.reused else ""
        rows.append(
            [
                cand.id + mark,
                f"{cand.params:,}",
                _count(cand.macs),
                kib(cand.int8_flash_bytes),
                kib(cand.tflm_ram_bytes),
                pct(cand.float_accuracy),
                pct(cand.int8_accuracy),
                _drop(cand.accuracy_drop),
                *(_board_cell(cand, i) for i in range(len(result.targets))),
            ]
        )
    lines = [
        f"edgekit sweep: {len(result.candidates)} candidate(s) on {len(result.targets)} board(s), "
        f"accuracy on {result.eval_samples} eval samples",
        "",
        table(headers, rows),
        "",
        "int8 flash = the int8 .tflite; TFLM RAM = its tensor arena (model_arena.h). "
        "Per board: fits with the runtime (TFLM; LiteRT on a Raspberry Pi) and the board's reserve.",
    ]
    if not any(on.latency_ms is not None for c in result.candidates for on in c.targets):
        lines.append(f"Latency and edgekit-engine RAM: {NOT_EMULATED}.")
    lines += ["", "recommendation per board:"]
    shown: dict[tuple[str, ...], str] = {}
    for rec in result.recommendations:
        lines.append(f"  {rec.summary}")
        details = tuple(step.text for step in rec.steps) + tuple(rec.remarks)
        if details and details in shown:
            # Without latency the steps are board-independent; saying them once per board is noise.
            lines.append(f"    (steps and remarks as for {shown[details]})")
            continue
        shown.setdefault(details, rec.target)
        lines += [f"    {text}" for text in details]
    lines.append("")
    if result.reused == len(result.candidates):
        lines.append(f"cache: reused all {result.reused} candidate(s) (* above); nothing was retrained or reconverted.")
    elif result.reused:
        lines.append(
            f"cache: reused {result.reused} of {len(result.candidates)} candidate(s) (* above); "
            f"computed {len(result.candidates) - result.reused}."
        )
    else:
        lines.append(f"cache: nothing reusable; computed all {len(result.candidates)} candidate(s).")
    for note in result.notes:
        lines.append(f"note: {note}")
    out = result.out_dir
    lines.append(f"reports: {out / 'sweep.html'}, {out / 'sweep.json'}; models in {out / CANDIDATES_DIR}/")
    return "\n".join(lines)
