"""Emulation: run a firmware in QEMU, prove its outputs, count instructions, estimate cycles and time.

from edgekit.emulate import run_firmware
result = run_firmware(build, target, timeout_s=60)
result.outputs            # int8, one row per input vector
result.instructions       # measured (first inference)
result.estimated_ms       # estimated from the per-core cycle model at the board clock
"""

from edgekit.emulate.qemu import (
    EmulationError,
    EmulationResult,
    InferenceStats,
    LayerStats,
    first_difference,
    run_firmware,
)

__all__ = [
    "EmulationError",
    "EmulationResult",
    "InferenceStats",
    "LayerStats",
    "first_difference",
    "run_firmware",
]
