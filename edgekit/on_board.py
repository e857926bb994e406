"""The model on an emulated board: generate the edgekit engine, build firmware, run it in QEMU, and
prove its outputs equal the host build's and the tflite-micro interpreter's on the same inputs.

The one place that chains codegen, firmware and emulation, for `convert`, `emulate`, the sweep and
the engine benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.ir.graph import Graph
from edgekit.targets import Target

DEFAULT_INPUTS = 2  # enough to show the outputs follow the input; each one costs a full inference
INPUT_SEED = 0


@dataclass
class BoardRun:
    target: str
    result: Any  # edgekit.emulate.EmulationResult
    inputs: np.ndarray
    host_outputs: np.ndarray
    tflm_outputs: np.ndarray | None
    build: Any  # edgekit.firmware.FirmwareBuild

    @property
    def equal_to_host(self) -> bool:
        return self.result.outputs.tobytes() == self.host_outputs.tobytes()

    @property
    def equal_to_tflm(self) -> bool | None:
        if self.tflm_outputs is None:
            return None
        return self.result.outputs.tobytes() == self.tflm_outputs.tobytes()

    def first_difference(self) -> str | None:
        """Where emulation first disagrees, in words; None when it agrees with every reference."""
        from edgekit.emulate import first_difference

        for label, expected in (
            ("the host build", self.host_outputs),
            ("the tflite-micro interpreter", self.tflm_outputs),
        ):
            if expected is None:
                continue
            diff = first_difference(expected, self.result.outputs)
            if diff is not None:
                row, byte, want, got = diff
                return f"input {row}, output byte {byte}: emulation gave {got}, {label} gave {want}"
        return None

    def as_dict(self) -> dict[str, Any]:
        data = self.result.as_dict()
        data["inputs"] = len(self.inputs)
        data["outputs_equal_to_host"] = self.equal_to_host
        data["outputs_equal_to_tflm"] = self.equal_to_tflm
        return data


def random_inputs(graph: Graph, count: int = DEFAULT_INPUTS) -> np.ndarray:
    size = graph.tensors[graph.inputs[0]].nbytes
    rng = np.random.default_rng(INPUT_SEED)
    return rng.integers(-128, 128, size=(count, size), dtype=np.int8)


def tflm_reference(model_bytes: bytes, graph: Graph, inputs: np.ndarray) -> np.ndarray | None:
    """The tflite-micro interpreter's int8 outputs for the same inputs (None if not installed)."""
    import importlib.util

    if importlib.util.find_spec("tflite_micro") is None:
        return None
    from edgekit.convert.tflite_run import tflm_interpreter

    interpreter = tflm_interpreter(model_bytes)
    shape = graph.tensors[graph.inputs[0]].shape
    rows = []
    for vector in inputs:
        interpreter.set_input(vector.reshape(shape), 0)
        interpreter.invoke()
        rows.append(np.asarray(interpreter.get_output(0)).reshape(-1).view(np.int8))
    return np.stack(rows)


def run_on_board(
    model_bytes: bytes,
    graph: Graph,
    target: Target,
    work_dir: Path,
    inputs: np.ndarray | None = None,
    opt: str = "-O2",
    timeout_s: float = 300.0,
    family: str | None = None,
) -> BoardRun:
    """Generate, build for `target`, emulate and compare. Writes the engine, firmware and host
    build under `work_dir`. `family`: the kernel folder (default: the target core's, see
    edgekit.codegen.engine.kernel_family); the host build always uses the reference kernels.
    Raises EdgekitError (bad input, no toolchain) or EmulationError."""
    from edgekit.codegen.engine import generate_engine, target_kernel_family
    from edgekit.codegen.engine_host import write_folder
    from edgekit.emulate import run_firmware
    from edgekit.firmware import build_firmware, run_host

    if inputs is None:
        inputs = random_inputs(graph)
    family = family or target_kernel_family(target)
    engine_dir = write_folder(generate_engine(graph, "model", family), work_dir / "engine")
    build = build_firmware(engine_dir, target, inputs, work_dir / "firmware", opt=opt)
    result = run_firmware(build, target, timeout_s=timeout_s)
    # The host runs the reference kernels: the spec the target's kernel family must equal.
    host_dir = engine_dir
    if family != "reference":
        host_dir = write_folder(generate_engine(graph, "model"), work_dir / "engine_reference")
    host = run_host(host_dir, inputs, work_dir / "host")
    return BoardRun(target.name, result, inputs, host, tflm_reference(model_bytes, graph, inputs), build)
