"""Which kind of model file this is, judged by its name and its first bytes."""

from __future__ import annotations

from pathlib import Path

from edgekit.errors import EdgekitError

KERAS = "keras"
H5 = "h5"
SAVEDMODEL = "savedmodel"
TFLITE = "tflite"
ONNX = "onnx"

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TFLITE_IDENTIFIER = b"TFL3"

SUPPORTED = ".keras, .h5, a SavedModel folder, .tflite or .onnx"


def _head(path: Path, size: int = 16) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(size)
    except PermissionError:
        raise EdgekitError(path, "cannot read the model file: permission denied") from None
    except OSError as exc:
        raise EdgekitError(path, f"cannot read the model file: {exc.strerror or exc}") from None


def detect_format(path: Path) -> str:
    """Return one of KERAS, H5, SAVEDMODEL, TFLITE, ONNX, or raise EdgekitError."""
    if not path.exists():
        raise EdgekitError(path, "no such file or folder")
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return SAVEDMODEL
        raise EdgekitError(path, "a folder, but not a SavedModel (no saved_model.pb inside)")
    suffix = path.suffix.lower()
    head = _head(path)
    if not head:
        raise EdgekitError(path, "the model file is empty")
    if suffix == ".keras":
        if not head.startswith(_ZIP_MAGIC):
            raise EdgekitError(path, "not a Keras 3 model archive (.keras files are zip archives)")
        return KERAS
    if suffix in (".h5", ".hdf5"):
        if not head.startswith(_HDF5_MAGIC):
            raise EdgekitError(path, "not an HDF5 file (bad signature)")
        return H5
    if suffix == ".tflite":
        if len(head) < 8 or head[4:8] != _TFLITE_IDENTIFIER:
            raise EdgekitError(path, "not a TFLite flatbuffer (missing the TFL3 identifier)")
        return TFLITE
    if suffix == ".onnx":
        return ONNX
    if suffix == ".pb":
        raise EdgekitError(path, "pass the SavedModel folder that holds saved_model.pb, not the file")
    raise EdgekitError(path, f"unknown model format '{suffix or path.name}'; edgekit reads {SUPPORTED}")
