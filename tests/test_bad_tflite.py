"""Crafted .tflite files: every one refused with one clear line, exit 2, in bounded memory.

The files are made here from a real model with the flatbuffers object API (the same generated
schema the reader uses), each broken in one way a hostile or buggy producer could break it.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import flatbuffers
import pytest
from conftest import REPO, Run, assert_user_error, shared_model

from edgekit.ir.tflite_schema import schema_generated as schema

MEMORY_LIMIT = 2 << 30  # address space for the edgekit process and its tflite-micro child


def _craft(mutate: Callable[[schema.ModelT], None]) -> bytes:
    source = shared_model("mlcommons_tiny/kws_ref_model.tflite").read_bytes()
    model = schema.ModelT.InitFromPackedBuf(bytearray(source), 0)
    mutate(model)
    builder = flatbuffers.Builder(len(source) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _first_activation(model: schema.ModelT) -> schema.TensorT:
    graph = model.subgraphs[0]
    return graph.tensors[graph.operators[0].outputs[0]]


def _absurd_shape(model: schema.ModelT) -> None:
    _first_activation(model).shape = [1 << 20, 1 << 20, 1, 1]  # 2^40 elements


def _huge_but_valid_looking_shape(model: schema.ModelT) -> None:
    _first_activation(model).shape = [1, 1 << 15, 1 << 15, 1]  # 1 GiB of int8 activations


def _negative_dim(model: schema.ModelT) -> None:
    _first_activation(model).shape = [1, -25, 5, 64]


def _buffer_out_of_range(model: schema.ModelT) -> None:
    graph = model.subgraphs[0]
    graph.tensors[graph.operators[0].inputs[1]].buffer = 10_000


def _weights_shorter_than_shape(model: schema.ModelT) -> None:
    graph = model.subgraphs[0]
    weights = graph.tensors[graph.operators[0].inputs[1]]
    model.buffers[weights.buffer].data = model.buffers[weights.buffer].data[:10]


def _missing_tensor(model: schema.ModelT) -> None:
    model.subgraphs[0].operators[1].inputs[0] = 9_999


def _cycle(model: schema.ModelT) -> None:
    ops = model.subgraphs[0].operators
    ops[0], ops[1] = ops[1], ops[0]  # the second layer now runs before the one that feeds it


def _no_subgraph(model: schema.ModelT) -> None:
    model.subgraphs = []


def _bad_opcode_index(model: schema.ModelT) -> None:
    model.subgraphs[0].operators[0].opcodeIndex = 500


def _graph_output_missing(model: schema.ModelT) -> None:
    model.subgraphs[0].outputs = [12_345]


CASES = {
    "absurd_shape": (_absurd_shape, "elements"),
    "huge_shape": (_huge_but_valid_looking_shape, ""),
    "negative_dim": (_negative_dim, "negative"),
    "buffer_out_of_range": (_buffer_out_of_range, "buffer"),
    "weights_too_short": (_weights_shorter_than_shape, "bytes"),
    "missing_tensor": (_missing_tensor, "tensor"),
    "cycle": (_cycle, "cycle"),
    "no_subgraph": (_no_subgraph, "subgraph"),
    "bad_opcode_index": (_bad_opcode_index, "opcode"),
    "graph_output_missing": (_graph_output_missing, "output"),
}


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run_limited(*args: str | Path) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limited,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_tflite_is_refused_in_bounded_memory(tmp_path: Path, case: str) -> None:
    mutate, fragment = CASES[case]
    model = tmp_path / f"{case}.tflite"
    model.write_bytes(_craft(mutate))
    for command in (("check", model, "-t", "nano33ble"), ("analyze", model)):
        run = _run_limited(*command)
        if case == "huge_shape":
            # A huge but consistent model is read and planned without allocating it: analysed, and
            # judged too big for the board (exit 1), not run in the interpreter.
            assert run.code == (0 if command[0] == "analyze" else 1), run.stderr
            assert "Traceback" not in run.stderr
            continue
        assert_user_error(run, f"{case}.tflite", fragment)
    out = tmp_path / "out"
    if case != "huge_shape":
        assert_user_error(_run_limited("convert", model, "--out", out, "--quiet"), f"{case}.tflite")
        assert not out.exists()


def test_nan_quantization_scale_is_refused(tmp_path: Path) -> None:
    # Found by the reader fuzzer: a NaN scale sent the engine's multiplier rounding into a recursion.
    def nan_scale(model: schema.ModelT) -> None:
        _first_activation(model).quantization.scale = [float("nan")]

    model = tmp_path / "nan_scale.tflite"
    model.write_bytes(_craft(nan_scale))
    assert_user_error(_run_limited("check", model), "nan_scale.tflite", "NaN")
