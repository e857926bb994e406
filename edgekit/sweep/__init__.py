"""`edgekit sweep`: which model size is worth it on which board.

`edgekit.sweep.run.sweep(...)` is the Python API (it returns a `SweepResult`); `command.sweep_command`
is the click command; `measure.measure_candidate` is the seam for latency and engine RAM;
`recommend.recommend` is the pure decision logic. Nothing heavy is imported here.
"""

from __future__ import annotations

from typing import Any

__all__ = ["sweep"]


def sweep(*args: Any, **kwargs: Any) -> Any:
    """See `edgekit.sweep.run.sweep`."""
    from edgekit.sweep.run import sweep as _sweep

    return _sweep(*args, **kwargs)
