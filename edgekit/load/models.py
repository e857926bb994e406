"""Loading float models safely, behind one small interface used by conversion and validation.

Safety rules (DESIGN.md): a model file never runs code. Keras 3 archives load with
`safe_mode=True`; legacy `.h5` files are inspected before loading and refused when they hold a
`Lambda` layer (its Python bytecode would run on load); SavedModels are scanned for ops that call
back into Python before TensorFlow loads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.load import detect
from edgekit.quiet import native_stderr_captured, quiet_tensorflow_logs

PREDICT_BATCH = 64
# Layer classes whose config carries Python bytecode or a Python callable to import.
_CODE_CARRYING_LAYERS = {"Lambda"}
# SavedModel ops that call back into the Python interpreter.
_PYTHON_CALLBACK_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int | None, ...]  # None for a free (batch) dimension
    dtype: str

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: without the batch axis."""
        dims = self.shape[1:]
        if any(d is None for d in dims):
            raise ValueError("dynamic non-batch dimension")
        return tuple(int(d) for d in dims)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": [d if d is not None else -1 for d in self.shape], "dtype": self.dtype}


@dataclass
class FloatModel:
    """A float model with one input; `call` maps a float32 batch to a list of float32 outputs."""

    path: Path
    format: str
    name: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    call: Callable[[np.ndarray], list[np.ndarray]]
    runtime: str
    tf_callable: Callable[[Any], Any] | None = None  # TF graph-mode callable (TF formats only)
    keepalive: Any = None  # owns the variables `tf_callable` reads (a loaded SavedModel)

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    def predict(self, x: np.ndarray) -> list[np.ndarray]:
        parts: list[list[np.ndarray]] = []
        for start in range(0, len(x), PREDICT_BATCH):
            parts.append(self.call(x[start : start + PREDICT_BATCH]))
        return [np.concatenate([p[i] for p in parts]) for i in range(len(self.outputs))]


