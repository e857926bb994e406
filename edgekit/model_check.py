"""From int8 .tflite bytes to analysis, memory plan, op support and a verdict per board.

The stage shared by `edgekit convert` (on the TFLite it produced) and `edgekit check` (on a file the
user has). It reads the model only through the Graph IR and never imports TensorFlow: `check` is a
CI gate and must stay cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit import budget
from edgekit.errors import EdgekitError
from edgekit.ir.analysis import ModelAnalysis, analyze
from edgekit.ir.graph import Graph
from edgekit.ir.planner import MemoryPlan, plan_memory
from edgekit.ir.tflite_reader import parse_tflite
from edgekit.targets import Target

ENGINES = ("tflm", "edgekit")
# Beyond this planned arena the model is not run in the interpreter to measure it: no microcontroller
# has the RAM, and the measurement would itself allocate that much.
MEASURE_LIMIT_BYTES = 64 << 20
# Beyond this planned arena LiteRT is not run on the host to measure a Raspberry Pi's RAM: the
# measurement would allocate that much here, and the planned figure already says it does not fit.
LITERT_MEASURE_LIMIT_BYTES = 1 << 30


@dataclass
class ModelCheck:
    graph: Graph
    analysis: ModelAnalysis
    plan: MemoryPlan
    op_support: list[Any]  # edgekit.ir.op_support.OpSupport
    tflm_arena: dict[str, Any] | None
    verdicts: list[budget.Verdict]
    notes: list[str] = field(default_factory=list)

    def analysis_dict(self) -> dict[str, Any]:
        data = self.analysis.to_dict()
        data.pop("path", None)  # reports carry no paths of this machine
        return data

    def plan_dict(self) -> dict[str, Any]:
        return {
            "arena_bytes": self.plan.arena_bytes,
            "activation_bytes": self.plan.activation_bytes,
            "variable_bytes": self.plan.variable_bytes,
            "lower_bound_bytes": self.plan.lower_bound_bytes,
            "alignment": self.plan.alignment,
            "strategy": self.plan.strategy,
            "timeline": [
                {
                    "index": t.index,
                    "op_type": t.op_type,
                    "live_bytes": t.live_bytes,
                    "high_water_bytes": t.high_water_bytes,
                }
                for t in self.plan.timeline
            ],
        }


def inspect_tflite(model_bytes: bytes, path: Path) -> tuple[Graph, ModelAnalysis, MemoryPlan, list[Any]]:
    """Parse and analyse without running anything: what `edgekit analyze` shows."""
    from edgekit.ir.op_support import op_support

    graph = parse_tflite(model_bytes, path=path)
    return graph, analyze(graph), plan_memory(graph), op_support(graph)


def check_tflite(model_bytes: bytes, path: Path, boards: Sequence[Target], engine: str = "tflm") -> ModelCheck:
    if engine not in ENGINES:
        raise EdgekitError(None, f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    graph, analysis, plan, support = inspect_tflite(model_bytes, path)
    if analysis.is_hybrid:
        raise EdgekitError(path, analysis.quantization_note or "hybrid (dynamic-range) model")
    notes = list(graph.notes)
    if analysis.quantization in ("float", "mixed"):
        notes.append(
            f"The model is {analysis.quantization}, not full-integer int8: microcontroller figures "
            "assume the int8 kernels; convert with full-integer quantization for the real thing."
        )
    mcus = [board for board in boards if board.is_mcu]
    by_board: dict[str, budget.Verdict] = {}
    arena_figures: dict[str, Any] | None = None
    if mcus:
        mcu_verdicts, arena_figures = _mcu_verdicts(model_bytes, path, graph, plan, mcus, engine, notes)
        by_board.update((v.target, v) for v in mcu_verdicts)
    linux = [board for board in boards if not board.is_mcu]
    if linux:
        # A Raspberry Pi runs the model with LiteRT whichever microcontroller engine was asked for.
        by_board.update((v.target, v) for v in _linux_verdicts(model_bytes, path, plan, linux, notes))
    verdicts = [by_board[board.name] for board in boards]
    return ModelCheck(graph, analysis, plan, support, arena_figures, verdicts, notes)


def _mcu_verdicts(
    model_bytes: bytes, path: Path, graph: Graph, plan: MemoryPlan, boards: list[Target], engine: str, notes: list[str]
) -> tuple[list[budget.Verdict], dict[str, Any] | None]:
    from edgekit.ir.op_support import unsupported

    missing = unsupported(graph, engine)
    if engine == "edgekit" and not missing:
        from edgekit.codegen.engine import target_kernel_family

        # Per kernel family: the Arm DSP kernels' scratch is part of their arena, their code differs.
        footprints: dict[str, budget.EngineFootprint] = {}

        def footprint(board: Target) -> budget.EngineFootprint:
            family = target_kernel_family(board)
            if family not in footprints:
                footprints[family] = engine_footprint(graph, family=family)
            return footprints[family]

        return [budget.edgekit_verdict(board, footprint(board)) for board in boards], None
    if missing:
        notes.append(f"Engine {engine} has no kernel for: {', '.join(missing)}.")
        return [budget.unsupported_verdict(board, engine, missing) for board in boards], None
    if plan.arena_bytes > MEASURE_LIMIT_BYTES:
        notes.append(
            f"The activations alone need {plan.arena_bytes:,} B (edgekit's plan): too large to run in the "
            "tflite-micro interpreter, and larger than any microcontroller's RAM."
        )
        planned = budget.ModelFootprint(len(model_bytes), plan.arena_bytes, budget.PLANNED)
        return [budget.tflm_verdict(board, planned) for board in boards], None
    arena = measure_arena(model_bytes, path)
    from edgekit.codegen.tflm_bundle import tflm_arena_size

    min_arena = arena.min_arena_bytes or arena.total_bytes
    # The budget holds the arena the TFLM bundle declares (model_arena.h): measured plus headroom.
    arena_size = tflm_arena_size(min_arena)
    arena_figures = {
        "total_bytes": arena.total_bytes,
        "head_bytes": arena.head_bytes,
        "tail_bytes": arena.tail_bytes,
        "min_arena_bytes": min_arena,
        "arena_size_bytes": arena_size,
        "measured_with": "tflite-micro interpreter (x86-64 host)",
    }
    footprint = budget.ModelFootprint(len(model_bytes), arena_size, budget.MEASURED)
    return [budget.tflm_verdict(board, footprint) for board in boards], arena_figures


def _linux_verdicts(
    model_bytes: bytes, path: Path, plan: MemoryPlan, boards: list[Target], notes: list[str]
) -> list[budget.Verdict]:
    """Raspberry Pi verdicts: LiteRT's resident memory for the model, measured once for all of them."""
    from edgekit.pi.memory import LitertCannotRun, installed_runtime_bytes, measure_litert_memory

    install_bytes, install_method = installed_runtime_bytes()

    if plan.arena_bytes > LITERT_MEASURE_LIMIT_BYTES:
        notes.append(
            f"The activations need {plan.arena_bytes:,} B (edgekit's plan): not run in LiteRT on this host, "
            "so the Raspberry Pi RAM figure is the planned arena."
        )
        footprint = budget.LinuxFootprint(
            len(model_bytes),
            plan.arena_bytes,
            budget.PLANNED,
            "edgekit's memory plan of the activations",
            install_bytes=install_bytes,
            install_method=install_method,
        )
    else:
        try:
            memory = measure_litert_memory(model_bytes, path)
        except LitertCannotRun as exc:
            notes.append(f"LiteRT cannot run the model ({exc.problem}): no Raspberry Pi can run it as it is.")
            return [budget.litert_failed_verdict(board, exc.problem) for board in boards]
        footprint = budget.LinuxFootprint(
            len(model_bytes),
            memory.working_bytes,
            budget.MEASURED,
            memory.working_method(),
            memory.code_bytes,
            memory.code_method(),
            memory.bare_bytes,
            install_bytes,
            install_method,
        )
    return [budget.linux_verdict(board, footprint) for board in boards]


def measure_arena(model_bytes: bytes, path: Path):  # -> TflmArena
    from edgekit.ir.tflm_arena import measure_tflm_arena

    try:
        return measure_tflm_arena(model_bytes)
    except EdgekitError as exc:
        raise EdgekitError(path, exc.problem) from None
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise EdgekitError(path, f"the tflite-micro interpreter cannot run this model: {text}") from None


def engine_footprint(graph: Graph, run: Any = None, family: str = "reference") -> budget.EngineFootprint:
    """edgekit engine figures for the kernels of `family` (the run's, when a firmware run is given):
    from the run when given, else from the generated code."""
    from edgekit.codegen.engine import build_engine, generate_engine
    from edgekit.codegen.engine_size import measure_engine_sizes

    model = build_engine(graph, family=family)
    if run is not None:
        return budget.EngineFootprint(
            model.arena_bytes, model.const_bytes(), None, run.result.flash_bytes, run.result.ram_bytes
        )
    try:
        code: int | None = measure_engine_sizes(generate_engine(graph, family=family)).text_bytes
    except RuntimeError:
        code = None
    return budget.EngineFootprint(model.arena_bytes, model.const_bytes(), code)
