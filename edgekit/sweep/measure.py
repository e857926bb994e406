"""The one seam through which the sweep gets figures that need a board run: latency and engine RAM.

Everything else the sweep reports is computed on the host. Latency per board needs the model built
into firmware and run in emulation, and the edgekit engine's RAM and flash need its generated C
compiled and linked; both stages are not in this version yet. `measure_candidate` is where they plug
in: it returns None today, which every report shows as "not emulated yet", never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgekit.ir.graph import Graph
    from edgekit.targets import Target

NOT_EMULATED = "not emulated yet"


@dataclass(frozen=True)
class LatencyFigures:
    """What running one candidate on one board (in emulation) gave.

    Instructions are counted, so measured; cycles and milliseconds come from a per-core cycle model
    and the board clock, so estimated (DESIGN.md, "Measurements and their honesty"). A field the
    run could not produce stays None.
    """

    estimated_ms: float | None
    estimated_cycles: int | None = None
    instructions: int | None = None
    engine: str = "edgekit"  # which runtime was run
    engine_ram_bytes: int | None = None  # that engine's RAM for the model: planned arena plus stack
    engine_flash_bytes: int | None = None  # weights plus code, from the linked ELF
    method: str = ""  # how the figures were obtained, shown next to them

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "estimated" if self.estimated_ms is not None else "no latency",
            "engine": self.engine,
            "estimated_ms": None if self.estimated_ms is None else round(self.estimated_ms, 6),
            "estimated_cycles": self.estimated_cycles,
            "instructions": self.instructions,
            "engine_ram_bytes": self.engine_ram_bytes,
            "engine_flash_bytes": self.engine_flash_bytes,
            "method": self.method,
        }


def not_measured_dict() -> dict[str, Any]:
    """What a report holds for a candidate and board that `measure_candidate` had nothing for."""
    return {
        "status": NOT_EMULATED,
        "engine": None,
        "estimated_ms": None,
        "estimated_cycles": None,
        "instructions": None,
        "engine_ram_bytes": None,
        "engine_flash_bytes": None,
        "method": None,
    }


def measure_candidate(tflite_bytes: bytes, graph: Graph, target: Target) -> LatencyFigures | None:
    """Latency and edgekit-engine footprint of one int8 model on one board, or None when not available.

    Called once per candidate and board, after the host-side figures, with the candidate's int8
    .tflite, its Graph IR and the board. It may be slow (a firmware build and an emulator run): the
    sweep caches what it returns, keyed by the .tflite, the board's facts and the edgekit version,
    and calls it again for a None. It should raise EdgekitError for a problem the user can fix.
    """
    return None
