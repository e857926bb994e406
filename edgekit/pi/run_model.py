"""Run the int8 model on this Raspberry Pi with LiteRT, print its outputs and how long one inference takes.

Written by edgekit (`edgekit convert ... --target rpi4-2gb`, or `edgekit export pi`); needs only the
packages in requirements.txt. Examples:

    python run_model.py                          # a zero input (the real value 0), timing over 50 runs
    python run_model.py --input x.npy --output y.npy
    python run_model.py --input eval.npz --reference --output y.npz

--input takes a .npy, or a .npz (array 'x', or its only array). Float data is quantized with the
model's input scale and zero point (rounding half away from zero, as TFLite's QUANTIZE op does);
integer data of the model's input type is used as it is. Several samples (a leading axis over the
model's batch of 1) run one after another and their outputs are stacked. --output writes the int8
outputs: .npy for a one-output model, .npz (output_0, output_1, ...) otherwise.

--reference uses LiteRT's reference kernels: its int8 outputs are byte-equal to the ones edgekit's
conversion checked. Without it LiteRT picks its fast kernels (XNNPACK), which may differ by a few
least significant bits, and which the timing should be taken with.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

HERE = Path(__file__).resolve().parent
DEFAULT_MODEL = HERE / "model_int8.tflite"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the int8 model with LiteRT and time it.")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="the .tflite (default: beside this file)")
    parser.add_argument("--input", type=Path, help=".npy or .npz input; default: a zero input")
    parser.add_argument("--output", type=Path, help="write the int8 outputs here (.npy or .npz)")
    parser.add_argument("--runs", type=int, default=50, help="timed inferences of the first sample (default 50)")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: LiteRT's choice)")
    parser.add_argument("--reference", action="store_true", help="LiteRT's reference kernels (bit-exact, slow)")
    args = parser.parse_args(argv)
    if args.runs < 0:
        parser.error("--runs must not be negative")
    return args


def make_interpreter(model: Path, reference: bool, threads: int | None) -> Interpreter:
    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(model_path=str(model), num_threads=threads, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def read_input(path: Path) -> np.ndarray:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            if "x" in names:
                return data["x"]
            if len(names) == 1:
                return data[names[0]]
            raise SystemExit(f"{path}: no array 'x' among {', '.join(names)}")
    return np.load(path, allow_pickle=False)


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float to the model's integer type, exactly as edgekit quantized its validation inputs."""
    if dtype.kind not in "iu" or scale <= 0:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    scaled = x / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + zero_point, info.min, info.max).astype(dtype)


def as_samples(x: np.ndarray, detail: dict) -> list[np.ndarray]:
    """The input as a list of tensors of the model's input shape and type."""
    shape = tuple(int(d) for d in detail["shape"])
    dtype = np.dtype(detail["dtype"])
    if x.dtype.kind == "f":
        scale, zero_point = detail["quantization"]
        # float32 as edgekit's data readers give it: the same arithmetic gives the same int8 values.
        x = quantize(x.astype(np.float32), float(scale), int(zero_point), dtype)
    elif x.dtype != dtype:
        raise SystemExit(f"input is {x.dtype}; the model takes {dtype} (or float data to quantize)")
    if x.shape == shape:
        return [x]
    if x.shape == shape[1:] and shape[:1] == (1,):
        return [x[np.newaxis]]
    if x.ndim == len(shape) and x.shape[1:] == shape[1:] and shape[:1] == (1,) and len(x) > 0:
        return [sample[np.newaxis] for sample in x]
    raise SystemExit(f"input shape {list(x.shape)} does not fit the model's input {list(shape)}")


def zero_input(detail: dict) -> np.ndarray:
    """The real value 0 in the model's input type: its zero point when quantized."""
    dtype = np.dtype(detail["dtype"])
    _scale, zero_point = detail["quantization"]
    fill = zero_point if dtype.kind in "iu" else 0
    return np.full(tuple(int(d) for d in detail["shape"]), fill, dtype=dtype)


def run(interpreter: Interpreter, samples: list[np.ndarray]) -> list[np.ndarray]:
    input_index = interpreter.get_input_details()[0]["index"]
    outputs = interpreter.get_output_details()
    results: list[list[np.ndarray]] = [[] for _ in outputs]
    for sample in samples:
        interpreter.set_tensor(input_index, sample)
        interpreter.invoke()
        for k, detail in enumerate(outputs):
            results[k].append(interpreter.get_tensor(detail["index"]).copy())
    return [np.concatenate(r) for r in results]


def time_invoke(interpreter: Interpreter, sample: np.ndarray, runs: int) -> list[float]:
    """Milliseconds of each of `runs` inferences, after one untimed warm-up."""
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.set_tensor(input_index, sample)
    interpreter.invoke()
    times = []
    for _ in range(runs):
        interpreter.set_tensor(input_index, sample)
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def write_outputs(path: Path, outputs: list[np.ndarray]) -> None:
    if path.suffix == ".npz":
        np.savez(path, **{f"output_{k}": out for k, out in enumerate(outputs)})
    elif len(outputs) == 1:
        np.save(path, outputs[0])
    else:
        raise SystemExit(f"{path}: the model has {len(outputs)} outputs; write them to a .npz")


def describe(outputs: list[np.ndarray], details: list[dict]) -> list[str]:
    lines = []
    for k, (out, detail) in enumerate(zip(outputs, details, strict=True)):
        lines.append(f"output {k} '{detail['name']}': {out.dtype} {list(out.shape)}")
        first = out[0].reshape(-1)
        if first.size <= 32:
            lines.append(f"  first sample: {first.tolist()}")
        if out.ndim == 2 and out.shape[1] > 1:
            lines.append(f"  argmax per sample: {np.argmax(out, axis=1).tolist()[:32]}")
    return lines


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not args.model.is_file():
        raise SystemExit(f"{args.model}: no such model file")
    interpreter = make_interpreter(args.model, args.reference, args.threads)
    inputs = interpreter.get_input_details()
    if len(inputs) != 1 and args.input is not None:
        raise SystemExit(f"the model has {len(inputs)} inputs; --input feeds models with one")
    if args.input is not None:
        samples = as_samples(read_input(args.input), inputs[0])
    else:
        samples = [zero_input(inputs[0])]
        for detail in inputs[1:]:
            interpreter.set_tensor(detail["index"], zero_input(detail))
    outputs = run(interpreter, samples)
    kernels = "reference kernels" if args.reference else "default kernels"
    print(f"{args.model.name}: {len(samples)} sample(s), LiteRT {kernels}")
    print("\n".join(describe(outputs, interpreter.get_output_details())))
    if args.output is not None:
        write_outputs(args.output, outputs)
        print(f"outputs written to {args.output}")
    if args.runs:
        times = time_invoke(interpreter, samples[0], args.runs)
        print(
            f"latency over {args.runs} runs: median {statistics.median(times):.3f} ms, "
            f"mean {statistics.fmean(times):.3f} ms, min {min(times):.3f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
