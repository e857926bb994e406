"""How cheap is `edgekit check` as a CI gate? Wall time per shared model next to `import tensorflow`.

Prints a table and writes JSON. Bar (issue 4): check time <= 0.15x the time of `python -c "import
tensorflow"` on the same machine, for every model.

Run: .venv/bin/python scripts/bench_check.py [--models ../shared/models] [--repeat 5] [--out build/bench_check.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BAR = 0.15


def wall_time(argv: list[str], repeat: int) -> tuple[float, int]:
    """Median wall time over `repeat` runs, and the exit code of the last one."""
    times = []
    code = 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=REPO, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        code = proc.returncode
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--target", default="nucleo-l4r5zi")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_check.json")
    args = parser.parse_args()

    models = sorted(args.models.rglob("*.tflite"))
    if not models:
        sys.exit(f"bench_check: no .tflite files under {args.models}")
    tf_time, _ = wall_time([sys.executable, "-c", "import tensorflow"], args.repeat)
    rows = []
    for model in models:
        seconds, code = wall_time(
            [sys.executable, "-m", "edgekit", "check", str(model), "-t", args.target], args.repeat
        )
        rows.append(
            {
                "model": model.relative_to(args.models).as_posix(),
                "check_s": round(seconds, 4),
                "exit_code": code,
                "ratio_to_tf_import": round(seconds / tf_time, 4),
            }
        )

    width = max(len(r["model"]) for r in rows)
    print(f"python -c 'import tensorflow': {tf_time:.3f} s (median of {args.repeat})")
    print(f"{'model':<{width}}  check s  exit  ratio  bar {BAR}")
    for r in rows:
        mark = "ok" if r["ratio_to_tf_import"] <= BAR else "OVER"
        print(
            f"{r['model']:<{width}}  {r['check_s']:7.3f}  {r['exit_code']:4d}  {r['ratio_to_tf_import']:5.3f}  {mark}"
        )
    worst = max(r["ratio_to_tf_import"] for r in rows)
    print(f"worst ratio {worst:.3f} ({'meets' if worst <= BAR else 'misses'} the bar of {BAR})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "tensorflow_import_s": round(tf_time, 4),
                "target": args.target,
                "repeat": args.repeat,
                "bar": BAR,
                "worst_ratio": worst,
                "models": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
