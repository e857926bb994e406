"""Trains the bundled example: a small CNN on scikit-learn's 8x8 handwritten digits.

The digits ship inside scikit-learn, so nothing is downloaded. The architecture is
`examples/digits_family.py` (width 1), the family `edgekit sweep --builder` trains. Writes, into `examples/`:
  digits_cnn.keras   the float Keras model
  digits_calib.npz   `x`: 200 training images for int8 calibration
  digits_eval.npz    `x`, `y`: the held-out test split with labels
  digits_train.npz   `x`, `y`: the training split, for `edgekit sweep --train`

Run: .venv/bin/python scripts/train_example.py [--out examples] [--epochs 40] [--data-only]
Training is seeded, but TensorFlow kernels are not bit-reproducible across machines: the
committed model is the reference, this script is how it was made.
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

SEED = 0
FAMILY = Path(__file__).resolve().parents[1] / "examples" / "digits_family.py"


def load_digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # Pixel values are 0..16; the model sees them scaled to [0, 1].
    x = (digits.images.astype(np.float32) / 16.0)[..., np.newaxis]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=SEED, stratify=y)
    return x_train, x_test, y_train, y_test


def build_model(width: float = 1.0):  # -> keras.Model (Keras is imported lazily)
    # Loaded by path: examples/ is a folder of files for users, not a package.
    spec = importlib.util.spec_from_file_location("digits_family", FAMILY)
    assert spec is not None and spec.loader is not None
    family = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(family)
    return family.build(width)


def train(out_dir: Path, epochs: int) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    x_train, x_test, y_train, y_test = load_digits_split()

    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test accuracy {accuracy:.4f} on {len(x_test)} images, params {model.count_params()}")

    out_dir.mkdir(parents=True, exist_ok=True)
    # A fresh, uncompiled copy: the optimizer's state would triple the file for nothing.
    inference_model = build_model()
    inference_model.set_weights(model.get_weights())
    inference_model.save(out_dir / "digits_cnn.keras")
    write_data(out_dir)


def write_data(out_dir: Path) -> None:
    """The data files: they depend only on scikit-learn's digits and the seed, not on training."""
    x_train, x_test, y_train, y_test = load_digits_split()
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    calib_idx = np.sort(rng.choice(len(x_train), size=200, replace=False))
    np.savez_compressed(out_dir / "digits_calib.npz", x=x_train[calib_idx])
    np.savez_compressed(out_dir / "digits_eval.npz", x=x_test, y=y_test)
    np.savez_compressed(out_dir / "digits_train.npz", x=x_train, y=y_train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--data-only", action="store_true", help="write the .npz files only; leave the committed model as it is"
    )
    args = parser.parse_args()
    if args.data_only:
        write_data(args.out)
    else:
        train(args.out, args.epochs)


if __name__ == "__main__":
    main()
