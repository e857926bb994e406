"""Float ONNX export (tf2onnx) and int8 QDQ quantization (onnxruntime's static quantizer)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.convert.onnx_names import canonical_names
from edgekit.errors import EdgekitError
from edgekit.load.models import FloatModel
from edgekit.quiet import native_stderr_captured

ONNX_OPSET = 17
# Per-channel DequantizeLinear (its `axis` attribute) needs opset 13.
QDQ_MIN_OPSET = 13


def export_float_onnx(model: FloatModel) -> bytes:
    """The float model as ONNX, batch axis free; an ONNX input is returned as it is."""
    if model.format == "onnx":
        return model.path.read_bytes()
    import tensorflow as tf
    import tf2onnx

    if model.tf_callable is None:
        raise EdgekitError(model.path, "ONNX export from this format is not supported")
    spec = tf.TensorSpec((None, *model.input.sample_shape), tf.float32, name="input")
    function = tf.function(model.tf_callable, input_signature=[spec])
    try:
        with native_stderr_captured() as log:
            proto, _ = tf2onnx.convert.from_function(function, input_signature=[spec], opset=ONNX_OPSET)
    except Exception as exc:
        lines = [ln for ln in (str(exc) + "\n" + log.text).splitlines() if ln.strip()]
        raise EdgekitError(
            model.path, f"ONNX export (tf2onnx) failed: {(lines or ['unknown error'])[0][:300]}"
        ) from None
    return canonical_names(proto).SerializeToString()


def _default_opset(proto: Any) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _upgrade_opset(proto: Any, source: Path) -> Any:
    from onnx import version_converter

    try:
        return version_converter.convert_version(proto, QDQ_MIN_OPSET)
    except Exception as exc:
        raise EdgekitError(
            source,
            f"opset {_default_opset(proto)} is too old for per-channel int8 ONNX and could not "
            f"be upgraded to {QDQ_MIN_OPSET}: {str(exc).strip()[:200]}",
        ) from None


class _CalibrationReader:
    """Feeds the calibration samples to onnxruntime's quantizer, one batch of one at a time."""

    def __init__(self, input_name: str, samples: np.ndarray) -> None:
        self._input_name = input_name
        self._samples = samples
        self._next = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= len(self._samples):
            return None
        sample = self._samples[self._next : self._next + 1]
        self._next += 1
        return {self._input_name: sample.astype(np.float32)}

    def rewind(self) -> None:
        self._next = 0


def quantize_onnx_qdq(float_onnx: bytes, calibration: np.ndarray, source: Path) -> bytes:
    """int8 QDQ: per-channel int8 weights, int8 activations, MinMax calibration."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="edgekit-onnx-") as tmp:
        work = Path(tmp)
        proto = onnx.load_from_string(float_onnx)
        input_name = proto.graph.input[0].name
        if _default_opset(proto) < QDQ_MIN_OPSET:
            proto = _upgrade_opset(proto, source)
        onnx.save(proto, str(work / "float.onnx"))

        def quantize(extra_options: dict[str, bool]) -> None:
            quantize_static(
                str(work / "prepared.onnx"),
                str(work / "int8.onnx"),
                _CalibrationReader(input_name, calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                extra_options=extra_options,
            )

        try:
            with native_stderr_captured() as log:
                quant_pre_process(str(work / "float.onnx"), str(work / "prepared.onnx"), skip_symbolic_shape=False)
                try:
                    quantize({})
                except ValueError:
                    # onnxruntime 1.32's weight-scale adjustment for int32 biases fails on biases
                    # that sit in a separate Add (e.g. the model zoo's CNTK MNIST); without the
                    # adjustment the quantization is still valid.
                    quantize({"QDQDisableWeightAdjustForInt32Bias": True})
        except Exception as exc:
            lines = [ln for ln in (str(exc) + "\n" + log.text).splitlines() if ln.strip()]
            raise EdgekitError(
                source, f"ONNX int8 quantization failed: {(lines or ['unknown error'])[0][:300]}"
            ) from None
        return (work / "int8.onnx").read_bytes()


def onnx_runtime_name() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"
