"""Instruction classes for the cycle model, from the toolchain's own disassembler.

`arm-none-eabi-objdump` decodes every Thumb-2, DSP, FP, Helium (MVE) and low-overhead-loop encoding
the compiler can emit, so classes are assigned from its mnemonics rather than from a decoder of our
own. The plugin reports each executed block's address and instruction bytes; every instruction is
looked up here by address (and its size checked against the bytes QEMU executed).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import EdgekitError

# Fine classes; the cycle model prices each. `summary_classes` folds them for reports.
CLASSES = (
    "alu",  # data processing, moves, compares, IT, saturation, extends, hints
    "load",  # single loads, LDRD, VLDR (scalar FP)
    "store",
    "load_multiple",  # LDM, POP, VLDM, VPOP: cost grows with the register count
    "store_multiple",  # STM, PUSH, VSTM, VPUSH
    "mul",  # 32-bit result: MUL, MLA, MLS
    "mul_long",  # 64-bit result: SMULL, UMULL, SMLAL, UMLAL, SMLALD ...
    "mac_dsp",  # DSP multiply(-accumulate): SMLAD, SMUAD, SMLABB, SMULBB, SMMLA ...
    "simd",  # DSP SIMD on core registers: SADD16, QSUB8, SXTB16, PKHBT, SEL, USADA8 ...
    "div",  # SDIV, UDIV
    "branch",  # B, BL, BX, BLX, CBZ, TBB, LE (its taken count comes from the plugin)
    "fp",  # scalar floating point
    "fp_mac",  # VMLA, VFMA and kin
    "fp_div",  # VDIV, VSQRT
    "mve_load",  # Helium loads (VLDRB.. on Q registers, VLD2x/VLD4x, gathers)
    "mve_store",
    "mve_mac",  # Helium multiplies and multiply-accumulates (VMLADAV, VMLA, VQDMULH ...)
    "mve_alu",  # other Helium vector operations
    "sys",  # barriers, MRS/MSR, BKPT, SVC, WFI
    "unknown",  # not found in the disassembly (code outside the ELF): priced as alu
)

# The simd_* names are AArch64 classes (edgekit/emulate/isa_a64.py), folded the same way.
SUMMARY = {
    "loads": ("load", "load_multiple", "mve_load", "simd_load"),
    "stores": ("store", "store_multiple", "mve_store", "simd_store"),
    "multiplies_macs": ("mul", "mul_long", "mac_dsp", "fp_mac", "mve_mac", "simd_mul"),
    "simd": ("simd", "mve_alu", "simd_alu"),
    "branches": ("branch",),
    "divides": ("div", "fp_div"),
    "other": ("alu", "fp", "sys", "unknown"),
}

# objdump's -m machine for each core: the ELF attributes alone do not switch on MVE decoding.
_OBJDUMP_MACHINE = {
    "cortex-m0plus": "armv6s-m",
    "cortex-m3": "armv7e-m",  # objdump has no armv7-m machine; v7E-M decodes a superset
    "cortex-m4": "armv7e-m",
    "cortex-m7": "armv7e-m",
    "cortex-m33": "armv8-m.main",
    "cortex-m55": "armv8.1-m.main",
}

_COND = r"(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?"
# VPT-block suffix on Helium instructions (then/else).
_VPT = r"[te]?"

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (cls, re.compile(pattern))
    for cls, pattern in [
        ("branch", rf"b{_COND}|bl|blx|bx|blxns|bxns|cbn?z|tb[bh]|le|letp"),
        ("div", rf"[su]div{_COND}"),
        ("mul", rf"muls?{_COND}|ml[as]{_COND}"),
        ("mul_long", rf"(?:[su]mulls?|[su]mlals?|umaal|smlal[bt][bt]|sml[as]ldx?){_COND}"),
        (
            "mac_dsp",
            rf"(?:smla[bt][bt]|smlaw[bt]|smul[bt][bt]|smulw[bt]|smladx?|smlsdx?|smuadx?|smusdx?|smm(?:ul|la|ls)r?){_COND}",
        ),
        (
            "simd",
            rf"(?:(?:s|q|sh|u|uq|uh)(?:add8|add16|sub8|sub16|asx|sax)|[su]xtab16|[su]xtb16|sel|usada?8|[su]sat16|pkh(?:bt|tb)){_COND}",
        ),
        ("load_multiple", rf"(?:ldm(?:ia|db|fd|ea)?|pop){_COND}"),
        ("store_multiple", rf"(?:stm(?:ia|db|fd|ea)?|push){_COND}"),
        ("load", rf"(?:ldr(?:b|h|sb|sh|d|ex|exb|exh|exd|t|bt|ht|sbt|sht)?|lda(?:b|h|ex|exb|exh|exd)?){_COND}"),
        ("store", rf"(?:str(?:b|h|d|ex|exb|exh|exd|t|bt|ht)?|stl(?:b|h|ex|exb|exh|exd)?){_COND}"),
        ("sys", rf"(?:dmb|dsb|isb|mrs|msr|cpsi[de]|svc|bkpt|wfi|wfe|sev|udf|sg|tt\w*){_COND}"),
    ]
]

_MVE_RULES: list[tuple[str, re.Pattern[str]]] = [
    (cls, re.compile(pattern))
    for cls, pattern in [
        ("mve_load", rf"(?:vldr[bhwd]|vld[24][0-3]){_VPT}"),
        ("mve_store", rf"(?:vstr[bhwd]|vst[24][0-3]){_VPT}"),
        ("mve_mac", rf"(?:vml[as]\w*|vrml[as]\w*|v\w*mul\w*|vq\w*ml[as]\w*|vfm[as]\w*|vfmas){_VPT}"),
    ]
]

_FP_RULES: list[tuple[str, re.Pattern[str]]] = [
    (cls, re.compile(pattern))
    for cls, pattern in [
        ("load", rf"vldr{_COND}"),
        ("store", rf"vstr{_COND}"),
        ("load_multiple", rf"(?:vldm(?:ia|db)?|vpop){_COND}"),
        ("store_multiple", rf"(?:vstm(?:ia|db)?|vpush){_COND}"),
        ("fp_div", rf"(?:vdiv|vsqrt){_COND}"),
        ("fp_mac", rf"(?:vn?ml[as]|vf?n?m[as]|vfn?m[as]){_COND}"),
        ("sys", rf"(?:vmrs|vmsr){_COND}"),
        ("alu", r"vpst|vpnot|vctp|dlstp|wlstp"),  # Helium predication and loop set-up: scalar work
    ]
]

_Q_REG = re.compile(r"\bq\d+\b")
_REG_LIST = re.compile(r"\{([^}]*)\}")
_LINE = re.compile(r"^\s*([0-9a-f]+):\s+((?:[0-9a-f]{4}\s)+)\s*(\S+)\s*(.*)$")


@dataclass(frozen=True)
class Insn:
    """One instruction of the firmware as the disassembler sees it."""

    addr: int
    size: int
    data: bytes  # the encoding as stored in memory
    mnemonic: str
    operands: str
    cls: str
    regs: int  # registers (32-bit words) moved by a load/store multiple; 1 otherwise
    writes_pc: bool


def classify(mnemonic: str, operands: str) -> tuple[str, int, bool]:
    """(class, words moved, writes the PC) for one disassembled instruction."""
    base = mnemonic.lower().split(".", 1)[0]
    ops = operands.lower().split("@", 1)[0].strip()
    cls = "alu"
    if base.startswith("v"):
        if _Q_REG.search(ops) or re.fullmatch(rf"(?:vldr[bhwd]|vstr[bhwd]|vld[24][0-3]|vst[24][0-3]){_VPT}", base):
            cls = next((c for c, rx in _MVE_RULES if rx.fullmatch(base)), "mve_alu")
        else:
            cls = next((c for c, rx in _FP_RULES if rx.fullmatch(base)), "fp")
    else:
        cls = next((c for c, rx in _RULES if rx.fullmatch(base)), "alu")

    regs = 1
    if cls in ("load_multiple", "store_multiple"):
        regs = _count_regs(ops)
    elif base.startswith(("ldrd", "strd", "ldaexd", "ldrexd", "strexd", "stlexd")):
        regs = 2

    first = ops.split(",", 1)[0].strip()
    if cls == "branch":
        writes_pc = True
    elif cls == "load_multiple":
        reg_list = _REG_LIST.search(ops)
        writes_pc = reg_list is not None and "pc" in reg_list.group(1)
    else:
        writes_pc = cls in ("load", "alu") and first == "pc"
    return cls, regs, writes_pc


def _count_regs(ops: str) -> int:
    match = _REG_LIST.search(ops)
    if not match:
        return 1
    count = 0
    for part in match.group(1).split(","):
        part = part.strip()
        if not part:
            continue
        width = 2 if part.startswith("d") else 1  # a D register is two words
        if "-" in part:
            lo, hi = (p.strip() for p in part.split("-", 1))
            try:
                count += (int(hi[1:]) - int(lo[1:]) + 1) * width
            except ValueError:
                count += width
        else:
            count += width
    return max(count, 1)


def disassemble(elf: Path, objdump: Path, core: str) -> dict[int, Insn]:
    """Every instruction of the ELF's code, keyed by address."""
    machine = _OBJDUMP_MACHINE.get(core, "armv8.1-m.main")
    proc = subprocess.run([str(objdump), "-d", "-m", machine, str(elf)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EdgekitError(elf, f"objdump failed: {proc.stderr.strip()[:200]}")
    table: dict[int, Insn] = {}
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        addr_hex, raw, mnemonic, operands = match.groups()
        if mnemonic.startswith("."):  # literal pool data: .word, .short
            continue
        addr = int(addr_hex, 16)
        # objdump shows Thumb halfwords as numbers; memory holds each little-endian.
        data = b"".join(int(half, 16).to_bytes(2, "little") for half in raw.split())
        cls, regs, writes_pc = classify(mnemonic, operands)
        table[addr] = Insn(addr, len(data), data, mnemonic, operands.strip(), cls, regs, writes_pc)
    return table


def summary_classes(counts: dict[str, int]) -> dict[str, int]:
    """Fold fine classes into the headline ones reports show."""
    return {name: sum(counts.get(c, 0) for c in members) for name, members in SUMMARY.items()}
