"""Full-integer int8 TFLite (int8 input and output) with TensorFlow's converter."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.load.models import FloatModel
from edgekit.quiet import native_stderr_captured


def convert_to_int8_tflite(model: FloatModel, calibration: np.ndarray) -> bytes:
    """Quantize with the calibration samples; every tensor int8, weights per-channel."""
    import tensorflow as tf

    concrete = _batch_one_function(model)

    def representative() -> Iterator[list[np.ndarray]]:
        for sample in calibration:
            yield [sample[np.newaxis].astype(np.float32)]

    # Without a trackable object the converter freezes the variables into constants; with one it
    # keeps Keras 3 variables as resource variables that a microcontroller cannot run.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        with native_stderr_captured() as log:
            return bytes(converter.convert())
    except Exception as exc:
        detail = _converter_reason(str(exc) + "\n" + log.text)
        raise EdgekitError(model.path, f"TensorFlow Lite int8 conversion failed: {detail}") from None


def _batch_one_function(model: FloatModel) -> Any:
    import tensorflow as tf

    if model.tf_callable is None:
        raise EdgekitError(model.path, "TFLite from this format is not supported")
    # A batch of exactly 1, as on the device: a free batch makes the converter add shape ops
    # (SHAPE, STRIDED_SLICE, PACK) around Flatten that microcontroller runtimes don't need.
    spec = tf.TensorSpec((1, *model.input.sample_shape), tf.float32, name=_safe_name(model.input.name))
    return tf.function(model.tf_callable, input_signature=[spec]).get_concrete_function()


def _safe_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return cleaned or "input"


def _converter_reason(text: str) -> str:
    """The converter's most telling line (it reports the unsupported op after a long preamble)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error:" in line.lower() or "not supported" in line.lower():
            return line[:300]
    return (lines[-1] if lines else "unknown error")[:300]


def convert_to_float_tflite(model: FloatModel) -> bytes:
    """The float32 TFLite, for the size comparison only (not written)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([_batch_one_function(model)])
    try:
        with native_stderr_captured() as log:
            return bytes(converter.convert())
    except Exception as exc:
        raise EdgekitError(
            model.path, f"TensorFlow Lite conversion failed: {_converter_reason(str(exc) + log.text)}"
        ) from None
