"""Terminal rendering of `edgekit analyze`: one row per layer, totals, memory plan, op support."""

from __future__ import annotations

from typing import Any

from edgekit.report.format import kib, table


def _shape(shapes: list[Any]) -> str:
    return " ".join("x".join(str(d) for d in s) for s in shapes) or "-"


def _count(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f} M"
    if n >= 10_000:
        return f"{n / 1e3:.1f} k"
    return str(n)


def analysis_text(model_file: str, analysis: Any, plan: Any, support: list[Any], notes: list[str]) -> str:
    engines = {row.opcode: row for row in support}
    rows = []
    for layer in analysis.layers:
        row = engines.get(layer.op_type)
        rows.append(
            [
                str(layer.index),
                layer.op_type,
                _shape(layer.input_shapes),
                _shape(layer.output_shapes),
                _count(layer.params),
                _count(layer.macs),
                kib(layer.weight_bytes),
                kib(layer.activation_bytes),
                layer.quantization,
                "yes" if row is not None and row.tflm else "NO",
            ]
        )
    headers = ["#", "op", "input", "output", "params", "MACs", "weights", "activations", "quant", "TFLM"]
    lines = [f"{model_file}: {len(analysis.layers)} layers, {analysis.quantization}", "", table(headers, rows), ""]
    lines.append(
        f"total: {analysis.total_params:,} params, {analysis.total_macs:,} MACs, "
        f"weights {kib(analysis.total_weight_bytes)}"
    )
    lines.append(
        f"memory plan: arena {kib(plan.arena_bytes)} ({plan.arena_bytes:,} B; lower bound "
        f"{plan.lower_bound_bytes:,} B, {plan.strategy})"
    )
    missing = [r.opcode for r in support if not r.tflm]
    if missing:
        lines.append(f"unsupported by engine tflm: {', '.join(missing)}")
    missing_edgekit = [r.opcode for r in support if not r.edgekit]
    if missing_edgekit and len(missing_edgekit) < len(support):
        lines.append(f"unsupported by engine edgekit: {', '.join(missing_edgekit)}")
    if analysis.quantization_note:
        lines.append(f"note: {analysis.quantization_note}")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)
