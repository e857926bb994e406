"""How long does the example sweep take? 4 widths of the digits CNN on 3 boards, first run and cached rerun.

Runs the real command line in fresh processes (TensorFlow import, training, conversion, TFLM,
plots: everything a user waits for), from an empty output folder, then again into the same folder.
Prints a table and writes JSON. Bars (issue 10): first run < 180 s, cached rerun < 10 s, on the
2-core machine.

Run: .venv/bin/python scripts/bench_sweep.py [--out build/bench_sweep.json] [--epochs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIDTHS = "0.25,0.5,1,2"
BOARDS = ("nano33ble", "rpi-pico", "blackpill-f401")
FIRST_BAR_S = 180.0
CACHED_BAR_S = 10.0
# `edgekit sweep` whether or not edgekit/cli.py registers the command yet.
_CLI = (
    "import sys\n"
    "from edgekit.cli import cli, main\n"
    "from edgekit.sweep.command import sweep_command\n"
    "if 'sweep' not in cli.commands:\n"
    "    cli.add_command(sweep_command)\n"
    "main(sys.argv[1:])\n"
)


def sweep_argv(out: Path, epochs: int) -> list[str]:
    argv = [sys.executable, "-c", _CLI, "sweep", "--builder", "examples/digits_family.py:build"]
    argv += ["--widths", WIDTHS, "--epochs", str(epochs), "--train", "examples/digits_train.npz"]
    argv += ["--eval", "examples/digits_eval.npz", "--out", str(out), "--quiet"]
    for board in BOARDS:
        argv += ["--target", board]
    return argv


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_sweep.json")
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()

    sweep_dir = REPO / "build" / "bench_sweep"
    if sweep_dir.exists():
        # Only the folder this script's sweeps wrote; edgekit marks it so.
        if not (sweep_dir / ".edgekit-output").is_file():
            sys.exit(f"bench_sweep: {sweep_dir} exists and was not written by edgekit; remove it yourself")
        shutil.rmtree(sweep_dir)

    rows = []
    for run in ("first", "cached"):
        seconds, proc = timed(sweep_argv(sweep_dir, args.epochs))
        if proc.returncode not in (0, 1):
            sys.exit(f"bench_sweep: the {run} run failed (exit {proc.returncode}):\n{proc.stderr}")
        report = json.loads((sweep_dir / "sweep.json").read_text())
        bar = FIRST_BAR_S if run == "first" else CACHED_BAR_S
        rows.append(
            {
                "run": run,
                "wall_s": round(seconds, 2),
                "bar_s": bar,
                "ok": seconds < bar,
                "exit_code": proc.returncode,
                "reused": report["cache"]["reused"],
                "computed": report["cache"]["computed"],
                "choices": {r["target"]: r["choice"] for r in report["recommendations"]},
            }
        )

    candidates = [
        {
            "id": c["id"],
            "params": c["params"],
            "int8_flash_bytes": c["int8_flash_bytes"],
            "tflm_ram_bytes": c["tflm_ram_bytes"],
            "float_accuracy": c["float_accuracy"],
            "int8_accuracy": c["int8_accuracy"],
        }
        for c in report["candidates"]
    ]
    result = {
        "benchmark": "edgekit sweep, example digits family",
        "widths": WIDTHS,
        "boards": list(BOARDS),
        "epochs": args.epochs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        "runs": rows,
        "candidates": candidates,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"edgekit sweep: widths {WIDTHS} x boards {', '.join(BOARDS)}, {args.epochs} epochs, {os.cpu_count()} CPUs")
    print(f"{'run':<8} {'wall s':>8} {'bar s':>7}  {'ok':<4} {'reused':>6} {'computed':>8}")
    for r in rows:
        print(
            f"{r['run']:<8} {r['wall_s']:>8.2f} {r['bar_s']:>7.0f}  {'yes' if r['ok'] else 'NO':<4} "
            f"{r['reused']:>6} {r['computed']:>8}"
        )
    print()
    print(f"{'candidate':<10} {'params':>7} {'int8 flash':>10} {'TFLM RAM':>9} {'float acc':>9} {'int8 acc':>8}")
    for c in candidates:
        print(
            f"{c['id']:<10} {c['params']:>7,} {c['int8_flash_bytes']:>10,} {c['tflm_ram_bytes']:>9,} "
            f"{c['float_accuracy']:>9.4f} {c['int8_accuracy']:>8.4f}"
        )
    print(f"\nwrote {args.out}")
    if not all(r["ok"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
