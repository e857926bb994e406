"""Training one width of a builder's family: seeded, on the user's labelled data, saved as .keras.

The recipe is fixed and small on purpose (a sweep compares sizes, not training schedules) and it is
part of the cache key. It is the example's own recipe (scripts/train_example.py): Adam at 1e-2,
batches of 32, sparse categorical cross-entropy on the model's class probabilities. A builder that
returns a compiled model keeps its own optimizer and loss.

The saved archive is made byte-stable: Keras stamps the save time into `metadata.json` and into the
zip entry of the weights, which would change the model's sha256 (and so every report that names it)
on each run although the weights are the same.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError

_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_FIXED_SAVE_DATE = "1980-01-01@00:00:00"  # Keras's own "date_saved" format


@dataclass(frozen=True)
class Recipe:
    seed: int = 0
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    batch_size: int = 32
    loss: str = "sparse_categorical_crossentropy"
    shuffle: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RECIPE = Recipe()
DEFAULT_EPOCHS = 40
CALIB_FROM_TRAIN = 200  # samples drawn from the training data when no --calib is given


@dataclass(frozen=True)
class Trained:
    keras_bytes: bytes
    params: int
    train_samples: int
    compiled_by_builder: bool


def build(builder: Callable[[float], Any], spec: str, width: float) -> Any:
    """Call the user's builder; its failures are the user's to fix, shown as one line."""
    import keras

    try:
        model = builder(width)
    except Exception as exc:
        raise EdgekitError(spec, f"the builder failed for width {width:g}: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, keras.Model):
        raise EdgekitError(spec, f"the builder returned {type(model).__name__} for width {width:g}, not a Keras model")
    return model


def train_width(
    builder: Callable[[float], Any], spec: str, width: float, train_path: Path, epochs: int, recipe: Recipe = RECIPE
) -> Trained:
    from edgekit.quiet import native_stderr_captured, quiet_tensorflow_logs

    quiet_tensorflow_logs()
    with native_stderr_captured():
        import keras
        import tensorflow as tf

    from edgekit.load.data import load_dataset

    # Seeded per width, so a width trains the same whatever other widths ran before it.
    keras.utils.set_random_seed(recipe.seed)
    tf.config.experimental.enable_op_determinism()
    model = build(builder, spec, width)
    if len(model.inputs) != 1:
        raise EdgekitError(
            spec, f"the builder's model has {len(model.inputs)} inputs; the sweep trains single-input models"
        )
    sample_shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    data = load_dataset(train_path, sample_shape)
    if data.y is None:
        raise EdgekitError(train_path, "training needs labels: an array 'y' of class indices next to 'x'")
    compiled = bool(getattr(model, "compiled", False))
    if not compiled:
        if recipe.optimizer != "adam":
            raise ValueError(f"unknown optimizer {recipe.optimizer}")
        model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss=recipe.loss)
    try:
        model.fit(data.x, data.y, epochs=epochs, batch_size=recipe.batch_size, verbose=0, shuffle=recipe.shuffle)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise EdgekitError(spec, f"training width {width:g} failed: {text}") from None

    # A fresh, uncompiled copy: the optimizer's state would bloat the file and is not the model.
    inference = build(builder, spec, width)
    inference.set_weights(model.get_weights())
    return Trained(_keras_bytes(inference), int(inference.count_params()), len(data), compiled)


def _keras_bytes(model: Any) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="edgekit-sweep-") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return stable_keras_archive(path.read_bytes())


def stable_keras_archive(data: bytes) -> bytes:
    """The same archive with its save-time stamps replaced by fixed ones; the content is unchanged."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(content)
                if "date_saved" in meta:
                    meta["date_saved"] = _FIXED_SAVE_DATE
                content = json.dumps(meta).encode()
            elif info.filename == "config.json":
                content = json.dumps(_renumber_shared_ids(json.loads(content), {})).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            entry.compress_type = info.compress_type
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, content)
    return out.getvalue()


def _renumber_shared_ids(node: Any, seen: dict[int, int]) -> Any:
    """Keras names objects shared between layers by their memory address (`id()`), a different number
    every run. Only equality between them matters on load, so they become 1, 2, ... in order of
    appearance, which keeps the file identical from run to run."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "shared_object_id" and isinstance(value, int):
                out[key] = seen.setdefault(value, len(seen) + 1)
            else:
                out[key] = _renumber_shared_ids(value, seen)
        return out
    if isinstance(node, list):
        return [_renumber_shared_ids(item, seen) for item in node]
    return node


def calib_sample(train_path: Path, sample_shape: tuple[int, ...], count: int = CALIB_FROM_TRAIN) -> np.ndarray:
    """A seeded subset of the training inputs, for int8 calibration when the user gave none."""
    from edgekit.load.data import load_dataset

    x = load_dataset(train_path, sample_shape).x
    if len(x) <= count:
        return x
    rng = np.random.default_rng(RECIPE.seed)
    return x[np.sort(rng.choice(len(x), size=count, replace=False))]
