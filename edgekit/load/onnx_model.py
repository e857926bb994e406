"""ONNX models: checked with the onnx checker, run with onnxruntime on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError

_ONNX_DTYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


def ort_session(model: Path | bytes) -> Any:
    """A deterministic CPU session: one thread, so that float sums are added in one order."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, sess_options=options, providers=["CPUExecutionProvider"])


def _dims(shape: list[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


def ort_runner(session: Any) -> Any:
    """A callable float32 batch -> list of outputs; runs one sample at a time when batch is fixed."""
    input_meta = session.get_inputs()[0]
    fixed_batch = isinstance(input_meta.shape[0], int) and input_meta.shape[0] > 0
    output_names = [o.name for o in session.get_outputs()]

    def call(x: np.ndarray) -> list[np.ndarray]:
        if fixed_batch:
            rows = [session.run(output_names, {input_meta.name: x[i : i + 1]}) for i in range(len(x))]
            return [np.concatenate([r[k] for r in rows]) for k in range(len(output_names))]
        return list(session.run(output_names, {input_meta.name: x}))

    return call


def load_onnx_model(path: Path):  # -> FloatModel
    import onnx
    import onnxruntime as ort

    from edgekit.load.models import FloatModel, TensorSpec, model_name

    try:
        proto = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(proto)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise EdgekitError(path, f"not a valid ONNX model: {text}") from None
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in proto.graph.initializer):
        raise EdgekitError(path, "weights stored in external files are not supported; save the model as one file")
    try:
        session = ort_session(path)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise EdgekitError(path, f"onnxruntime cannot load the model: {text}") from None
    inputs = [TensorSpec(i.name, _dims(i.shape), _ONNX_DTYPES.get(i.type, i.type)) for i in session.get_inputs()]
    outputs = [TensorSpec(o.name, _dims(o.shape), _ONNX_DTYPES.get(o.type, o.type)) for o in session.get_outputs()]
    if inputs and inputs[0].dtype != "float32":
        raise EdgekitError(path, f"input '{inputs[0].name}' is {inputs[0].dtype}; edgekit converts float32 models")
    return FloatModel(
        path=path,
        format="onnx",
        name=model_name(path),
        inputs=inputs,
        outputs=outputs,
        call=ort_runner(session),
        runtime=f"onnxruntime {ort.__version__}",
    )
