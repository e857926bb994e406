"""The edgekit C engine on emulated Cortex-M boards: instructions, estimated cycles and time, RAM, flash.

For the MLPerf Tiny int8 models (KWS DS-CNN, VWW MobileNetV1-0.25, ResNet-8) and TFLM's person_detect,
on an M4 (nucleo-l4r5zi), M7 (stm32f746g-disco), M33 (nucleo-u575zi) and M55 (corstone-300) board:
the engine is generated, built with arm-none-eabi-gcc, run in QEMU with the counting plugin
(`edgekit.on_board.run_on_board`), and its outputs compared with the host build and the tflite-micro
interpreter on the same random inputs. Every output must be equal: the script exits 1 otherwise.

Columns:
  instr       measured: instructions of one inference (exact, TCG plugin)
  est cycles  estimated: the per-core cycle model (docs/cycle_model.md) incl. the board's flash wait states
  cyc/MAC     estimated cycles / the model's MACs (edgekit.ir.analysis)
  est ms      estimated cycles / the board clock
  RAM         engine RAM: the planned arena + the stack high-water mark of the whole emulated run
  flash       measured from the linked ELF (.text + .rodata + .data, embedded test inputs excluded),
              split by the linker map into engine code (generated model + kernels), engine constants
              (weights, biases, requantization tables, layer parameters) and the rest (start-up code,
              run harness, libc/libgcc helpers such as memcpy)
  emu s       QEMU wall time of the run (all inputs), on this machine
TFLM instruction counts next to ours are QUOTED from ../shared/TOOLCHAIN.md (TFLM at commit 90b983c,
measured on another occasion), not measured by this script.

Kernel families (--kernels): each board runs the portable reference kernels and, where its core has an
optimized family (Arm DSP on M4/M7/M33, Helium on the M55: edgekit.codegen.engine.kernel_family), that
family too; a second table puts the two side by side (instructions, estimated cycles, cycles/MAC,
reference/optimized ratio). Both must give outputs equal to the host reference build and to the
tflite-micro interpreter.

Run: .venv/bin/python scripts/bench_engine.py [--models kws,vww,resnet,person_detect]
        [--boards nucleo-l4r5zi,stm32f746g-disco,nucleo-u575zi,corstone-300] [--kernels reference,target]
        [--out build/bench_engine.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO.parent / "shared" / "models"
MODELS = {
    "kws": "mlcommons_tiny/kws_ref_model.tflite",
    "vww": "mlcommons_tiny/vww_96_int8.tflite",
    "resnet": "mlcommons_tiny/pretrainedResnet_quant.tflite",
    "person_detect": "tflite_micro/person_detect.tflite",
}
BOARDS = ("nucleo-l4r5zi", "stm32f746g-disco", "nucleo-u575zi", "corstone-300")
CORE_ALIASES = {"m4": "nucleo-l4r5zi", "m7": "stm32f746g-disco", "m33": "nucleo-u575zi", "m55": "corstone-300"}

# Quoted, not measured here: ../shared/TOOLCHAIN.md, "TensorFlow Lite Micro measured on emulated cores".
# Instructions of one Invoke(); arena_used_bytes() on the 32-bit target; .text of the TFLM library for
# the model's op set (reference kernels / CMSIS-NN int8 kernels), in KB as quoted.
TFLM_QUOTED_SOURCE = (
    "../shared/TOOLCHAIN.md: TFLM at commit 90b983c with its pinned CMSIS-NN, arm-none-eabi-gcc 12.2, QEMU 7.2, "
    "TCG-plugin instruction counts of one Invoke(); M7/M33 counts quoted as within ~1% of M4"
)
TFLM_QUOTED = {
    "kws": {
        "m4_ref": 43_040_000,
        "m4_cmsis_nn": 7_700_000,
        "m55_cmsis_nn_mve": 1_810_000,
        "arena_bytes": 22_772,
        "text_kb_ref": 32.7,
        "text_kb_cmsis_nn": 44.9,
    },
    "vww": {
        "m4_ref": 100_250_000,
        "m4_cmsis_nn": 24_100_000,
        "m55_cmsis_nn_mve": 6_560_000,
        "arena_bytes": 100_660,
        "text_kb_ref": 32.7,
        "text_kb_cmsis_nn": 44.9,
    },
    "resnet": {
        "m4_ref": 107_410_000,
        "m4_cmsis_nn": 29_860_000,
        "m55_cmsis_nn_mve": 4_910_000,
        "arena_bytes": 54_340,
        "text_kb_ref": 37.0,
        "text_kb_cmsis_nn": 42.7,
    },
    "person_detect": {
        "m4_ref": 95_660_000,
        "m4_cmsis_nn": 22_930_000,
        "m55_cmsis_nn_mve": 6_510_000,
        "arena_bytes": 82_292,
        "text_kb_ref": 28.6,
        "text_kb_cmsis_nn": 35.2,
    },
}


# ---- flash split from the linker map ------------------------------------------------------------


def _section_kinds(elf: Path) -> dict[str, str]:
    """Allocated output sections of the ELF by kind, classified as edgekit.firmware.read_sizes does."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    kinds: dict[str, str] = {}
    with open(elf, "rb") as f:
        for section in ELFFile(f).iter_sections():
            flags = section["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
                continue
            if section.name == ".vectors" or flags & SH_FLAGS.SHF_EXECINSTR:
                kinds[section.name] = "text"
            elif section["sh_type"] == "SHT_NOBITS":
                kinds[section.name] = "bss"
            elif flags & SH_FLAGS.SHF_WRITE:
                kinds[section.name] = "data"
            else:
                kinds[section.name] = "rodata"
    return kinds


def _is_hex(token: str) -> bool:
    return token.startswith("0x")


def map_contributions(map_path: Path, elf: Path) -> Counter[tuple[str, str]]:
    """Bytes per (section kind, owner) from a GNU ld map file; owner is "engine" for the generated
    model's objects (model__*.o: NAME.c and its kernels) and "runtime" for everything else (start-up,
    harness, libc, libgcc, linker fill)."""
    kinds = _section_kinds(elf)
    text = map_path.read_text(errors="replace")
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    totals: Counter[tuple[str, str]] = Counter()
    kind: str | None = None
    pending = False  # an input-section name whose address and size are on the next line

    def add(size: str, owner_path: str) -> None:
        assert kind is not None
        owner = "engine" if Path(owner_path.split("(")[0]).name.startswith("model__") else "runtime"
        totals[(kind, owner)] += int(size, 16)

    for line in lines:
        if not line.strip():
            continue
        parts = line.split()
        if not line.startswith(" "):  # an output section, or LOAD / START GROUP lines
            kind = kinds.get(parts[0])
            pending = False
            continue
        if kind is None:
            continue
        if line.startswith(" *fill*"):
            if len(parts) >= 3 and _is_hex(parts[2]):
                totals[(kind, "runtime")] += int(parts[2], 16)
            continue
        if line.startswith(" *"):  # an input-section pattern of the linker script
            continue
        if line[1] != " ":  # an input section: " .text.name [0xaddr 0xsize object]"
            if len(parts) >= 4 and _is_hex(parts[1]) and _is_hex(parts[2]):
                add(parts[2], " ".join(parts[3:]))
                pending = False
            else:
                pending = len(parts) == 1
            continue
        if pending and len(parts) >= 3 and _is_hex(parts[0]) and _is_hex(parts[1]):
            add(parts[1], " ".join(parts[2:]))
        pending = False  # otherwise: a symbol line "0xaddr name", or an assignment
    return totals


def flash_split(build: Any, engine_const_planned: int) -> dict[str, Any]:
    """Flash of the firmware (test inputs excluded) as engine code, engine constants and the rest."""
    parts = map_contributions(build.map, build.elf)
    engine_code = parts[("text", "engine")]
    engine_const = parts[("rodata", "engine")] + parts[("data", "engine")]
    runtime = parts[("text", "runtime")] + parts[("rodata", "runtime")] + parts[("data", "runtime")]
    runtime -= build.test_vector_bytes
    attributed = engine_code + engine_const + runtime
    return {
        "total_bytes": build.flash_bytes,
        "engine_code_bytes": engine_code,
        "engine_const_bytes": engine_const,
        "runtime_bytes": runtime,
        "unattributed_bytes": build.flash_bytes - attributed,  # 0 when the map accounts for every byte
        "engine_const_planned_bytes": engine_const_planned,
        "test_vector_bytes_excluded": build.test_vector_bytes,
    }


# ---- running --------------------------------------------------------------------------------------


def pick_models(spec: str | None, models_dir: Path) -> dict[str, Path]:
    names = [s.strip() for s in spec.split(",") if s.strip()] if spec else list(MODELS)
    picked: dict[str, Path] = {}
    for name in names:
        if name in MODELS:
            picked[name] = models_dir / MODELS[name]
        elif name.endswith(".tflite"):
            picked[Path(name).stem] = Path(name)
        else:
            sys.exit(f"bench_engine: unknown model {name!r}; use {', '.join(MODELS)} or a .tflite path")
    missing = [str(p) for p in picked.values() if not p.is_file()]
    if missing:
        sys.exit(f"bench_engine: model file(s) not found: {', '.join(missing)}")
    return picked


def pick_boards(spec: str | None) -> list[str]:
    names = [s.strip() for s in spec.split(",") if s.strip()] if spec else list(BOARDS)
    return [CORE_ALIASES.get(n.lower(), n) for n in names]


def pick_families(spec: str, target: Any) -> list[str]:
    """The kernel families to run on `target`: "target" means the core's own (kernel_family)."""
    from edgekit.codegen.engine import KERNEL_FAMILIES, target_kernel_family

    families: list[str] = []
    for name in (s.strip() for s in spec.split(",") if s.strip()):
        family = target_kernel_family(target) if name == "target" else name
        if family not in KERNEL_FAMILIES:
            sys.exit(f"bench_engine: unknown kernel family {name!r}; use target or {', '.join(KERNEL_FAMILIES)}")
        if family not in families:
            families.append(family)
    return families


def bench_one(
    key: str, path: Path, model_bytes: bytes, graph: Any, macs: int, engine: Any, target: Any, args: argparse.Namespace
) -> dict[str, Any]:
    from edgekit.on_board import random_inputs, run_on_board

    family = engine.family
    inputs = random_inputs(graph, args.inputs)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-engine-") as tmp:
        work = Path(args.keep) / key / target.name / family if args.keep else Path(tmp)
        run = run_on_board(model_bytes, graph, target, work, inputs=inputs, opt=args.opt, timeout_s=args.timeout,
                           family=family)
        flash = flash_split(run.build, engine.const_bytes())
    total_s = time.perf_counter() - started
    res = run.result
    cycles = res.estimated_cycles
    stack = res.stack_high_water_bytes
    return {
        "model": key,
        "file": str(path),
        "board": target.name,
        "kernels": family,
        "core": target.core,
        "clock_mhz": target.clock_mhz,
        "flash_wait_states": target.flash_wait_states,
        "qemu_machine": target.qemu_machine,
        "emulation_note": target.emulation_note,
        "macs": macs,
        "inputs": len(inputs),
        "counting": res.counting,
        "instructions": res.instructions,  # measured
        "estimated_cycles": None if cycles is None else round(cycles),
        "cycles_per_mac": None if cycles is None or not macs else cycles / macs,
        "instructions_per_mac": res.instructions / macs if macs else None,
        "estimated_ms": res.estimated_ms,
        "arena_bytes": engine.arena_bytes,
        "stack_high_water_bytes": stack,
        "call_stack_bytes": res.call_stack_bytes,
        "engine_ram_bytes": engine.arena_bytes + stack,
        "elf_static_ram_bytes": res.sections.static_ram,
        "flash": flash,
        "sections": res.sections.as_dict(),
        "emulator_wall_s": res.wall_time_s,
        "total_wall_s": round(total_s, 3),
        "outputs_equal_to_host": run.equal_to_host,
        "outputs_equal_to_tflm": run.equal_to_tflm,
        "first_difference": run.first_difference(),
        "unknown_instructions": res.unknown_instructions,
        "layers": [
            {
                "index": layer.index,
                "op": layer.op,
                "instructions": layer.instructions,
                "estimated_cycles": round(layer.estimated_cycles),
                "estimated_ms": layer.estimated_ms,
            }
            for layer in res.layers
        ],
        "gcc_version": run.build.gcc_version,
        "opt": run.build.opt,
        "qemu_version": res.qemu_version,
        "cycle_model": res.cycle_model,
    }


def _m(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} M" if n >= 100_000 else f"{n / 1e3:.1f} k"


def _kb(n: int) -> str:
    return f"{n / 1024:.1f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = [
        "model",
        "board",
        "kernels",
        "core",
        "MHz",
        "MACs",
        "instr",
        "est cycles",
        "cyc/MAC",
        "est ms",
        "RAM KiB",
        "arena",
        "stack",
        "flash KiB",
        "code",
        "const",
        "rest",
        "emu s",
        "host",
        "TFLM",
    ]
    table = []
    for r in rows:
        f = r["flash"]
        table.append(
            [
                r["model"],
                r["board"],
                r["kernels"],
                r["core"].replace("cortex-", ""),
                f"{r['clock_mhz']:g}",
                _m(r["macs"]),
                _m(r["instructions"]),
                _m(r["estimated_cycles"]),
                "-" if r["cycles_per_mac"] is None else f"{r['cycles_per_mac']:.2f}",
                "-" if r["estimated_ms"] is None else f"{r['estimated_ms']:.1f}",
                _kb(r["engine_ram_bytes"]),
                f"{r['arena_bytes']:,}",
                f"{r['stack_high_water_bytes']:,}",
                _kb(f["total_bytes"]),
                _kb(f["engine_code_bytes"]),
                _kb(f["engine_const_bytes"]),
                _kb(f["runtime_bytes"]),
                f"{r['emulator_wall_s']:.2f}",
                "yes" if r["outputs_equal_to_host"] else "NO",
                {True: "yes", False: "NO", None: "n/a"}[r["outputs_equal_to_tflm"]],
            ]
        )
    _print_rows(headers, table, numeric_from=4)


