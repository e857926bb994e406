"""The sweep's measurement seam for real: a tiny model built into firmware, run in QEMU on an M4
board, its figures checked against a direct `run_on_board`; the cases with nothing to measure (Linux
board, an op the engine lacks, no cross toolchain); and the cache key following the engine sources
and the tools. Real arm-none-eabi-gcc, QEMU and tflite-micro; skipped where they are not installed.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import shared_model

from edgekit.codegen.engine import build_engine
from edgekit.ir.tflite_reader import read_tflite
from edgekit.sweep import cache
from edgekit.sweep.measure import LatencyFigures, measure_candidate, missing_tools, tools_identity
from edgekit.targets import get_target

M4_BOARD = "nucleo-l4r5zi"
LINUX_BOARD = "rpi4-1gb"

needs_tools = pytest.mark.skipif(
    missing_tools() is not None, reason=f"cannot build and emulate firmware here: {missing_tools()}"
)


@pytest.fixture(scope="module")
def hello() -> tuple[bytes, object]:
    path = shared_model("tflite_micro/hello_world_int8.tflite")
    return path.read_bytes(), read_tflite(path)


@pytest.fixture(scope="module")
def measured(hello: tuple[bytes, object]) -> LatencyFigures | None:
    if missing_tools() is not None:
        pytest.skip(f"cannot build and emulate firmware here: {missing_tools()}")
    tflite, graph = hello
    return measure_candidate(tflite, graph, get_target(M4_BOARD))


@needs_tools
def test_tiny_model_on_an_m4_board_is_measured(
    hello: tuple[bytes, object], measured: LatencyFigures | None, tmp_path: Path
) -> None:
    from edgekit.on_board import random_inputs, run_on_board

    tflite, graph = hello
    assert measured is not None
    assert measured.engine == "edgekit"
    assert measured.estimated_ms is not None and measured.estimated_ms > 0
    assert measured.instructions is not None and measured.instructions > 1000
    assert measured.estimated_cycles is not None and measured.estimated_cycles >= measured.instructions / 2
    assert "(plugin)" in measured.method and "outputs equal to the host build" in measured.method
    data = measured.to_dict()
    assert data["status"] == "estimated"

    # The same figures as a direct run on one input: instructions measured exactly, RAM = arena + stack,
    # flash = the ELF's flash without the embedded test input.
    target = get_target(M4_BOARD)
    run = run_on_board(tflite, graph, target, tmp_path, inputs=random_inputs(graph, 1))
    assert run.equal_to_host and run.equal_to_tflm in (True, None)
    assert measured.instructions == run.result.instructions
    assert measured.estimated_ms == round(run.result.estimated_ms, 6)
    arena = build_engine(graph).arena_bytes
    assert run.result.stack_high_water_bytes > 0
    assert measured.engine_ram_bytes == arena + run.result.stack_high_water_bytes
    assert measured.engine_flash_bytes == run.build.flash_bytes
    assert measured.engine_flash_bytes == run.build.sizes.flash - run.build.test_vector_bytes
    # One input embedded (gcc may fold so small an array into the code: then there is nothing to exclude).
    assert run.build.test_vector_bytes in (0, graph.tensors[graph.inputs[0]].nbytes)


@needs_tools
def test_measuring_again_gives_the_same_figures(hello: tuple[bytes, object], measured: LatencyFigures | None) -> None:
    tflite, graph = hello
    assert measure_candidate(tflite, graph, get_target(M4_BOARD)) == measured


@needs_tools
def test_figures_survive_the_cache_file(measured: LatencyFigures | None) -> None:
    """measured.json holds to_dict(); the next sweep rebuilds LatencyFigures from it (cache._load_folder)."""
    assert measured is not None
    data = measured.to_dict()
    again = LatencyFigures(**{k: v for k, v in data.items() if k in asdict(measured)})
    assert again == measured


def test_linux_board_has_no_measurement(hello: tuple[bytes, object]) -> None:
    tflite, graph = hello
    assert measure_candidate(tflite, graph, get_target(LINUX_BOARD)) is None


def test_op_the_engine_lacks_is_said_not_measured() -> None:
    path = shared_model("tflite_micro/trained_lstm_int8.tflite")
    graph = read_tflite(path)
    figures = measure_candidate(path.read_bytes(), graph, get_target(M4_BOARD))
    assert figures is not None
    assert figures.estimated_ms is None and figures.instructions is None and figures.engine_ram_bytes is None
    assert figures.method.startswith("not emulated: the edgekit engine has no kernel for")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in figures.method
    assert figures.to_dict()["status"] == "no latency"


def test_missing_toolchain_is_said_and_keyed(
    hello: tuple[bytes, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No arm-none-eabi-gcc on this PATH: a note instead of figures, under a cache key that changes
    once the toolchain is there (so the note is not reused after installing it)."""
    tflite, graph = hello
    target = get_target(M4_BOARD)
    tools_identity.cache_clear()
    had_tools = missing_tools() is None
    key_here = cache.measurement_key("0" * 64, target)
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("EDGEKIT_ARM_TOOLCHAIN", raising=False)
    tools_identity.cache_clear()
    try:
        figures = measure_candidate(tflite, graph, target)
        assert figures is not None and figures.estimated_ms is None
        assert figures.method.startswith("not emulated: arm-none-eabi-gcc")
        assert "install" in figures.method
        assert tools_identity()["arm_gcc"] is None
        if had_tools:
            assert cache.measurement_key("0" * 64, target) != key_here
    finally:
        monkeypatch.undo()
        tools_identity.cache_clear()


def test_measurement_key_follows_the_engine_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed kernel gives a new key for microcontroller boards (timings are measured again); a
    Linux board's key, which no firmware run feeds, stays."""
    from edgekit import resources

    mcu, linux = get_target(M4_BOARD), get_target(LINUX_BOARD)
    firmware = tmp_path / "firmware"
    shutil.copytree(resources.data_dir("firmware"), firmware)
    real_data_dir = resources.data_dir
    monkeypatch.setattr(resources, "data_dir", lambda name: firmware if name == "firmware" else real_data_dir(name))

    def keys() -> tuple[str, str]:
        cache.engine_sources_digest.cache_clear()
        return cache.measurement_key("1" * 64, mcu), cache.measurement_key("1" * 64, linux)

    try:
        before = keys()
        assert keys() == before  # stable
        kernel = firmware / "kernels" / "reference" / "conv_2d.c"
        kernel.write_bytes(kernel.read_bytes() + b"\n/* changed */\n")
        after = keys()
        assert after[0] != before[0]
        assert after[1] == before[1]
    finally:
        monkeypatch.undo()
        cache.engine_sources_digest.cache_clear()
