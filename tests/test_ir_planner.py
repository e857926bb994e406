"""Memory planner: lifetimes and placement on hand-made graphs, soundness on every reference model,
and the bar: never more activation memory than TFLM's own plan (the arena "head" it reports)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edgekit.ir import Graph, Operator, Tensor, read_tflite
from edgekit.ir.analysis import analyze
from edgekit.ir.planner import ALIGNMENT, BufferPlan, MemoryPlan, check_plan, plan_memory, tensor_lifetimes

MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"
ALL_TFLITE = sorted(str(p.relative_to(MODELS)) for p in MODELS.glob("*/*.tflite")) if MODELS.is_dir() else []


def model_path(relative: str) -> Path:
    if not MODELS.is_dir():
        pytest.skip(f"reference models not present ({MODELS} is absent)")
    path = MODELS / relative
    if not path.exists():
        pytest.skip(f"reference model {relative} is not in {MODELS}")
    return path


def need_models() -> None:
    if not ALL_TFLITE:
        pytest.skip(f"reference models not present ({MODELS} is absent)")


def chain(sizes: list[int], *, extra_ops: list[tuple[list[int], list[int]]] | None = None) -> Graph:
    """int8 tensors t0..tn of the given byte sizes, op i reading t_i and writing t_{i+1}."""
    tensors = [Tensor(index=i, name=f"t{i}", shape=(n,), dtype="int8") for i, n in enumerate(sizes)]
    ops = [Operator(index=i, opcode="RELU", builtin_code=19, version=1, options={}, inputs=(i,),
                    outputs=(i + 1,)) for i in range(len(sizes) - 1)]
    for inputs, outputs in extra_ops or []:
        ops.append(Operator(index=len(ops), opcode="ADD", builtin_code=0, version=1, options={},
                            inputs=tuple(inputs), outputs=tuple(outputs)))
    return Graph(tensors=tensors, operators=ops, inputs=(0,), outputs=(ops[-1].outputs[0],))


# ---------------------------------------------------------------------------------------------------
# Hand-made graphs


def test_chain_reuses_memory_two_buffers_at_a_time() -> None:
    graph = chain([1000, 3000, 2000, 500])
    plan = plan_memory(graph)
    assert check_plan(plan) == []
    # Live pairs: (1008, 3008), (3008, 2000), (2000, 512): the worst is 3008 + 2000.
    assert plan.activation_bytes == plan.lower_bound_bytes == 3008 + 2000
    assert plan.arena_bytes == plan.activation_bytes and plan.variable_bytes == 0
    assert [t.live_bytes for t in plan.timeline] == [1008 + 3008, 3008 + 2000, 2000 + 512]
    assert [t.live_tensors for t in plan.timeline] == [[0, 1], [1, 2], [2, 3]]
    assert all(t.high_water_bytes <= plan.arena_bytes for t in plan.timeline)


def test_sizes_are_aligned_and_offsets_too() -> None:
    plan = plan_memory(chain([1, 17, 33]))
    assert [b.size for b in plan.buffers] == [16, 32, 48]
    assert all(b.offset % ALIGNMENT == 0 for b in plan.buffers)
    assert check_plan(plan) == []


def test_graph_input_lives_from_the_start_and_output_to_the_end() -> None:
    # t0 (graph input) is read again by the last op; t1 is a graph output written by op 0.
    graph = chain([100, 100, 100, 100], extra_ops=[([0, 3], [4])])
    graph.tensors.append(Tensor(index=4, name="t4", shape=(100,), dtype="int8"))
    graph.outputs = (4, 1)
    lifetimes = {b.tensor: (b.first_op, b.last_op) for b in tensor_lifetimes(graph)}
    assert lifetimes[0] == (0, 3)
    assert lifetimes[1] == (0, 3)  # written by op 0, read by the caller after op 3
    assert lifetimes[2] == (1, 2)
    assert lifetimes[4] == (3, 3)
    assert check_plan(plan_memory(graph)) == []


def test_constants_are_not_in_the_arena_and_variables_persist() -> None:
    graph = chain([64, 64, 64])
    weights = Tensor(index=3, name="w", shape=(64,), dtype="int8", data=np.zeros(64, np.int8))
    state = Tensor(index=4, name="state", shape=(10,), dtype="int16", is_variable=True)
    graph.tensors += [weights, state]
    graph.operators[1].inputs = (1, 3, 4)
    plan = plan_memory(graph)
    assert check_plan(plan) == []
    by_tensor = {b.tensor: b for b in plan.buffers}
    assert 3 not in by_tensor
    var = by_tensor[4]
    assert var.persistent and var.size == 32 and (var.first_op, var.last_op) == (0, 1)
    assert plan.activation_bytes == 128 and plan.variable_bytes == 32
    assert var.offset == 128 and plan.arena_bytes == 160
    assert all(4 in t.live_tensors for t in plan.timeline)


def test_checker_finds_overlaps_and_misalignment() -> None:
    a = BufferPlan(tensor=0, name="a", nbytes=64, size=64, first_op=0, last_op=2, offset=0)
    b = BufferPlan(tensor=1, name="b", nbytes=64, size=64, first_op=2, last_op=3, offset=32)
    c = BufferPlan(tensor=2, name="c", nbytes=64, size=64, first_op=3, last_op=3, offset=0)
    plan = MemoryPlan(path=None, alignment=16, buffers=[a, b, c], activation_bytes=96, variable_bytes=0,
                      arena_bytes=96, lower_bound_bytes=128, strategy="hand")
    pairs = {frozenset(map(int, re.findall(r"tensors (\d+) .* and (\d+) ", p)[0])) for p in check_plan(plan)}
    # a and b share bytes 32..64 at op 2, b and c at op 3; a and c share bytes but never live together.
    assert pairs == {frozenset({0, 1}), frozenset({1, 2})}
    b.offset = 72
    assert any("not 16-byte aligned" in p for p in check_plan(plan))


def test_random_graphs_are_planned_soundly() -> None:
    """Random DAGs with skip connections: the plan is sound, no better than the bound, and never
    worse than the TFLM order (size descending, first fit) on its own."""
    rng = random.Random(42)
    for _ in range(60):
        n_ops = rng.randint(1, 25)
        sizes = [rng.choice([1, 16, 100, 1000, 4096, 12345]) for _ in range(n_ops + 1)]
        graph = chain(sizes)
        for op in graph.operators[1:]:
            if rng.random() < 0.4:
                op.inputs = (*op.inputs, rng.randrange(0, op.index))  # read an older tensor too
        plan = plan_memory(graph)
        assert check_plan(plan) == []
        assert plan.lower_bound_bytes <= plan.activation_bytes <= plan.strategies["size/first-fit"]
        assert max(t.live_bytes for t in plan.timeline) == plan.lower_bound_bytes


# ---------------------------------------------------------------------------------------------------
# Reference models


def test_every_reference_model_gets_a_sound_plan() -> None:
    need_models()
    for relative in ALL_TFLITE:
        graph = read_tflite(MODELS / relative)
        plan = plan_memory(graph)
        assert check_plan(plan) == [], relative
        assert plan.lower_bound_bytes <= plan.activation_bytes, relative
        assert len(plan.timeline) == len(graph.operators)
        json.dumps(plan.to_dict())


def test_kws_plan_is_two_feature_maps() -> None:
    plan = plan_memory(read_tflite(model_path("mlcommons_tiny/kws_ref_model.tflite")))
    assert plan.activation_bytes == 2 * 25 * 5 * 64  # two int8 25x5x64 maps alive at once


def _tflm_runnable() -> list[str]:
    """Models the bar applies to: all that TFLM can run. The hybrid KWS model is refused by TFLM
    ("Hybrid models are not supported"), which the analysis flags on its own."""
    return [r for r in ALL_TFLITE if r != "mlcommons_tiny/kws_ref_model_float32.tflite"]


def test_plan_never_needs_more_than_tflm() -> None:
    """The bar: on every model TFLM runs, the planned activation arena is no larger than the
    non-persistent ("head") part of the arena the tflite-micro interpreter reports."""
    pytest.importorskip("tflite_micro")
    from edgekit.ir.tflm_arena import measure_tflm_arena

    need_models()
    rows = []
    for relative in _tflm_runnable():
        path = MODELS / relative
        graph = read_tflite(path)
        plan = plan_memory(graph)
        tflm = measure_tflm_arena(path.read_bytes(), find_minimal=False)
        assert tflm.total_bytes == tflm.head_bytes + tflm.tail_bytes
        rows.append((relative, plan.activation_bytes, tflm.head_bytes))
    over = [row for row in rows if row[1] > row[2]]
    assert not over, over
    assert any("int8" in r or "quant" in r for r, _, _ in rows)


def test_tflm_refuses_the_hybrid_model() -> None:
    pytest.importorskip("tflite_micro")
    from edgekit.ir.tflm_arena import measure_tflm_arena

    path = model_path("mlcommons_tiny/kws_ref_model_float32.tflite")
    assert analyze(read_tflite(path)).is_hybrid
    with pytest.raises(RuntimeError, match="Hybrid models are not supported"):
        measure_tflm_arena(path.read_bytes(), find_minimal=False)


def test_tflm_arena_report_and_minimal_arena() -> None:
    """The interpreter's own report, and the smallest arena that works, which for hello_world is
    larger than the total TFLM reports (and for KWS equal to it)."""
    pytest.importorskip("tflite_micro")
    from edgekit.ir.tflm_arena import _run, measure_tflm_arena

    for relative, minimal_above_total in (
        ("tflite_micro/hello_world_int8.tflite", True),
        ("mlcommons_tiny/kws_ref_model.tflite", False),
    ):
        path = model_path(relative)
        arena = measure_tflm_arena(path.read_bytes())
        assert "Arena allocation total" in arena.raw_text and "head" in arena.raw_text
        assert arena.min_arena_bytes % 16 == 0
        assert (arena.min_arena_bytes > arena.total_bytes) == minimal_above_total
        assert arena.min_arena_bytes >= arena.total_bytes
        assert _run(str(path), arena.min_arena_bytes, report=False).ok
        assert not _run(str(path), arena.min_arena_bytes - 16, report=False).ok


def test_simple_add_needs_more_than_the_default_arena() -> None:
    """The interpreter's default arena (10x the model) is too small for this model's activations:
    the measurement must grow it rather than fail."""
    pytest.importorskip("tflite_micro")
    from edgekit.ir.tflm_arena import measure_tflm_arena

    data = model_path("tflite_micro/simple_add_model.tflite").read_bytes()
    arena = measure_tflm_arena(data, find_minimal=False)
    assert arena.head_bytes > 10 * len(data)


def test_measuring_keeps_tflite_micro_out_of_the_caller() -> None:
    pytest.importorskip("tflite_micro")
    model = model_path("tflite_micro/hello_world_int8.tflite")
    code = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from edgekit.ir.tflm_arena import measure_tflm_arena
        arena = measure_tflm_arena(Path({str(model)!r}).read_bytes(), find_minimal=False)
        print(arena.head_bytes, "tflite_micro" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    head, imported = out.stdout.split()
    assert int(head) > 0 and imported == "False"
