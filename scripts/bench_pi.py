"""The edgekit C engine on Raspberry Pi cores, from emulation: instructions (reference and NEON
kernels), estimated cycles and single-thread ms per Pi board.

For the MLPerf Tiny int8 models (KWS DS-CNN, VWW MobileNetV1-0.25, ResNet-8) and the example
(examples/digits_cnn.keras converted with its calibration data into a temporary folder), per Pi board
(rpi-zero-2w and rpi3bp: Cortex-A53, rpi4-2gb: A72, rpi5-4gb: A76): the engine is generated with the
reference and with the NEON kernels, cross-compiled with aarch64-linux-gnu-gcc -mcpu=<core> -O2
-static, run under qemu-aarch64 -cpu <core> with the counting plugin (`edgekit.on_pi.run_on_pi`),
and its outputs compared with the host build and the tflite-micro interpreter on the same random
inputs. Every output must be equal: the script exits 1 otherwise. Boards with the same core share one
run (the same program executes the same instructions); only the clock differs.

Columns:
  ref instr   measured: instructions of one inference with the reference kernels (exact, TCG plugin)
  neon instr  measured: the same with the NEON kernels (firmware/kernels/neon/, reference for other ops)
  neon/ref    neon instr / ref instr
  est cycles  estimated: NEON build, per-core model (docs/cycle_model_aarch64.md)
  cyc/MAC     estimated cycles / the model's MACs (edgekit.ir.analysis)
  IPC         neon instr / est cycles
  ref ms      estimated: reference build, cycles / board clock
  neon ms     estimated: NEON build, cycles / board clock (single thread)
  bound ms    neon ms plus one misprediction refill per measured minority branch outcome (a bound for
              what the model leaves out; docs/cycle_model_aarch64.md)

Run: .venv/bin/python scripts/bench_pi.py [--models kws,vww,resnet,example]
        [--boards rpi-zero-2w,rpi3bp,rpi4-2gb,rpi5-4gb] [--out build/bench_pi.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models"
MODELS = {
    "kws": "mlcommons_tiny/kws_ref_model.tflite",
    "vww": "mlcommons_tiny/vww_96_int8.tflite",
    "resnet": "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "example": "",  # converted from examples/digits_cnn.keras at start
}
BOARDS = ("rpi-zero-2w", "rpi3bp", "rpi4-2gb", "rpi5-4gb")
VARIANTS = ("reference", "neon")


def convert_example(folder: Path) -> Path:
    """examples/digits_cnn.keras as int8 TFLite, converted once with its calibration data."""
    from edgekit.convert.pipeline import convert

    convert(REPO / "examples" / "digits_cnn.keras", targets=["rpi4-2gb"], calib=REPO / "examples" / "digits_calib.npz",
            out=folder / "example", emulate=False)
    return folder / "example" / "model_int8.tflite"


def run_core(key: str, model_bytes: bytes, graph: Any, target: Any, variant: str, args: argparse.Namespace) -> Any:
    from edgekit.on_board import random_inputs
    from edgekit.on_pi import run_on_pi

    inputs = random_inputs(graph, args.inputs)
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-pi-") as tmp:
        work = Path(args.keep) / key / target.core / variant if args.keep else Path(tmp)
        return run_on_pi(model_bytes, graph, target, work, inputs=inputs, kernels=variant, opt=args.opt,
                         timeout_s=args.timeout)


def _m(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n / 1e3:.1f} k"


def print_rows(headers: list[str], table: list[list[str]], numeric_from: int) -> None:
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= numeric_from else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(fmt(row))


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = ["model", "board", "core", "MHz", "MACs", "ref instr", "neon instr", "neon/ref", "est cycles",
               "cyc/MAC", "IPC", "ref ms", "neon ms", "bound ms", "host", "TFLM"]
    table = [
        [
            r["model"], r["board"], r["core"].replace("cortex-", ""), f"{r['clock_mhz']:g}", _m(r["macs"]),
            _m(r["reference"]["instructions"]), _m(r["neon"]["instructions"]),
            f"{r['neon']['instructions'] / r['reference']['instructions']:.2f}", _m(r["neon"]["estimated_cycles"]),
            f"{r['neon']['cycles_per_mac']:.2f}", f"{r['neon']['instructions'] / r['neon']['estimated_cycles']:.2f}",
            f"{r['reference']['estimated_ms']:.2f}", f"{r['neon']['estimated_ms']:.2f}",
            f"{r['neon']['estimated_ms_upper']:.2f}",
            "yes" if r["outputs_equal_to_host"] else "NO",
            {True: "yes", False: "NO", None: "n/a"}[r["outputs_equal_to_tflm"]],
        ]
        for r in rows
    ]
    print_rows(headers, table, numeric_from=3)


def _git_commit() -> str | None:
    import subprocess

    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help=f"comma-separated: {', '.join(MODELS)} or .tflite paths (default: all)")
    parser.add_argument("--boards", help=f"comma-separated Pi board names (default: {', '.join(BOARDS)})")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="where the shared models are")
    parser.add_argument("--inputs", type=int, default=2, help="random input vectors per run (timing: the first)")
    parser.add_argument("--opt", default="-O2", help="optimisation level (-O2 default)")
    parser.add_argument("--timeout", type=float, default=600.0, help="qemu-aarch64 timeout per run, seconds")
    parser.add_argument("--keep", type=Path, help="keep the generated engines and programs under this folder")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_pi.json")
    args = parser.parse_args()
    if args.inputs < 1:
        sys.exit("bench_pi: --inputs must be at least 1")

    from edgekit.emulate import EmulationError
    from edgekit.emulate.aarch64 import missing_tools
    from edgekit.errors import EdgekitError
    from edgekit.ir.analysis import analyze
    from edgekit.ir.tflite_reader import read_tflite
    from edgekit.on_pi import is_pi
    from edgekit.targets import get_target

    missing = missing_tools()
    if missing:
        sys.exit(f"bench_pi: {', '.join(missing)} not installed (scripts/setup.sh installs them)")
    try:
        targets = [get_target(n.strip()) for n in (args.boards.split(",") if args.boards else BOARDS) if n.strip()]
    except EdgekitError as exc:
        sys.exit(str(exc))
    not_pi = [t.name for t in targets if not is_pi(t)]
    if not_pi:
        sys.exit(f"bench_pi: not a Raspberry Pi board: {', '.join(not_pi)}")
    names = [s.strip() for s in args.models.split(",") if s.strip()] if args.models else list(MODELS)

    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-pi-models-") as models_tmp:
        for key in names:
            if key == "example":
                print("  … converting examples/digits_cnn.keras", file=sys.stderr, flush=True)
                path = convert_example(Path(models_tmp))
            elif key in MODELS:
                path = args.models_dir / MODELS[key]
            else:
                path = Path(key)
                key = path.stem
            if not path.is_file():
                sys.exit(f"bench_pi: model file not found: {path}")
            model_bytes = path.read_bytes()
            graph = read_tflite(path)
            macs = analyze(graph).total_macs
            by_core: dict[tuple[str, str], Any] = {}
            for target in targets:
                runs = {}
                for variant in VARIANTS:
                    if (target.core, variant) not in by_core:
                        print(f"  … {key} on {target.core} ({variant})", file=sys.stderr, flush=True)
                        try:
                            by_core[(target.core, variant)] = run_core(key, model_bytes, graph, target, variant, args)
                        except (EdgekitError, EmulationError) as exc:
                            failures.append(f"{key} on {target.core} ({variant}): {exc}")
                            by_core[(target.core, variant)] = None
                    runs[variant] = by_core[(target.core, variant)]
                if any(run is None for run in runs.values()):
                    continue
                row: dict[str, Any] = {
                    "model": key, "file": str(path), "board": target.name, "core": target.core,
                    "clock_mhz": target.clock_mhz, "macs": macs, "inputs": args.inputs,
                    "outputs_equal_to_host": all(run.equal_to_host for run in runs.values()),
                    "outputs_equal_to_tflm": None if any(run.equal_to_tflm is None for run in runs.values())
                    else all(run.equal_to_tflm for run in runs.values()),
                }
                for variant, run in runs.items():
                    res = run.result
                    # Same core, same program: the cycles are the core's; the ms are this board's clock.
                    ms = res.estimated_cycles / (target.clock_mhz * 1000.0)
                    row[variant] = {
                        "instructions": res.instructions,
                        "estimated_cycles": round(res.estimated_cycles),
                        "cycles_per_mac": res.estimated_cycles / macs if macs else None,
                        "estimated_ms": ms,
                        "branch_minority_outcomes": res.branch_minority_outcomes,
                        "estimated_ms_upper": res.estimated_cycles_upper / (target.clock_mhz * 1000.0),
                        "first_difference": run.first_difference(),
                        "emulator_wall_s": res.wall_time_s,
                        "unknown_instructions": res.unknown_instructions,
                        "layers": [
                            {"index": layer.index, "op": layer.op, "instructions": layer.instructions,
                             "estimated_cycles": round(layer.estimated_cycles)}
                            for layer in res.layers
                        ],
                        "gcc_version": run.build.gcc_version,
                        "flags": list(run.build.flags),
                        "qemu_version": res.qemu_version,
                        "cycle_model": res.cycle_model,
                    }
                    if run.first_difference() is not None or run.equal_to_tflm is not True:
                        why = run.first_difference() or "the tflite-micro interpreter is not installed"
                        failures.append(f"{key} on {target.name} ({variant}): outputs not equal: {why}")
                rows.append(row)

    result = {
        "benchmark": "edgekit C engine on Raspberry Pi cores under qemu-aarch64: instructions measured, "
        "cycles and ms estimated (single thread)",
        "columns": {
            "instructions": "measured: one inference, counted by edgekit's TCG plugin under qemu-aarch64",
            "estimated_cycles": "estimated: per-core model (docs/cycle_model_aarch64.md)",
            "cycles_per_mac": "estimated cycles / MACs (edgekit.ir.analysis)",
            "estimated_ms": "estimated cycles / board clock, one thread",
            "estimated_ms_upper": "estimated_ms plus one misprediction refill per minority branch outcome",
        },
        "opt": args.opt,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "git_commit": _git_commit(),
        "wall_s": round(time.perf_counter() - started, 2),
        "rows": rows,
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    if rows:
        first = rows[0]["neon"]
        print(f"edgekit engine, aarch64-linux-gnu-gcc {first['gcc_version']} {args.opt} -static, "
              f"{first['qemu_version']}; instr measured, cycles/ms estimated (1 thread); {args.inputs} input(s)")
        print()
        print_table(rows)
    print(f"\nwrote {args.out}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
