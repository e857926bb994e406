"""RAM of edgekit's C engine next to TFLM's tensor arena, per shared model.

For every model the engine can run:
- TFLM: the smallest arena the tflite-micro interpreter runs the model with (`min_arena_bytes`, found
  by trying sizes), and its own allocation report (total = head + tail). These are the 64-bit host
  interpreter's figures: on a 32-bit Cortex-M the tail (runtime structs) is a little smaller, so the
  head (the planned tensor memory alone, pointer-size independent) is shown too.
- edgekit: the engine's RAM = its planned arena + every other byte of mutable static data in the
  generated code (.data + .bss besides the arena, read from the compiled objects; by design 0).
  Also shown: the same buffers without in-place overlap and aliasing, to see what those bring.
ratio = edgekit RAM / TFLM min arena. Bar (issue 5): <= 1.0 on every model; aim 0.6.

Run: .venv/bin/python scripts/bench_memory.py [--models ../shared/models] [--out build/bench_memory.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgekit.codegen.engine import build_engine, generate_engine, unsupported_ops
from edgekit.codegen.engine_size import EngineSizes, measure_engine_sizes
from edgekit.errors import EdgekitError
from edgekit.ir.tflite_reader import read_tflite
from edgekit.ir.tflm_arena import measure_tflm_arena

REPO = Path(__file__).resolve().parents[1]
BAR = 1.0
AIM = 0.6


def measure_static(files: dict[str, bytes]) -> EngineSizes:
    """Section sizes with the Cortex-M4 cross compiler when installed, else the host compiler."""
    try:
        return measure_engine_sizes(files)
    except RuntimeError:
        return measure_engine_sizes(files, compiler="gcc", flags=("-Os",))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=REPO.parent / "shared" / "models")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_memory.json")
    args = parser.parse_args()

    models = sorted(args.models.rglob("*.tflite"))
    if not models:
        sys.exit(f"bench_memory: no .tflite files under {args.models}")
    rows, skipped = [], []
    for path in models:
        name = path.relative_to(args.models).as_posix()
        try:
            graph = read_tflite(path)
        except EdgekitError as e:
            skipped.append({"model": name, "reason": e.problem})
            continue
        missing = unsupported_ops(graph)
        if missing:
            skipped.append({"model": name, "reason": "engine has no kernel for " + "; ".join(missing[:3])})
            continue
        engine = build_engine(graph)
        sizes = measure_static(generate_engine(graph))
        static = sizes.static_ram_bytes - engine.arena_bytes
        tflm = measure_tflm_arena(path.read_bytes())
        assert tflm.min_arena_bytes is not None
        ram = engine.arena_bytes + static
        rows.append({
            "model": name,
            "tflm_min_arena_bytes": tflm.min_arena_bytes,
            "tflm_total_bytes": tflm.total_bytes,
            "tflm_head_bytes": tflm.head_bytes,
            "edgekit_arena_bytes": engine.arena_bytes,
            "edgekit_static_mutable_bytes": static,
            "edgekit_ram_bytes": ram,
            "edgekit_no_overlap_bytes": engine.plan.no_overlap_bytes,
            "plan_strategy": engine.plan.strategy,
            "ratio_to_tflm_min_arena": round(ram / tflm.min_arena_bytes, 4),
            "ratio_to_tflm_head": round(ram / tflm.head_bytes, 4) if tflm.head_bytes else None,
            "static_measured_with": sizes.compiler,
            "edgekit_flash_bytes": sizes.flash_bytes,
            "edgekit_code_bytes": sizes.text_bytes,
        })
        print(f"  measured {name}", file=sys.stderr)

    header = (f"{'model':48} {'TFLM min':>9} {'TFLM tot':>9} {'TFLM head':>9} {'edgekit':>8} "
              f"{'no-ovl':>7} {'ratio':>6} {'vs head':>7} {'flash':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['model']:48} {r['tflm_min_arena_bytes']:>9} {r['tflm_total_bytes']:>9} "
              f"{r['tflm_head_bytes']:>9} {r['edgekit_ram_bytes']:>8} {r['edgekit_no_overlap_bytes']:>7} "
              f"{r['ratio_to_tflm_min_arena']:>6.3f} {r['ratio_to_tflm_head'] or 0:>7.3f} "
              f"{r['edgekit_flash_bytes']:>8}")
    worst = max((r["ratio_to_tflm_min_arena"] for r in rows), default=0.0)
    print(f"\nworst ratio {worst:.3f} (bar <= {BAR}, aim {AIM}); {len(skipped)} models skipped:")
    for s in skipped:
        print(f"  {s['model']}: {s['reason'][:110]}")

    result = {
        "bar": BAR,
        "aim": AIM,
        "worst_ratio": worst,
        "meets_bar": all(r["ratio_to_tflm_min_arena"] <= BAR for r in rows),
        "tflm_figures": "tflite-micro Python interpreter on the 64-bit host",
        "models": rows,
        "skipped": skipped,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
