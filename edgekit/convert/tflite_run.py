"""Running an int8 TFLite model on float samples: LiteRT's reference kernels and the TFLM interpreter.

Both take the same int8 input (quantized here with the model's input scale and zero point) and
their int8 outputs are dequantized, so that they can be compared with the float model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.quiet import native_stderr_captured

# Host arenas are cheap; TFLM's own default (10x the model size) is too small for models whose
# activations dwarf their weights, such as a single ADD of two images.
TFLM_HOST_ARENAS = (8 << 20, 64 << 20, 512 << 20)


@dataclass(frozen=True)
class QuantParams:
    scale: float
    zero_point: int
    dtype: np.dtype

    @property
    def is_quantized(self) -> bool:
        return self.dtype.kind in "iu" and self.scale > 0


def _params(details: dict[str, Any]) -> QuantParams:
    scales = details["quantization_parameters"]["scales"]
    zeros = details["quantization_parameters"]["zero_points"]
    scale = float(scales[0]) if len(scales) else 0.0
    zero = int(zeros[0]) if len(zeros) else 0
    return QuantParams(scale=scale, zero_point=zero, dtype=np.dtype(details["dtype"]))


def quantize(x: np.ndarray, params: QuantParams) -> np.ndarray:
    if not params.is_quantized:
        return x.astype(params.dtype)
    info = np.iinfo(params.dtype)
    scaled = x / params.scale
    # Round half away from zero, as TFLite's QUANTIZE op does.
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + params.zero_point, info.min, info.max).astype(params.dtype)


def dequantize(q: np.ndarray, params: QuantParams) -> np.ndarray:
    if not params.is_quantized:
        return q.astype(np.float32)
    return ((q.astype(np.int32) - params.zero_point) * params.scale).astype(np.float32)


def run_litert_reference(model: bytes, x: np.ndarray) -> list[np.ndarray]:
    """LiteRT with its reference kernels (BUILTIN_REF), one sample at a time, outputs dequantized."""
    outputs, out_params = _run_litert(model, x)
    return [dequantize(q, params) for q, params in zip(outputs, out_params, strict=True)]


def run_litert_int8(model: bytes, x: np.ndarray) -> list[np.ndarray]:
    """What `run_litert_reference` computes, before dequantizing: the model's own int8 outputs."""
    return _run_litert(model, x)[0]


def _run_litert(model: bytes, x: np.ndarray) -> tuple[list[np.ndarray], list[QuantParams]]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    with native_stderr_captured():
        interpreter = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        interpreter.allocate_tensors()
    input_detail = interpreter.get_input_details()[0]
    output_details = interpreter.get_output_details()
    in_params = QuantParams(
        scale=float(input_detail["quantization"][0]),
        zero_point=int(input_detail["quantization"][1]),
        dtype=np.dtype(input_detail["dtype"]),
    )
    out_params = [
        QuantParams(scale=float(d["quantization"][0]), zero_point=int(d["quantization"][1]), dtype=np.dtype(d["dtype"]))
        for d in output_details
    ]
    results: list[list[np.ndarray]] = [[] for _ in output_details]
    for sample in x:
        interpreter.set_tensor(input_detail["index"], quantize(sample[np.newaxis], in_params))
        interpreter.invoke()
        for k, detail in enumerate(output_details):
            results[k].append(interpreter.get_tensor(detail["index"]).copy())
    return [np.concatenate(r) for r in results], out_params


def tflm_interpreter(model: bytes) -> Any:
    from tflite_micro import runtime

    last_error: Exception | None = None
    for arena in TFLM_HOST_ARENAS:
        try:
            with native_stderr_captured():
                return runtime.Interpreter.from_bytes(model, arena_size=arena)
        except RuntimeError as exc:
            last_error = exc
    assert last_error is not None
    raise last_error


def run_tflm(model: bytes, x: np.ndarray, outputs: int) -> list[np.ndarray]:
    """The tflite-micro Python interpreter (TFLM's reference kernels), one sample at a time."""
    interpreter = tflm_interpreter(model)
    in_params = _params(interpreter.get_input_details(0))
    out_params = [_params(interpreter.get_output_details(k)) for k in range(outputs)]
    results: list[list[np.ndarray]] = [[] for _ in range(outputs)]
    for sample in x:
        # TFLM may reuse the input buffer for intermediates: set it before every invoke.
        interpreter.set_input(quantize(sample[np.newaxis], in_params), 0)
        interpreter.invoke()
        for k in range(outputs):
            results[k].append(dequantize(interpreter.get_output(k), out_params[k]))
    return [np.concatenate(r) for r in results]


def litert_version() -> str:
    from importlib.metadata import version

    return f"LiteRT (ai-edge-litert {version('ai-edge-litert')}, reference kernels)"


def tflm_version() -> str:
    from importlib.metadata import version

    return f"tflite-micro interpreter {version('tflite-micro')}"
