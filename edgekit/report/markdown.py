"""report.md: short enough for a pull-request comment, verdict first, details after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgekit.report.format import kib, num, pct, table

if TYPE_CHECKING:
    from edgekit.convert.pipeline import ConvertResult


def verdict_rows(result: ConvertResult) -> list[list[str]]:
    rows = []
    for v in result.verdicts:
        rows.append(
            [
                v.target,
                v.engine,
                f"{kib(v.ram_used)} / {kib(v.ram_available)}",
                kib(v.ram_headroom),
                f"{kib(v.flash_used)} / {kib(v.flash_available)}",
                kib(v.flash_headroom),
                v.latency_text(),
                v.reason() if v.fits else f"DOES NOT FIT ({v.reason()})",
            ]
        )
    return rows


VERDICT_HEADERS = [
    "target",
    "engine",
    "RAM used / available",
    "RAM headroom",
    "flash used / available",
    "flash headroom",
    "latency",
    "verdict",
]


def validation_rows(result: ConvertResult) -> list[list[str]]:
    return [
        [
            v.artifact,
            v.runtime,
            num(v.metrics.max_abs_error),
            num(v.metrics.rmse),
            num(v.metrics.cosine_similarity, 6),
            pct(v.metrics.top1_agreement),
            pct(v.metrics.accuracy),
        ]
        for v in result.validations
    ]


VALIDATION_HEADERS = ["artifact", "runtime", "max abs err", "RMSE", "cosine", "top-1 agree", "accuracy"]


def report_markdown(result: ConvertResult) -> str:
    parts = [f"# edgekit: {result.model_file}", ""]
    if result.verdicts:
        overall = "fits every target" if result.fits else "does NOT fit every target"
        parts += [f"**Verdict: {overall}.**", "", table(VERDICT_HEADERS, verdict_rows(result), markdown=True), ""]
    else:
        parts += ["**No board verdict** (see notes).", ""]
    if result.validations:
        parts += ["## Accuracy against the float model", ""]
        if result.evaluation:
            e = result.evaluation
            labels = "with labels" if e.labels else "no labels"
            parts.append(
                f"On {e.samples} samples from `{e.source}` ({labels}); float model run with {result.reference_runtime}"
                + (
                    f", float accuracy {pct(result.reference_accuracy)}."
                    if result.reference_accuracy is not None
                    else "."
                )
            )
            parts.append("")
        parts += [table(VALIDATION_HEADERS, validation_rows(result), markdown=True), ""]
    if result.sizes:
        parts += [
            "## Sizes",
            "",
            table(
                ["format", "float32", "int8", "int8 / float32"],
                [
                    [
                        s.format,
                        kib(s.float32_bytes),
                        kib(s.int8_bytes),
                        pct(s.int8_bytes / s.float32_bytes) if s.float32_bytes and s.int8_bytes else "-",
                    ]
                    for s in result.sizes
                ],
                markdown=True,
            ),
            "",
        ]
    if result.artifacts:
        parts += [
            "## Artifacts",
            "",
            table(
                ["file", "bytes", "what"],
                [[f"`{a.file}`", f"{a.bytes:,}", a.description] for a in result.artifacts],
                markdown=True,
            ),
            "",
        ]
    for v in result.verdicts:
        parts += [
            f"## Budget: {v.target} ({v.title}), engine {v.engine}",
            "",
            table(
                ["item", "RAM", "flash", "basis"],
                [[line.item, kib(line.ram_bytes), kib(line.flash_bytes), line.basis_text()] for line in v.lines],
                markdown=True,
            ),
            "",
        ]
        if v.latency_ms is not None or v.max_latency_ms is not None:
            basis = f" ({v.latency_basis})" if v.latency_basis else ""
            parts.append(f"- Latency: {v.latency_text()}{basis}.")
        parts += [f"- {note}" for note in v.notes] + [""]
    if result.calibration:
        c = result.calibration
        parts += [
            f"Calibration: {c.samples} samples from `{c.source}`" + (" (RANDOM inputs)." if c.random else "."),
            "",
        ]
    if result.notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(parts).rstrip() + "\n"
