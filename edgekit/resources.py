"""Where the package's data folders are: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The `targets` or `firmware` folder shipped with this installation."""
    installed = _PACKAGE_DIR / "data" / name
    if installed.is_dir():
        return installed
    # Editable install or a plain checkout: the folders sit beside the package.
    return _PACKAGE_DIR.parent / name
