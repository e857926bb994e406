"""edgekit's QEMU TCG plugin (firmware/qemu_plugin/edgekit_count.c): building it, telling it which
code belongs to which layer, and reading what it counted.

The plugin is compiled with the host C compiler at first use into a cache folder keyed by a hash of
its source and the compiler's version, so an upgrade of either rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgekit.firmware import firmware_dir

CACHE_ENV = "EDGEKIT_CACHE_DIR"
PLUGIN_SOURCE = "qemu_plugin/edgekit_count.c"

# Region numbers the plugin uses: 0 = not the model (start-up, harness), 1 = NAME_invoke's own code.
REGION_OUTSIDE = 0
REGION_GLUE = 1
FIRST_LAYER_REGION = 2

# Flash accelerator the wait-state model assumes: 8 lines of 16 bytes, LRU (STM32's ART data cache
# has 8 lines of 128 bits; smaller than any other cache on the boards we describe).
FLASH_LINE_BYTES = 16
FLASH_LINES = 8


class PluginUnavailable(Exception):
    """The counting plugin cannot be built or loaded here; the caller falls back to -icount."""


def cache_dir() -> Path:
    override = os.environ.get(CACHE_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "edgekit"


def build_plugin() -> Path:
    """The compiled plugin, built now if the cache does not hold this version yet."""
    source = firmware_dir() / PLUGIN_SOURCE
    if not source.is_file():
        raise PluginUnavailable(f"plugin source {source} is missing")
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        raise PluginUnavailable("no host C compiler (cc/gcc) to build the counting plugin")
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256(source.read_bytes() + version.encode()).hexdigest()[:16]
    target = cache_dir() / "qemu_plugin" / key / "edgekit_count.so"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        # A read-only home (CI containers): build into a per-process temporary folder instead.
        target = Path(tempfile.mkdtemp(prefix="edgekit-plugin-")) / "edgekit_count.so"
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    cmd = [
        cc,
        "-shared",
        "-fPIC",
        "-O2",
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-fvisibility=hidden",
        str(source),
        "-o",
        str(tmp),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:200])
        raise PluginUnavailable(f"building the counting plugin failed: {first}")
    os.replace(tmp, target)  # atomic: a concurrent run sees the old file or the whole new one
    return target


@dataclass(frozen=True)
class Symbol:
    name: str
    addr: int
    size: int


@dataclass(frozen=True)
class Layer:
    region: int
    index: int  # the NNN of NAME_layer_NNN_op
    op: str
    symbol: str


@dataclass
class RegionMap:
    """Which address ranges start which region, and the entry that starts an inference."""

    invoke_entry: int
    ranges: list[tuple[int, int, int]]  # (region, lo, hi)
    layers: list[Layer]
    flash: tuple[int, int]

    def region_names(self, name: str) -> dict[int, str]:
        names = {REGION_OUTSIDE: "(outside the model)", REGION_GLUE: f"{name}_invoke"}
        names.update({layer.region: layer.symbol for layer in self.layers})
        return names

    def write(self, path: Path) -> None:
        lines = [f"I {self.invoke_entry:x}"]
        lines += [f"R {region} {lo:x} {hi:x}" for region, lo, hi in self.ranges]
        lines.append(f"F {self.flash[0]:x} {self.flash[1]:x} {FLASH_LINE_BYTES} {FLASH_LINES}")
        path.write_text("\n".join(lines) + "\n", encoding="ascii")


def read_symbols(elf: Path) -> tuple[dict[str, Symbol], dict[str, int]]:
    """Function symbols (Thumb bit cleared) and plain address symbols of a linked ELF."""
    from elftools.elf.elffile import ELFFile

    funcs: dict[str, Symbol] = {}
    plain: dict[str, int] = {}
    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        if symtab is None:
            return funcs, plain
        for sym in symtab.iter_symbols():
            kind = sym["st_info"]["type"]
            if kind == "STT_FUNC" and sym["st_size"] > 0:
                funcs[sym.name] = Symbol(sym.name, sym["st_value"] & ~1, sym["st_size"])
            elif sym.name:
                plain[sym.name] = sym["st_value"]
    return funcs, plain


def region_map(elf: Path, name: str) -> RegionMap:
    """Layer functions NAME_layer_NNN_op, NAME_invoke and the harness's own functions, from the ELF."""
    from elftools.elf.elffile import ELFFile

    funcs, plain = read_symbols(elf)
    invoke = funcs.get(f"{name}_invoke")
    if invoke is None:
        raise ValueError(f"no function {name}_invoke in the firmware")
    layer_rx = re.compile(rf"^{re.escape(name)}_layer_(\d+)_(\w+?)(\.cold(?:\.\d+)?)?$")
    found: dict[str, tuple[int, str]] = {}
    parts: dict[str, list[Symbol]] = {}
    for sym in funcs.values():
        match = layer_rx.match(sym.name)
        if match:
            base = sym.name.split(".", 1)[0]
            found[base] = (int(match.group(1)), match.group(2))
            parts.setdefault(base, []).append(sym)
    layers = [
        Layer(FIRST_LAYER_REGION + i, index, op, base)
        for i, (base, (index, op)) in enumerate(sorted(found.items(), key=lambda kv: (kv[1][0], kv[0])))
    ]
    ranges: list[tuple[int, int, int]] = []
    for harness_fn in ("main", "run_once"):
        if harness_fn in funcs:
            sym = funcs[harness_fn]
            ranges.append((REGION_OUTSIDE, sym.addr, sym.addr + sym.size))
    ranges.append((REGION_GLUE, invoke.addr, invoke.addr + invoke.size))
    for layer in layers:
        for sym in parts[layer.symbol]:
            ranges.append((layer.region, sym.addr, sym.addr + sym.size))

    with open(elf, "rb") as f:
        elf_file = ELFFile(f)
        text = elf_file.get_section_by_name(".text")
        lo = text["sh_addr"] if text is not None else plain.get("__flash_start", 0)
    hi = plain.get("__flash_end", lo)
    return RegionMap(invoke_entry=invoke.addr, ranges=ranges, layers=layers, flash=(lo, hi))


