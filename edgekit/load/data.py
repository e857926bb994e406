"""Calibration and evaluation data: `.npz` (arrays `x`, optional `y`), `.npy`, or a folder of images.

Arrays are loaded with `allow_pickle=False`: a data file can never run code.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.errors import EdgekitError

RANDOM = "random"
RANDOM_SAMPLES = 100
RANDOM_SEED = 0
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm")


@dataclass(frozen=True)
class Dataset:
    """Samples shaped like the model input (batch first), float32; labels when given."""

    x: np.ndarray
    y: np.ndarray | None
    source: str  # the file name as given, or "random"

    @property
    def is_random(self) -> bool:
        return self.source == RANDOM

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("N" if d is None else str(d) for d in shape) + ")"


def random_dataset(sample_shape: tuple[int, ...], samples: int = RANDOM_SAMPLES) -> Dataset:
    """Uniform [0, 1) samples: a stand-in calibration set when the user has none (reported as such)."""
    rng = np.random.default_rng(RANDOM_SEED)
    x = rng.random((samples, *sample_shape), dtype=np.float32)
    return Dataset(x=x, y=None, source=RANDOM)


def _load_arrays(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False), None
        with np.load(path, allow_pickle=False) as archive:
            if "x" not in archive.files:
                names = ", ".join(archive.files) or "none"
                raise EdgekitError(path, f"no array named 'x' in the .npz (arrays: {names})")
            x = archive["x"]
            y = archive["y"] if "y" in archive.files else None
            return x, y
    except EdgekitError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise EdgekitError(
                path, "holds Python objects (pickled); edgekit reads plain numeric arrays only"
            ) from None
        raise EdgekitError(path, f"not a readable NumPy file: {exc}") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise EdgekitError(path, f"not a readable NumPy file: {exc}") from None


def _load_images(folder: Path, sample_shape: tuple[int, ...]) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(sample_shape) != 3 or sample_shape[-1] not in (1, 3):
        raise EdgekitError(
            folder, f"an image folder needs an HxWx1 or HxWx3 model input, the model takes {_shape_text(sample_shape)}"
        )
    height, width, channels = sample_shape
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EdgekitError(folder, f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    images = []
    for file in files:
        try:
            with Image.open(file) as img:
                img = img.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
                pixels = np.asarray(img, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError) as exc:
            raise EdgekitError(file, f"cannot read the image: {exc}") from None
        images.append(pixels.reshape(sample_shape))
    return np.stack(images)


def load_dataset(path: Path, sample_shape: tuple[int, ...]) -> Dataset:
    """Read a data file and check it against the model's input shape (without the batch axis)."""
    if not path.exists():
        raise EdgekitError(path, "no such file or folder")
    if path.is_dir():
        return Dataset(x=_load_images(path, sample_shape), y=None, source=path.name)
    if path.suffix.lower() not in (".npz", ".npy"):
        raise EdgekitError(
            path, "unknown data format; pass a .npz (arrays x and optional y), a .npy, or a folder of images"
        )
    x, y = _load_arrays(path)
    x = _check_samples(path, x, sample_shape)
    if y is not None:
        y = _check_labels(path, y, len(x))
    return Dataset(x=x, y=y, source=path.name)


def _check_samples(path: Path, x: np.ndarray, sample_shape: tuple[int, ...]) -> np.ndarray:
    if x.dtype.kind not in "fiu" or x.dtype.kind == "b":
        raise EdgekitError(path, f"samples must be numeric, got dtype {x.dtype}")
    if x.dtype.kind in "iu":
        raise EdgekitError(
            path,
            f"samples are integers ({x.dtype}); the float model needs float32 inputs scaled the way it was "
            "trained (for example pixels / 255)",
        )
    expected = (None, *sample_shape)
    if x.ndim == len(sample_shape) and tuple(x.shape) == sample_shape:
        raise EdgekitError(path, f"one sample of shape {tuple(x.shape)}; expected a batch {_shape_text(expected)}")
    if x.ndim != len(expected) or tuple(x.shape[1:]) != sample_shape:
        raise EdgekitError(path, f"samples have shape {tuple(x.shape)}; the model input needs {_shape_text(expected)}")
    if x.shape[0] == 0:
        raise EdgekitError(path, "holds zero samples")
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise EdgekitError(path, f"samples contain {bad} NaN or infinite values")
    return np.ascontiguousarray(x, dtype=np.float32)


def _check_labels(path: Path, y: np.ndarray, samples: int) -> np.ndarray:
    if y.dtype.kind not in "iuf" or y.shape[:1] != (samples,):
        raise EdgekitError(
            path, f"labels 'y' must be {samples} class indices or one-hot rows, got shape {y.shape} dtype {y.dtype}"
        )
    if y.ndim == 2:  # one-hot rows
        return np.argmax(y, axis=1).astype(np.int64)
    if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)):
        raise EdgekitError(path, f"labels 'y' must be class indices, got shape {y.shape} dtype {y.dtype}")
    return y.astype(np.int64)