def comparison_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reference kernels next to the optimized family, per model and board that ran both."""
    out = []
    for r in rows:
        if r["kernels"] == "reference":
            continue
        ref = next((x for x in rows if x["model"] == r["model"] and x["board"] == r["board"]
                    and x["kernels"] == "reference"), None)
        if ref is None:
            continue
        cyc_ref, cyc_opt = ref["estimated_cycles"], r["estimated_cycles"]
        out.append({
            "model": r["model"],
            "board": r["board"],
            "core": r["core"],
            "kernels": r["kernels"],
            "macs": r["macs"],
            "reference_instructions": ref["instructions"],
            "optimized_instructions": r["instructions"],
            "instructions_ratio": ref["instructions"] / r["instructions"],
            "reference_estimated_cycles": cyc_ref,
            "optimized_estimated_cycles": cyc_opt,
            "reference_cycles_per_mac": ref["cycles_per_mac"],
            "optimized_cycles_per_mac": r["cycles_per_mac"],
            "cycles_ratio": None if not cyc_ref or not cyc_opt else cyc_ref / cyc_opt,
            "reference_arena_bytes": ref["arena_bytes"],
            "optimized_arena_bytes": r["arena_bytes"],
            "reference_engine_code_bytes": ref["flash"]["engine_code_bytes"],
            "optimized_engine_code_bytes": r["flash"]["engine_code_bytes"],
        })
    return out


def print_comparison(comp: list[dict[str, Any]]) -> None:
    def f2(v: float | None, suffix: str = "") -> str:
        return "-" if v is None else f"{v:.2f}{suffix}"

    headers = ["model", "board", "kernels", "MACs", "instr ref", "instr opt", "ratio", "est cyc ref", "est cyc opt",
               "cyc/MAC ref", "cyc/MAC opt", "ratio", "arena ref", "arena opt", "code ref", "code opt"]
    table = [
        [c["model"], c["board"], c["kernels"], _m(c["macs"]), _m(c["reference_instructions"]),
         _m(c["optimized_instructions"]), f2(c["instructions_ratio"], "x"), _m(c["reference_estimated_cycles"]),
         _m(c["optimized_estimated_cycles"]), f2(c["reference_cycles_per_mac"]), f2(c["optimized_cycles_per_mac"]),
         f2(c["cycles_ratio"], "x"), f"{c['reference_arena_bytes']:,}", f"{c['optimized_arena_bytes']:,}",
         _kb(c["reference_engine_code_bytes"]), _kb(c["optimized_engine_code_bytes"])]
        for c in comp
    ]
    _print_rows(headers, table, numeric_from=3)


def _print_rows(headers: list[str], table: list[list[str]], numeric_from: int) -> None:
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i >= numeric_from else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(fmt(row))


def reference_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our measured instructions next to the quoted TFLM counts, per model we have both for."""
    out = []
    for key, quoted in TFLM_QUOTED.items():
        # Per board, the row of the core's own kernel family (the one `edgekit emulate` runs).
        ours = {r["board"]: r for r in rows if r["model"] == key and r.get("default_kernels", True)}
        if not ours:
            continue
        m4, m55 = ours.get(CORE_ALIASES["m4"]), ours.get(CORE_ALIASES["m55"])
        out.append(
            {
                "model": key,
                "edgekit_m4_instructions": m4["instructions"] if m4 else None,
                "tflm_m4_ref_instructions_quoted": quoted["m4_ref"],
                "tflm_m4_cmsis_nn_instructions_quoted": quoted["m4_cmsis_nn"],
                "edgekit_m55_instructions": m55["instructions"] if m55 else None,
                "tflm_m55_cmsis_nn_mve_instructions_quoted": quoted["m55_cmsis_nn_mve"],
                "edgekit_m4_engine_ram_bytes": m4["engine_ram_bytes"] if m4 else None,
                "tflm_arena_on_target_bytes_quoted": quoted["arena_bytes"],
                "edgekit_m4_engine_code_bytes": m4["flash"]["engine_code_bytes"] if m4 else None,
                "tflm_text_kb_ref_quoted": quoted["text_kb_ref"],
                "tflm_text_kb_cmsis_nn_quoted": quoted["text_kb_cmsis_nn"],
            }
        )
    return out


