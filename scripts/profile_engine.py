"""Where the estimated cycles of the edgekit engine go on an emulated Cortex-M: the hottest code.

A developer's tool for kernel work (issue 11), not a benchmark: it builds and emulates one model on one
board as scripts/bench_engine.py does, then lists the translated blocks that cost the most estimated
cycles (docs/cycle_model.md), with their layer, function, executions, cycles per execution and, with
--disasm, their instructions. Per layer it also prints MACs, estimated cycles, cycles/MAC and the flash
stall share, so that a kernel's overhead outside its inner loop is visible.

Run: .venv/bin/python scripts/profile_engine.py kws nucleo-l4r5zi [--family arm_dsp] [--top 25]
        [--layer 1] [--disasm]
"""

from __future__ import annotations

import argparse
import bisect
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

from bench_engine import MODELS, MODELS_DIR  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help=f"one of {', '.join(MODELS)} or a .tflite path")
    parser.add_argument("board", help="a board name from targets/")
    parser.add_argument("--family", default=None, help="kernel family (default: the board core's)")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--layer", type=int, default=None, help="only blocks charged to this layer")
    parser.add_argument("--disasm", action="store_true", help="print each listed block's instructions")
    args = parser.parse_args()

    from edgekit.codegen.engine import generate_engine, target_kernel_family
    from edgekit.codegen.engine_host import write_folder
    from edgekit.emulate import cycles as cycle_model
    from edgekit.emulate.isa import disassemble
    from edgekit.emulate.plugin import build_plugin, parse_counts, read_symbols, region_map
    from edgekit.emulate.qemu import REGION_OUTSIDE, _run_qemu, find_qemu
    from edgekit.firmware import build_firmware, find_toolchain
    from edgekit.ir.analysis import analyze
    from edgekit.ir.tflite_reader import read_tflite
    from edgekit.on_board import random_inputs
    from edgekit.targets import get_target

    path = Path(args.model) if args.model.endswith(".tflite") else MODELS_DIR / MODELS[args.model]
    graph = read_tflite(path)
    target = get_target(args.board)
    family = args.family or target_kernel_family(target)
    timing = cycle_model.timing_for(target.core)
    macs_per_layer = {layer.index: layer.macs for layer in analyze(graph).layers}

    with tempfile.TemporaryDirectory(prefix="edgekit-profile-") as tmp_name:
        tmp = Path(tmp_name)
        engine_dir = write_folder(generate_engine(graph, "model", family), tmp / "engine")
        build = build_firmware(engine_dir, target, random_inputs(graph, 1), tmp / "firmware")
        regions = region_map(build.elf, build.name)
        run = _run_qemu(find_qemu(), build, target, tmp, 300.0, build_plugin(), regions)
        if run.returncode != 0:
            print(run.console[-2000:], file=sys.stderr)
            return 1
        counts = parse_counts(tmp / "counts.txt")
        table = disassemble(build.elf, find_toolchain().objdump, target.core)
        funcs, _ = read_symbols(build.elf)

    syms = sorted(funcs.values(), key=lambda s: s.addr)
    starts = [s.addr for s in syms]

    def where(addr: int) -> str:
        i = bisect.bisect_right(starts, addr & ~1) - 1
        if i >= 0 and addr < syms[i].addr + syms[i].size:
            return f"{syms[i].name}+0x{addr - syms[i].addr:x}"
        return f"0x{addr:x}"

    names = {layer.region: f"L{layer.index} {layer.op}" for layer in regions.layers}
    index_of = {layer.region: layer.index for layer in regions.layers}
    segment = counts.segments[1]
    rows = []
    layer_cycles: dict[int, float] = defaultdict(float)
    for (block_id, region), (executions, taken) in segment.counts.items():
        if region == REGION_OUTSIDE:
            continue
        block = counts.blocks[block_id]
        insns, addr = [], block.pc
        for raw in block.insn_bytes:
            insns.append(table.get(addr))
            addr += len(raw)
        per_exec = cycle_model.block_cycles(insns, timing)
        last = insns[-1] if insns else None
        taken = cycle_model.taken_branches(last, taken)
        total = executions * per_exec + taken * cycle_model.branch_penalty(last, timing)
        layer_cycles[region] += total
        if args.layer is None or index_of.get(region) == args.layer:
            rows.append((total, block, region, executions, taken, per_exec, insns))

    print(f"{path.name} on {target.name} ({target.core}, {family} kernels, {target.flash_wait_states} wait states)")
    print(f"{'layer':<24} {'MACs':>9} {'cycles':>10} {'flash stall':>11} {'cyc/MAC':>8}")
    grand = 0.0
    for layer in regions.layers:
        _reads, misses = segment.flash.get(layer.region, (0, 0))
        stall = cycle_model.flash_stall_cycles(misses, target.flash_wait_states)
        cyc = layer_cycles.get(layer.region, 0.0) + stall
        grand += cyc
        macs = macs_per_layer.get(layer.index, 0)
        per_mac = f"{cyc / macs:8.2f}" if macs else f"{'-':>8}"
        print(f"{names[layer.region]:<24} {macs:>9} {cyc:>10.0f} {stall:>11.0f} {per_mac}")
    total_macs = sum(macs_per_layer.values())
    print(f"{'all layers':<24} {total_macs:>9} {grand:>10.0f} {'':>11} {grand / max(total_macs, 1):8.2f}\n")

    rows.sort(key=lambda r: -r[0])
    for total, block, region, executions, taken, per_exec, insns in rows[: args.top]:
        label = names.get(region, "glue/outside")
        print(f"{total:>10.0f}  {executions:>8}x {per_exec:5.1f}  taken {taken:>7}  {label:<22} {where(block.pc)}")
        if args.disasm:
            for insn in insns:
                text = f"{insn.mnemonic} {insn.operands}" if insn is not None else "?"
                cls = insn.cls if insn is not None else "unknown"
                print(f"{'':>14}{text:<44} {cls}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
