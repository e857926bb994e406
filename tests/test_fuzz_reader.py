"""Fuzzing the .tflite reader and everything built on the Graph IR: only EdgekitError may come out.

Mutations of real models (bit flips, overwritten 32-bit words with extreme values, truncation,
spliced ranges) drive the reader into offsets, sizes and indices that no well-formed file has.
Bounded in time: about a minute in all. A crasher found here becomes a case in test_bad_tflite.py.
"""

from __future__ import annotations

import struct

import pytest
from conftest import shared_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.errors import EdgekitError
from edgekit.ir.analysis import analyze
from edgekit.ir.op_support import op_support
from edgekit.ir.planner import check_plan, plan_memory
from edgekit.ir.tflite_reader import parse_tflite

SEEDS = [
    "mlcommons_tiny/kws_ref_model.tflite",
    "tflite_micro/hello_world_int8.tflite",
    "tflite_micro/micro_speech_quantized.tflite",
    "tflite_micro/simple_add_model.tflite",
    "tflite_micro/trained_lstm_int8.tflite",
    "tflite_micro/audio_preprocessor_int8.tflite",
]
EXTREME_WORDS = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 0x7FFFFFF0]


@pytest.fixture(scope="module")
def seeds() -> list[bytes]:
    return [shared_model(relative).read_bytes() for relative in SEEDS]


@st.composite
def mutations(draw: st.DrawFn, size: int) -> list[tuple[str, int, int]]:
    count = draw(st.integers(1, 8))
    return [
        (
            draw(st.sampled_from(["flip", "word", "truncate", "splice"])),
            draw(st.integers(0, size - 1)),
            draw(st.integers(0, 2**32 - 1)),
        )
        for _ in range(count)
    ]


def _mutate(data: bytes, steps: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, value in steps:
        if not buf:
            break
        pos %= len(buf)
        if kind == "flip":
            buf[pos] ^= 1 << (value % 8)
        elif kind == "word" and pos + 4 <= len(buf):
            buf[pos & ~3 : (pos & ~3) + 4] = struct.pack("<I", EXTREME_WORDS[value % len(EXTREME_WORDS)])
        elif kind == "truncate":
            del buf[max(8, pos) :]
        elif kind == "splice":
            length = value % 64
            source = (value >> 8) % len(buf)
            buf[pos : pos + length] = buf[source : source + length]
    return bytes(buf)


def _exercise(data: bytes) -> None:
    try:
        graph = parse_tflite(data, path="fuzz.tflite")
    except EdgekitError:
        return
    analyze(graph)
    op_support(graph)
    plan = plan_memory(graph)
    assert check_plan(plan) == []


@settings(
    max_examples=15000,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_models_raise_only_edgekit_errors(seeds: list[bytes], data: st.DataObject) -> None:
    seed = data.draw(st.sampled_from(seeds))
    _exercise(_mutate(seed, data.draw(mutations(len(seed)))))


@settings(max_examples=3000, deadline=None, database=None, derandomize=True)
@given(raw=st.binary(min_size=0, max_size=512))
def test_random_bytes_with_the_identifier(raw: bytes) -> None:
    # The identifier gets a random buffer past the first check, into the flatbuffer tables.
    _exercise(raw[:4] + b"TFL3" + raw[8:] if len(raw) >= 8 else raw)