def print_reference(refs: list[dict[str, Any]]) -> None:
    def ratio(a: int | None, b: int) -> str:
        return "-" if a is None else f"{a / b:.2f}x"

    headers = [
        "model",
        "ours M4",
        "TFLM ref M4 (quoted)",
        "ours/ref",
        "TFLM CMSIS-NN M4 (quoted)",
        "ours/CMSIS",
        "ours M55",
        "TFLM CMSIS-NN M55 (quoted)",
        "ours/CMSIS",
        "ours RAM M4",
        "TFLM arena (quoted)",
    ]
    table = []
    for r in refs:
        m4, m55 = r["edgekit_m4_instructions"], r["edgekit_m55_instructions"]
        ram = r["edgekit_m4_engine_ram_bytes"]
        table.append(
            [
                r["model"],
                _m(m4),
                _m(r["tflm_m4_ref_instructions_quoted"]),
                ratio(m4, r["tflm_m4_ref_instructions_quoted"]),
                _m(r["tflm_m4_cmsis_nn_instructions_quoted"]),
                ratio(m4, r["tflm_m4_cmsis_nn_instructions_quoted"]),
                _m(m55),
                _m(r["tflm_m55_cmsis_nn_mve_instructions_quoted"]),
                ratio(m55, r["tflm_m55_cmsis_nn_mve_instructions_quoted"]),
                "-" if ram is None else f"{ram:,}",
                f"{r['tflm_arena_on_target_bytes_quoted']:,}",
            ]
        )
    _print_rows(headers, table, numeric_from=1)


