"""Trains the bundled example: a small CNN on scikit-learn's 8x8 handwritten digits.

The digits ship inside scikit-learn, so nothing is downloaded. Writes, into `examples/`:
  digits_cnn.keras   the float Keras model
  digits_calib.npz   `x`: 200 training images for int8 calibration
  digits_eval.npz    `x`, `y`: the held-out test split with labels

Run: .venv/bin/python scripts/train_example.py [--out examples] [--epochs 40]
Training is seeded, but TensorFlow kernels are not bit-reproducible across machines: the
committed model is the reference, this script is how it was made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

INPUT_SHAPE = (8, 8, 1)
CLASSES = 10
SEED = 0


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
    import keras
    from keras import layers

    def channels(n: int) -> int:
        return max(1, round(n * width))

    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Conv2D(channels(8), 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dwconv2")(x)
    x = layers.Conv2D(channels(16), 1, activation="relu", name="pwconv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(channels(24), 3, padding="same", activation="relu", name="conv3")(x)
    x = layers.AveragePooling2D(2, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(CLASSES, name="logits")(x)
    outputs = layers.Softmax(name="probabilities")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


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
    rng = np.random.default_rng(SEED)
    calib_idx = np.sort(rng.choice(len(x_train), size=200, replace=False))
    np.savez_compressed(out_dir / "digits_calib.npz", x=x_train[calib_idx])
    np.savez_compressed(out_dir / "digits_eval.npz", x=x_test, y=y_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "examples")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    train(args.out, args.epochs)


if __name__ == "__main__":
    main()