def model_name(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def load_float_model(path: Path, fmt: str | None = None) -> FloatModel:
    """Load a Keras, SavedModel or ONNX model for conversion and as the float reference."""
    fmt = fmt or detect.detect_format(path)
    if fmt == detect.ONNX:
        from edgekit.load.onnx_model import load_onnx_model

        model = load_onnx_model(path)
    elif fmt == detect.KERAS:
        model = _load_keras3(path)
    elif fmt == detect.H5:
        model = _load_legacy_h5(path)
    elif fmt == detect.SAVEDMODEL:
        model = _load_savedmodel(path)
    else:
        raise EdgekitError(path, f"not a float model format ({fmt})")
    if len(model.inputs) != 1:
        raise EdgekitError(path, f"the model has {len(model.inputs)} inputs; edgekit converts single-input models")
    try:
        model.input.sample_shape  # noqa: B018 - validates the shape
    except ValueError:
        raise EdgekitError(
            path,
            f"input '{model.input.name}' has a dynamic dimension {model.input.shape}; "
            "edgekit needs a fixed input shape (batch may be free)",
        ) from None
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _keras_specs(model: Any) -> tuple[list[TensorSpec], list[TensorSpec]]:
    def spec(t: Any, fallback: str) -> TensorSpec:
        name = getattr(t, "name", None) or fallback
        shape = tuple(None if d is None else int(d) for d in t.shape)
        return TensorSpec(name=str(name).split(":")[0], shape=shape, dtype=str(getattr(t.dtype, "name", t.dtype)))

    inputs = [spec(t, f"input_{i}") for i, t in enumerate(model.inputs)]
    outputs = [spec(t, f"output_{i}") for i, t in enumerate(model.outputs)]
    return inputs, outputs


def _tf_call(fn: Callable[[Any], Any]) -> Callable[[np.ndarray], list[np.ndarray]]:
    import tensorflow as tf

    graph_fn = tf.function(fn, reduce_retracing=True)

    def call(x: np.ndarray) -> list[np.ndarray]:
        out = graph_fn(tf.constant(x, dtype=tf.float32))
        return [np.asarray(o, dtype=np.float32) for o in _as_list(out)]

    return call


def _as_list(out: Any) -> list[Any]:
    if isinstance(out, dict):
        return [out[k] for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return list(out)
    return [out]


def _keras_model(path: Path, fmt: str, model: Any, runtime: str) -> FloatModel:
    inputs, outputs = _keras_specs(model)

    def fn(x: Any) -> Any:
        return model(x, training=False)

    names = list(getattr(model, "output_names", None) or [])
    if len(names) == len(outputs):  # Keras 3 names outputs after their layers; tensors get serial names
        outputs = [TensorSpec(n, o.shape, o.dtype) for n, o in zip(names, outputs, strict=True)]
    return FloatModel(
        path=path,
        format=fmt,
        name=model_name(path),
        inputs=inputs,
        outputs=outputs,
        call=_tf_call(fn),
        runtime=runtime,
        tf_callable=fn,
    )


def _load_keras3(path: Path) -> FloatModel:
    quiet_tensorflow_logs()
    with native_stderr_captured():
        import keras
    try:
        with native_stderr_captured():
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:
        text = _first_line(exc)
        if "unsafe" in text.lower() or "lambda" in text.lower():
            raise EdgekitError(
                path,
                "holds a Lambda layer (Python code); edgekit loads models in safe mode and "
                "will not run code from a model file: replace the Lambda with built-in layers",
            ) from None
        raise EdgekitError(path, f"cannot load the Keras model: {text}") from None
    return _keras_model(path, detect.KERAS, model, f"keras {keras.__version__}")


def _h5_layer_classes(path: Path) -> tuple[list[str], dict[str, Any]]:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise EdgekitError(path, f"corrupt HDF5 file: {_first_line(exc)}") from None
    if raw is None:
        raise EdgekitError(path, "an HDF5 file without a model config (weights only?); save the whole model")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        raise EdgekitError(path, "corrupt model config in the HDF5 file") from None
    classes: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("class_name"), str):
                classes.append(node["class_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return classes, config


def _load_legacy_h5(path: Path) -> FloatModel:
    classes, _ = _h5_layer_classes(path)
    unsafe = sorted(set(classes) & _CODE_CARRYING_LAYERS)
    if unsafe:
        raise EdgekitError(
            path,
            f"holds a {unsafe[0]} layer (Python bytecode); edgekit will not run code from a model "
            "file: replace it with built-in layers",
        )
    quiet_tensorflow_logs()
    # Keras 3 refuses many Keras 2-era configs (e.g. DepthwiseConv2D 'groups'); tf_keras is the
    # Keras 2 implementation and reads its own format as written.
    with native_stderr_captured():
        import tf_keras
    try:
        with native_stderr_captured():
            model = tf_keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise EdgekitError(path, f"cannot load the Keras HDF5 model: {_first_line(exc)}") from None
    return _keras_model(path, detect.H5, model, f"tf_keras {tf_keras.__version__}")


def _savedmodel_ops(path: Path) -> set[str]:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / "saved_model.pb").read_bytes())
    except Exception as exc:
        raise EdgekitError(path / "saved_model.pb", f"corrupt SavedModel: {_first_line(exc)}") from None
    ops: set[str] = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops


def _load_savedmodel(path: Path) -> FloatModel:
    quiet_tensorflow_logs()
    with native_stderr_captured():
        import tensorflow as tf
    callbacks = sorted(_savedmodel_ops(path) & _PYTHON_CALLBACK_OPS)
    if callbacks:
        raise EdgekitError(path, f"the graph calls back into Python ({callbacks[0]}); edgekit will not load it")
    try:
        with native_stderr_captured():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:
        raise EdgekitError(path, f"cannot load the SavedModel: {_first_line(exc)}") from None
    signatures = getattr(loaded, "signatures", {})
    if "serving_default" not in signatures:
        raise EdgekitError(path, "the SavedModel has no 'serving_default' signature")
    signature = signatures["serving_default"]
    _, input_specs = signature.structured_input_signature
    if len(input_specs) != 1:
        raise EdgekitError(
            path, f"the serving signature has {len(input_specs)} inputs; edgekit converts single-input models"
        )
    ((input_name, input_spec),) = input_specs.items()
    output_specs = signature.structured_outputs
    inputs = [TensorSpec(input_name, tuple(input_spec.shape.as_list()), input_spec.dtype.name)]
    outputs = [
        TensorSpec(name, tuple(output_specs[name].shape.as_list()), output_specs[name].dtype.name)
        for name in sorted(output_specs)
    ]

    def fn(x: Any) -> Any:
        return signature(**{input_name: x})

    return FloatModel(
        path=path,
        format=detect.SAVEDMODEL,
        name=model_name(path),
        inputs=inputs,
        outputs=outputs,
        call=_tf_call(fn),
        runtime=f"tensorflow {tf.__version__}",
        tf_callable=fn,
        keepalive=loaded,
    )
