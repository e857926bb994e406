"""The example's digits CNN as a family of sizes, for `edgekit sweep --builder`.

`build(width)` scales every layer's channel count by `width`; width 1 is the committed model
`digits_cnn.keras` (scripts/train_example.py trains it from this very function). The sweep trains
each width on `digits_train.npz` and scores it on the held-out `digits_eval.npz`:

    edgekit sweep --builder examples/digits_family.py:build --widths 0.25,0.5,1,2 \\
        --train examples/digits_train.npz --eval examples/digits_eval.npz \\
        --target nano33ble --target rpi-pico --target blackpill-f401 --out build/sweep

This file is the whole architecture on purpose: the sweep's cache hashes the builder's source file,
so a change here (and only here) retrains the family.
"""

from __future__ import annotations

INPUT_SHAPE = (8, 8, 1)  # scikit-learn's 8x8 digits, one grey channel
CLASSES = 10


def build(width: float = 1.0):  # -> keras.Model; Keras is imported here so that importing the file is cheap
    import keras
    from keras import layers

    def channels(n: int) -> int:
        # Never zero channels: a width of 0.1 must still give a model.
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