def _git_commit() -> str | None:
    import subprocess

    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help=f"comma-separated: {', '.join(MODELS)} or .tflite paths (default: all)")
    parser.add_argument("--boards", help=f"comma-separated board names or m4/m7/m33/m55 (default: {', '.join(BOARDS)})")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help="where the shared models are")
    parser.add_argument("--inputs", type=int, default=2, help="random input vectors per run (timing: the first)")
    parser.add_argument("--opt", default="-O2", help="optimisation level (-O2 default, -Os ...)")
    parser.add_argument("--timeout", type=float, default=600.0, help="QEMU timeout per run, seconds")
    parser.add_argument("--kernels", default="reference,target",
                        help="comma-separated kernel families per board: reference, arm_dsp, helium, or target (the "
                        "core's own; default: reference,target)")
    parser.add_argument("--keep", type=Path, help="keep the generated engine and firmware under this folder")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "bench_engine.json")
    args = parser.parse_args()
    if args.inputs < 1:
        sys.exit("bench_engine: --inputs must be at least 1")

    from edgekit.codegen.engine import KERNEL_FAMILIES, build_engine, target_kernel_family
    from edgekit.emulate import EmulationError
    from edgekit.errors import EdgekitError
    from edgekit.ir.analysis import analyze
    from edgekit.ir.tflite_reader import read_tflite
    from edgekit.sweep.cache import engine_sources_digest
    from edgekit.targets import get_target

    models = pick_models(args.models, args.models_dir)
    try:
        targets = [get_target(name) for name in pick_boards(args.boards)]
    except EdgekitError as exc:
        sys.exit(str(exc))

    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    started = time.perf_counter()
    for key, path in models.items():
        model_bytes = path.read_bytes()
        try:
            graph = read_tflite(path)
            engines = {family: build_engine(graph, family=family) for family in KERNEL_FAMILIES}
        except EdgekitError as exc:
            failures.append(f"{key}: {exc}")
            continue
        macs = analyze(graph).total_macs
        for target, family in ((t, f) for t in targets for f in pick_families(args.kernels, t)):
            print(f"  … {key} on {target.name} ({family} kernels)", file=sys.stderr, flush=True)
            try:
                row = bench_one(key, path, model_bytes, graph, macs, engines[family], target, args)
            except (EdgekitError, EmulationError) as exc:
                failures.append(f"{key} on {target.name} ({family}): {exc}")
                continue
            row["default_kernels"] = family == target_kernel_family(target)
            rows.append(row)
            if not row["outputs_equal_to_host"] or row["outputs_equal_to_tflm"] is not True:
                why = row["first_difference"] or "the tflite-micro interpreter is not installed, nothing to compare"
                failures.append(f"{key} on {target.name}: outputs not equal: {why}")
            if row["counting"] != "plugin":
                failures.append(f"{key} on {target.name}: counted with {row['counting']}, not the plugin")
            if row["flash"]["unattributed_bytes"]:
                failures.append(
                    f"{key} on {target.name}: {row['flash']['unattributed_bytes']} flash bytes not "
                    "found in the linker map"
                )
    refs = reference_rows(rows)
    comparison = comparison_rows(rows)

    result = {
        "benchmark": "edgekit C engine in QEMU: instructions measured, cycles and ms estimated",
        "columns": {
            "instructions": "measured: one inference, counted by edgekit's TCG plugin",
            "estimated_cycles": "estimated: per-core cycle model (docs/cycle_model.md) with the board's wait states",
            "cycles_per_mac": "estimated cycles / MACs (edgekit.ir.analysis)",
            "estimated_ms": "estimated cycles / board clock",
            "engine_ram_bytes": "planned arena + stack high-water mark of the emulated run (harness frames included)",
            "flash": "from the linked ELF and its map; embedded test inputs excluded",
            "emulator_wall_s": "QEMU wall time on this machine, all inputs",
        },
        "opt": args.opt,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
        # Which engine this baseline is of: the git commit (sources may differ from it) and a digest of
        # the firmware/ folder and engine, firmware and emulation modules (edgekit.sweep.cache).
        "git_commit": _git_commit(),
        "engine_sources_sha256": engine_sources_digest(),
        "wall_s": round(time.perf_counter() - started, 2),
        "rows": rows,
        "kernels_comparison": comparison,
        "tflm_quoted": {"source": TFLM_QUOTED_SOURCE, "note": "quoted, not measured by this script", "rows": refs},
        "failures": failures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    if rows:
        first = rows[0]
        print(
            f"edgekit engine, arm-none-eabi-gcc {first['gcc_version']} {first['opt']}, {first['qemu_version']}; "
            f"instr measured, cycles/ms estimated; {args.inputs} input(s) per run"
        )
        print()
        print_table(rows)
        print()
        print(
            "RAM = arena + stack high water; flash = code + const + rest (start-up, harness, libc), test inputs "
            "excluded; KiB = 1024 B"
        )
    if comparison:
        print()
        print("Reference kernels vs the core's optimized family (ratio = reference / optimized):")
        print()
        print_comparison(comparison)
    if refs:
        print()
        print(f"For reference, TFLM instruction counts QUOTED (not measured here) from {TFLM_QUOTED_SOURCE}:")
        print()
        print_reference(refs)
    print(f"\nwrote {args.out} ({result['wall_s']:.1f} s)")
    if failures:
        print("\nFAILED:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
