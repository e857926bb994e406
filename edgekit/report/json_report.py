"""report.json: the machine-readable result of `edgekit convert` (schema: edgekit/schema/report.schema.json).

No timestamps and no absolute paths: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from edgekit import __version__

if TYPE_CHECKING:
    from edgekit.convert.pipeline import ConvertResult

SCHEMA_VERSION = "1.2"


def report_dict(result: ConvertResult) -> dict[str, Any]:
    verdicts = [v.to_dict() for v in result.verdicts]
    overall = "not_evaluated" if not verdicts else ("fits" if result.fits else "does_not_fit")
    return {
        "schema_version": SCHEMA_VERSION,
        "edgekit_version": __version__,
        "model": {
            "file": result.model_file,
            "format": result.model_format,
            "sha256": result.model_sha256,
            "inputs": result.model_inputs,
            "outputs": result.model_outputs,
        },
        "calibration": result.calibration.to_dict() if result.calibration else None,
        "evaluation": result.evaluation.to_dict() if result.evaluation else None,
        "reference": {"runtime": result.reference_runtime, "accuracy": result.reference_accuracy}
        if result.reference_runtime
        else None,
        "artifacts": [a.to_dict() for a in result.artifacts],
        "sizes": [s.to_dict() for s in result.sizes],
        "validation": [v.to_dict() for v in result.validations],
        "analysis": result.check.analysis_dict() if result.check else None,
        "memory_plan": result.check.plan_dict() if result.check else None,
        "op_support": [row.to_dict() for row in result.check.op_support] if result.check else [],
        "tflm_arena": result.check.tflm_arena if result.check else None,
        "emulation": result.emulation,
        "verdict": overall,
        "targets": verdicts,
        "notes": list(result.notes),
    }


def report_json(result: ConvertResult) -> bytes:
    return (json.dumps(report_dict(result), indent=2, sort_keys=False) + "\n").encode()
