"""edgekit: prove a small model fits a microcontroller or a Raspberry Pi, and how fast it runs there.

Heavy libraries (TensorFlow, onnxruntime) are imported only inside the stages that need them, so
`import edgekit` stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "convert"]


def convert(*args: Any, **kwargs: Any) -> Any:
    """Python API of `edgekit convert`; see `edgekit.convert.pipeline.convert`."""
    from edgekit.convert.pipeline import convert as _convert

    return _convert(*args, **kwargs)
