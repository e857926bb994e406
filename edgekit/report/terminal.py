"""The short summary `edgekit convert` prints: artifacts, accuracy deltas, a verdict per target."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from edgekit.report.format import kib, table
from edgekit.report.markdown import VALIDATION_HEADERS, VERDICT_HEADERS, validation_rows, verdict_rows

if TYPE_CHECKING:
    from edgekit.convert.pipeline import ConvertResult


def convert_summary(result: ConvertResult, color: bool = False) -> str:
    def style(text: str, **kw: object) -> str:
        return click.style(text, **kw) if color else text  # type: ignore[arg-type]

    lines = [style(f"edgekit convert {result.model_file} ({result.model_format}) -> {result.out_dir}", bold=True), ""]
    models = [a for a in result.artifacts if a.kind in ("onnx_float", "onnx_int8_qdq", "tflite_int8")]
    if models:
        lines.append("artifacts: " + ", ".join(f"{a.file} {kib(a.bytes)}" for a in models))
    for kind, label in (
        ("tflm_source", "TFLM bundle"),
        ("pi_bundle", "Raspberry Pi bundle"),
        ("engine_source", "edgekit engine"),
        ("firmware", "firmware"),
    ):
        files = [a.file for a in result.artifacts if a.kind == kind]
        if files:
            folders = sorted({f.rsplit("/", 1)[0] for f in files})
            lines.append(f"{label}: {', '.join(folders)} ({len(files)} files)")
    for s in result.sizes:
        if s.float32_bytes and s.int8_bytes:
            lines.append(
                f"  {s.format}: float32 {kib(s.float32_bytes)} -> int8 {kib(s.int8_bytes)} "
                f"({s.int8_bytes / s.float32_bytes:.0%})"
            )
    if result.validations:
        lines += [
            "",
            "accuracy against the float model"
            + (f" ({result.evaluation.samples} samples from {result.evaluation.source})" if result.evaluation else "")
            + (f"; float accuracy {result.reference_accuracy:.1%}" if result.reference_accuracy is not None else ""),
            table(VALIDATION_HEADERS, validation_rows(result)),
        ]
    if result.emulation:
        rows = [
            [
                e["target"],
                e["core"],
                f"{e['measured']['instructions']:,}",
                f"{e['estimated']['cycles']:,}" if e["estimated"]["cycles"] is not None else "-",
                f"{e['estimated']['ms']:.3f}" if e["estimated"]["ms"] is not None else "-",
                "equal to host and TFLM"
                if e["outputs_equal_to_host"] and e["outputs_equal_to_tflm"] is not False
                else "DIFFERENT",
            ]
            for e in result.emulation
        ]
        lines += [
            "",
            "edgekit engine in QEMU (instructions measured; cycles and ms estimated)",
            table(["board", "core", "instructions", "cycles", "ms", "outputs"], rows),
        ]
    if result.verdicts:
        lines += ["", table(VERDICT_HEADERS, verdict_rows(result))]
        lines.append("")
        if result.fits:
            lines.append(style("fits every target", fg="green", bold=True))
        else:
            misses = ", ".join(v.target for v in result.verdicts if not v.fits)
            lines.append(style(f"DOES NOT FIT: {misses}", fg="red", bold=True))
    for note in result.notes:
        lines.append(f"note: {note}")
    reports = ", ".join(str(result.out_dir / name) for name in ("report.html", "report.md", "report.json"))
    lines.append(f"reports: {reports}")
    return "\n".join(lines)


def check_summary(result: ConvertResult, color: bool = False) -> str:
    """`edgekit check`: the verdict table, then what the figures rest on."""

    def style(text: str, **kw: object) -> str:
        return click.style(text, **kw) if color else text  # type: ignore[arg-type]

    lines = [style(f"edgekit check {result.model_file}", bold=True)]
    if result.check is not None:
        a = result.check.analysis
        arena = result.check.tflm_arena
        facts = f"{a.total_params:,} params, {a.total_macs:,} MACs, planned arena {result.check.plan.arena_bytes:,} B"
        if arena:
            facts += f", TFLM arena {arena['min_arena_bytes']:,} B (measured)"
        lines.append(facts)
    lines += ["", table(VERDICT_HEADERS, verdict_rows(result)), ""]
    if result.fits:
        lines.append(style("fits every target", fg="green", bold=True))
    else:
        misses = ", ".join(v.target for v in result.verdicts if not v.fits)
        lines.append(style(f"DOES NOT FIT: {misses}", fg="red", bold=True))
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def emulation_summary(runs: list) -> str:  # list[edgekit.on_board.BoardRun]
    """Per board: proof of equal outputs, instructions (measured), cycles and ms (estimated)."""
    rows = []
    for run in runs:
        r = run.result
        diff = run.first_difference()
        proof = "equal to host and TFLM" if diff is None else f"DIFFERENT: {diff}"
        rows.append(
            [
                run.target,
                r.core,
                r.qemu_machine,
                f"{r.instructions:,}",
                f"{r.estimated_cycles:,.0f}" if r.estimated_cycles is not None else "-",
                f"{r.estimated_ms:.2f}" if r.estimated_ms is not None else "-",
                kib(r.flash_bytes),
                kib(r.ram_bytes),
                proof,
            ]
        )
    headers = [
        "board",
        "core",
        "QEMU",
        "instructions (measured)",
        "cycles (est.)",
        "ms (est.)",
        "flash",
        "RAM",
        "outputs",
    ]
    lines = [table(headers, rows)]
    for run in runs:
        if run.result.emulation_note:
            lines.append(f"note: {run.target}: {run.result.emulation_note}")
    return "\n".join(lines)
