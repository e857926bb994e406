"""Shared helpers of the engine's per-op tests (single-op models made with TF's converter and
compared with TFLM), and tests of the host-side parameter arithmetic they rely on."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from edgekit.codegen.engine import generate_engine
from edgekit.codegen.engine_host import compare_with_tflm, load_host_engine
from edgekit.codegen.engine_quant import quantize_multiplier, tflite_round
from edgekit.ir.tflite_reader import parse_tflite

CASES_PER_MODEL = 40


def convert(fn: Callable[..., object], input_shapes: Sequence[Sequence[int]], seed: int, *,
            float_io: bool = False, per_tensor_dense: bool = False, input_range: float | Sequence[float] = 3.0
            ) -> bytes:
    """A full-integer int8 TFLite model of `fn`, calibrated on uniform random data in
    [-input_range, input_range] (one range for all inputs, or one per input)."""
    tf = pytest.importorskip("tensorflow")
    specs = [tf.TensorSpec(list(s), tf.float32) for s in input_shapes]
    concrete = tf.function(fn).get_concrete_function(*specs)
    rng = np.random.default_rng(seed)
    ranges = [input_range] * len(input_shapes) if isinstance(input_range, int | float) else list(input_range)

    def representative():
        for _ in range(16):
            yield [rng.uniform(-r, r, size=s).astype(np.float32) for s, r in zip(input_shapes, ranges, strict=True)]

    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if per_tensor_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    return converter.convert()


def assert_engine_matches_tflm(model: bytes, tmp_path: Path, seed: int, *, expect_ops: Sequence[str] = (),
                               cases: int = CASES_PER_MODEL) -> None:
    """Generate the engine for `model`, compile it, and compare it with TFLM on random inputs."""
    pytest.importorskip("tflite_micro")
    graph = parse_tflite(model, path=tmp_path / "model.tflite")
    ops = {op.opcode for op in graph.operators}
    for op in expect_ops:
        assert op in ops, f"the converter produced {sorted(ops)}, not {op}"
    engine = load_host_engine(graph, generate_engine(graph, "model"), workdir=tmp_path / "engine")
    rng = np.random.default_rng(seed)
    batches = []
    for k in range(cases):
        inputs = []
        for shape, dtype in engine.input_specs:
            if dtype == np.int8:
                if k == 0:
                    inputs.append(np.full(shape, -128, dtype=np.int8))
                elif k == 1:
                    inputs.append(np.full(shape, 127, dtype=np.int8))
                else:
                    inputs.append(rng.integers(-128, 128, size=shape, dtype=np.int8))
            else:
                inputs.append(rng.uniform(-4, 4, size=shape).astype(dtype))
        batches.append(inputs)
    mismatches = compare_with_tflm(model, engine, batches)
    assert not mismatches, f"{len(mismatches)} of {len(batches)} inputs differ from TFLM ({sorted(ops)})"


def test_quantize_multiplier_matches_frexp_definition() -> None:
    for real in (1e-12, 0.000123, 0.25, 0.5, 0.999999999, 1.0, 1.5, 3.0, 1234.5):
        m, shift = quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31) or real < 2**-31
        assert math.isclose(m * 2.0 ** (shift - 31), real, rel_tol=2**-30) or real < 2**-31
    # The mantissa rounding up to 2^31 moves to the next exponent, as in TFLM.
    m, shift = quantize_multiplier(1.0 - 2**-40)
    assert (m, shift) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)


def test_tflite_round_is_half_away_from_zero() -> None:
    assert [tflite_round(v) for v in (0.5, 1.5, 2.5, -0.5, -2.5, 0.49999999999999994)] == [1, 2, 3, -1, -3, 0]