@dataclass
class Block:
    pc: int
    insn_bytes: list[bytes]


@dataclass
class Segment:
    counts: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)  # (block, region) -> (exec, taken)
    flash: dict[int, tuple[int, int]] = field(default_factory=dict)  # region -> (reads, misses)


@dataclass
class PluginCounts:
    blocks: dict[int, Block]
    segments: list[Segment]  # [0] before the first inference, [k] the k-th inference
    last_region: int | None
    last_pc: int | None
    complete: bool  # the plugin wrote its closing line (QEMU exited normally)


def parse_counts(path: Path) -> PluginCounts:
    blocks: dict[int, Block] = {}
    segments: list[Segment] = []
    last_region = last_pc = None
    complete = False
    if not path.is_file():
        return PluginCounts(blocks, segments, None, None, False)
    with open(path, encoding="ascii", errors="replace") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            tag = parts[0]
            if tag == "T" and len(parts) == 4:
                blocks[int(parts[1])] = Block(int(parts[2], 16), [bytes.fromhex(b) for b in parts[3].split(",")])
            elif tag == "S":
                segments.append(Segment())
            elif tag == "C" and segments:
                segments[-1].counts[(int(parts[1]), int(parts[2]))] = (int(parts[3]), int(parts[4]))
            elif tag == "M" and segments:
                segments[-1].flash[int(parts[1])] = (int(parts[2]), int(parts[3]))
            elif tag == "L":
                last_region, last_pc = int(parts[1]), int(parts[2], 16)
            elif tag == "E":
                complete = True
    return PluginCounts(blocks, segments, last_region, last_pc, complete)
