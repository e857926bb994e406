"""The edgekit C engine, generated for the reference models, compiled for this machine with gcc and
run through ctypes, gives byte-identical outputs to the tflite-micro interpreter.

Each model gets at least 200 inputs: uniformly random int8 tensors, the extremes (all -128, all 0,
all 127), and real inputs where ../shared has them (the person-detection photos, the streaming
wake-word spectrograms, micro_speech features computed from its WAV files by TFLM's own audio
preprocessor model; hello_world gets every possible int8 input).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_MODELS, shared_model

from edgekit.codegen.engine import generate_engine
from edgekit.codegen.engine_host import load_host_engine
from edgekit.ir.tflite_reader import read_tflite

runtime = pytest.importorskip("tflite_micro").runtime

MODELS = {
    "kws": "mlcommons_tiny/kws_ref_model.tflite",
    "vww": "mlcommons_tiny/vww_96_int8.tflite",
    "resnet8": "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "resnet_large": "mlcommons_tiny/pretrainedResnet_large_int8.tflite",
    "person_detect": "tflite_micro/person_detect.tflite",
    "micro_speech": "tflite_micro/micro_speech_quantized.tflite",
    "hello_world": "tflite_micro/hello_world_int8.tflite",
    "simple_add": "tflite_micro/simple_add_model.tflite",
    "str_ww": "mlcommons_tiny/str_ww_ref_model.tflite",
}
RANDOM_INPUTS = 200
INPUTS = SHARED_MODELS / "inputs"


def _bmp_gray(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("L"), dtype=np.uint8)


def _quantize(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)


def _photos() -> list[np.ndarray]:
    folder = INPUTS / "person_detection"
    return [_bmp_gray(p) for p in sorted(folder.glob("*.bmp"))] if folder.is_dir() else []


def _micro_speech_features() -> list[np.ndarray]:
    """49 frames x 40 features per WAV, from TFLM's int8 audio preprocessor (30 ms windows, 20 ms hop)."""
    folder = INPUTS / "micro_speech"
    pre = SHARED_MODELS / "tflite_micro" / "audio_preprocessor_int8.tflite"
    if not folder.is_dir() or not pre.exists():
        return []
    interpreter = runtime.Interpreter.from_bytes(pre.read_bytes(), arena_size=1 << 20)
    result = []
    for wav in sorted(folder.glob("*.wav")):
        with wave.open(str(wav)) as w:
            audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
        frames = []
        for i in range(49):
            frame = audio[i * 320 : i * 320 + 480]
            frame = np.pad(frame, (0, 480 - len(frame)))
            interpreter.set_input(frame.reshape(1, 480), 0)
            interpreter.invoke()
            frames.append(interpreter.get_output(0).copy())
        result.append(np.concatenate(frames).astype(np.int8))
    return result


def real_inputs(key: str, shape: tuple[int, ...], scale: float, zero_point: int) -> list[np.ndarray]:
    """Real-world inputs for a model, already quantized to its int8 input."""
    if key in ("person_detect", "vww", "resnet8", "resnet_large"):
        result = []
        for gray in _photos():
            if key in ("resnet8", "resnet_large"):
                gray = gray[::3, ::3]  # 96x96 -> 32x32
            # All four take raw pixels shifted by -128 (scales 1/255, 1/127.5 or 1, zero point -128 or -1).
            pixels = gray.astype(np.int16) - 128
            img = np.repeat(pixels[..., None], shape[-1], axis=-1)
            result.append(img.reshape(shape).astype(np.int8))
        return result
    if key == "str_ww":
        path = INPUTS / "streaming_wakeword" / "calibration_samples.npz"
        if not path.exists():
            return []
        with np.load(path) as data:
            specs = data["specs"]
        return [_quantize(s, scale, zero_point).reshape(shape) for s in specs]
    if key == "micro_speech":
        return [f.reshape(shape) for f in _micro_speech_features()]
    if key == "hello_world":
        return [np.array([[v]], dtype=np.int8) for v in range(-128, 128)]
    return []


@pytest.mark.parametrize("key", sorted(MODELS))
def test_engine_bit_exact_with_tflm(key: str, tmp_path: Path) -> None:
    path = shared_model(MODELS[key])
    graph = read_tflite(path)
    engine = load_host_engine(graph, generate_engine(graph, "model"), workdir=tmp_path)
    interpreter = runtime.Interpreter.from_bytes(path.read_bytes(), arena_size=8 << 20)

    rng = np.random.default_rng(20240611)
    cases: list[list[np.ndarray]] = []
    for _ in range(RANDOM_INPUTS):
        cases.append([rng.integers(-128, 128, size=shape, dtype=np.int8) for shape, _ in engine.input_specs])
    for value in (-128, 0, 127):
        cases.append([np.full(shape, value, dtype=np.int8) for shape, _ in engine.input_specs])
    first = graph.tensors[graph.inputs[0]]
    assert first.quantization is not None
    real = real_inputs(key, first.shape, first.quantization.scales[0], first.quantization.zero_points[0])
    if len(graph.inputs) == 1:
        cases += [[x] for x in real]

    mismatches = []
    for n, inputs in enumerate(cases):
        # TFLM may reuse the input tensor's memory: set every input again before each invoke.
        for i, x in enumerate(inputs):
            interpreter.set_input(x, i)
        interpreter.invoke()
        expected = [interpreter.get_output(i) for i in range(len(graph.outputs))]
        got = engine.invoke(*inputs)
        for e, g in zip(expected, got, strict=True):
            if not np.array_equal(e.reshape(g.shape), g):
                mismatches.append(n)
    assert len(cases) >= RANDOM_INPUTS
    assert not mismatches, f"{key}: {len(mismatches)} of {len(cases)} inputs differ from TFLM (first {mismatches[:5]})"
