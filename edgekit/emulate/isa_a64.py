"""AArch64 instruction classes and register operands for the Cortex-A cycle models, from
`aarch64-linux-gnu-objdump -d` (the toolchain's own decoder, as `isa.py` does for Thumb).

Besides a class, each instruction gets the registers it reads and writes (general registers by
number, vector registers as `v<n>`, the condition flags as `nzcv`), so that the cycle models can
follow dependence chains: the in-order Cortex-A53 stalls on them, and on the out-of-order A72/A76
the loop-carried ones bound a loop's speed.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgekit.errors import EdgekitError

CLASSES = (
    "alu",  # integer data processing, moves, compares, conditional selects, address generation
    "mul",  # MUL, MADD, MSUB, SMULL, SMADDL, SMULH ...
    "div",  # SDIV, UDIV
    "load",  # loads to general registers (LDR, LDRSB, LDUR, LDP ...)
    "store",
    "branch",  # B, B.cond, BL, BR, BLR, RET, CBZ, CBNZ, TBZ, TBNZ
    "fp",  # scalar floating point and conversions
    "simd_load",  # loads to vector registers (LD1.., LDR q/d/s)
    "simd_store",
    "simd_mul",  # vector multiplies and multiply-accumulates (MUL, MLA, SMLAL, SQRDMULH, SDOT ...)
    "simd_alu",  # other vector operations (ADD, SXTL, DUP, INS, ADDV, ZIP ...)
    "sys",  # SVC, barriers, MRS/MSR
    "unknown",  # not in the disassembly: priced as alu
)
# Reports fold these with edgekit.emulate.isa.summary_classes, which knows the simd_* names.


_BRANCH = re.compile(r"b|b\.\w+|bl|br|blr|ret|cbn?z|tbn?z|braa\w*|reta\w*")
_MUL = re.compile(r"mul|madd|msub|mneg|[su]mull|[su]maddl|[su]msubl|[su]mnegl|[su]mulh")
_DIV = re.compile(r"[su]div")
_LOAD = re.compile(r"ld(?:r|ur|p|np|xr|axr|ar|apr)\w*|prfm|prfum")
_STORE = re.compile(r"st(?:r|ur|p|np|xr|lxr|lr)\w*")
_SIMD_LOAD = re.compile(r"ld[1-4]r?")
_SIMD_STORE = re.compile(r"st[1-4]")
_SIMD_MUL = re.compile(
    r"(?:[su]?q?r?d?mul\w*|ml[as]|[su]ml[as]l2?|[su]q?dml[as]l2?|sqr?dml[as]h|[su]dot|usdot|pmull2?|fmla|fmls|fmul\w*)"
)
_SYS = re.compile(r"svc|hvc|brk|hlt|dmb|dsb|isb|mrs|msr|sys\w*|wf[ei]|sev\w*|yield")
_FP_SCALAR_REG = re.compile(r"^[sdh]\d+$")

_VEC_REG = re.compile(r"\b([vqdshb])(\d+)(?:\.\w+)?(?:\[\d+\])?")
_GPR = re.compile(r"\b([xw])(\d+)\b")
_LINE = re.compile(r"^\s*([0-9a-f]+):\s+([0-9a-f]{8})\s+(\S+)\s*(.*)$")
# The 128-bit arrangements: such a vector instruction uses the full width of a 128-bit pipe (two
# passes on the A53's 64-bit NEON datapath).
_Q_FORM = re.compile(r"\.(?:16b|8h|4s|2d)\b|\bq\d+\b")

# Instructions that write condition flags without a register result, and those that read them.
_FLAG_WRITERS = re.compile(r"cmp|cmn|tst|ccmp|ccmn|fcmpe?|fccmpe?|adds|subs|ands|bics|adcs|sbcs|negs")
_FLAG_READERS = re.compile(r"b\.\w+|csel|csinc|csinv|csneg|cset|csetm|cinc|cinv|cneg|ccmp|ccmn|adc|adcs|sbc|sbcs|fcsel")
_NO_DEST = re.compile(r"cmp|cmn|tst|ccmp|ccmn|fcmpe?|fccmpe?|prfm|prfum|nop|hint")
# Destination is also read: accumulates and partial writes.
_DEST_READ = re.compile(
    r"ml[as]|[su]ml[as]l2?|[su]q?dml[as]l2?|sqr?dml[as]h|[su]dot|usdot|fml[as]|ins|movk|bfi|bfxil|bsl|bit|bif"
    r"|[su]adalp|[su]aba\w*|sri|sli|xtn2|sqxtn2|uqxtn2|sqxtun2"
)


@dataclass(frozen=True)
class A64Insn:
    """One AArch64 instruction as the disassembler sees it."""

    addr: int
    data: bytes  # the 4-byte encoding as stored in memory (little endian)
    mnemonic: str
    operands: str
    cls: str
    q_form: bool  # a 128-bit vector operation
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    accumulates: bool  # a multiply-accumulate whose accumulator is its destination
    writeback: str | None = None  # base register a pre/post-indexed load or store updates


    @property
    def size(self) -> int:
        return 4


def _registers(text: str) -> list[str]:
    regs: list[str] = []
    for match in re.finditer(r"\b(?:[xw](\d+)|sp|wsp|([vqdshb])(\d+)(?:\.\w+)?(?:\[\d+\])?)", text):
        token = match.group(0)
        if match.group(1) is not None:
            regs.append(f"r{match.group(1)}")
        elif token in ("sp", "wsp"):
            regs.append("sp")
        elif match.group(3) is not None:
            regs.append(f"v{match.group(3)}")
    return regs


def _split_operands(ops: str) -> list[str]:
    """Top-level comma-separated operands; a {list} or [address] stays one operand."""
    parts, depth, current = [], 0, ""
    for ch in ops:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def classify(mnemonic: str, operands: str) -> tuple[str, bool, tuple[str, ...], tuple[str, ...], bool, str | None]:
    """(class, 128-bit vector, registers read, registers written, accumulates, write-back base)."""
    m = mnemonic.lower()
    ops = operands.lower().split("//", 1)[0].split("<", 1)[0].strip()
    parts = _split_operands(ops)
    vector = bool(re.search(r"\bv\d+\.", ops)) or bool(re.search(r"\bq\d+\b", ops))
    first = parts[0] if parts else ""
    fp_scalar = bool(_FP_SCALAR_REG.match(first)) or (m.startswith("f") and not vector)

    if _BRANCH.fullmatch(m):
        cls = "branch"
    elif _SYS.fullmatch(m):
        cls = "sys"
    elif _SIMD_LOAD.fullmatch(m):
        cls = "simd_load"
    elif _SIMD_STORE.fullmatch(m):
        cls = "simd_store"
    elif _LOAD.fullmatch(m):
        cls = "simd_load" if _VEC_REG.fullmatch(first) and not _GPR.fullmatch(first) else "load"
    elif _STORE.fullmatch(m):
        cls = "simd_store" if _VEC_REG.fullmatch(first) and not _GPR.fullmatch(first) else "store"
    elif vector:
        cls = "simd_mul" if _SIMD_MUL.fullmatch(m) else "simd_alu"
    elif fp_scalar or m.startswith(("scvtf", "ucvtf", "fcvt", "fmov")):
        cls = "fp"
    elif _DIV.fullmatch(m):
        cls = "div"
    elif _MUL.fullmatch(m):
        cls = "mul"
    else:
        cls = "alu"
    q_form = vector and bool(_Q_FORM.search(ops))

    reads: list[str] = []
    writes: list[str] = []
    writeback: str | None = None
    if cls in ("load", "simd_load"):
        # Destinations come first (a {list} for LD1..), then the address.
        address = next((p for p in parts if p.startswith("[")), "")
        for p in parts:
            if p is address or p.startswith("#"):
                continue
            if p.startswith("[") or (address and parts.index(p) > parts.index(address)):
                reads += _registers(p)  # post-index register offset
            else:
                writes += _registers(p)
        base = _registers(address)
        reads += base
        if base and (address.endswith("!") or parts.index(address) < len(parts) - 1):
            writes.append(base[0])  # pre/post-index write-back of the base
            writeback = base[0]
    elif cls in ("store", "simd_store"):
        address = next((p for p in parts if p.startswith("[")), "")
        for p in parts:
            reads += _registers(p)
        base = _registers(address)
        if base and (address.endswith("!") or (address and parts.index(address) < len(parts) - 1)):
            writes.append(base[0])
            writeback = base[0]
        if m.startswith(("stxr", "stlxr")) and parts:
            writes += _registers(parts[0])  # status result
    elif cls == "branch":
        for p in parts:
            reads += _registers(p)
        if m in ("bl", "blr"):
            writes.append("r30")
    else:
        if parts and not _NO_DEST.fullmatch(m):
            writes += _registers(parts[0])
            for p in parts[1:]:
                reads += _registers(p)
            if _DEST_READ.fullmatch(m):
                reads += _registers(parts[0])
        else:
            for p in parts:
                reads += _registers(p)
    if _FLAG_READERS.fullmatch(m):
        reads.append("nzcv")
    if _FLAG_WRITERS.fullmatch(m):
        writes.append("nzcv")
    accumulates = cls in ("simd_mul", "mul") and (bool(_DEST_READ.fullmatch(m)) or m in ("madd", "msub"))
    # Zero registers carry no dependence; `r31` only appears as xzr/wzr, which _registers skips.
    return cls, q_form, tuple(dict.fromkeys(reads)), tuple(dict.fromkeys(writes)), accumulates, writeback


def disassemble(elf: Path, objdump: Path) -> dict[int, A64Insn]:
    """Every instruction of the ELF's code, keyed by address."""
    raw = subprocess.run([str(objdump), "-d", "-z", str(elf)], capture_output=True, text=True, check=False)
    if raw.returncode != 0:
        raise EdgekitError(elf, f"objdump failed: {raw.stderr.strip()[:200]}")
    table: dict[int, A64Insn] = {}
    for line in raw.stdout.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        addr_hex, word, mnemonic, operands = match.groups()
        if mnemonic.startswith(".") or mnemonic == "udf":
            continue
        cls, q_form, reads, writes, acc, writeback = classify(mnemonic, operands)
        addr = int(addr_hex, 16)
        table[addr] = A64Insn(addr, int(word, 16).to_bytes(4, "little"), mnemonic, operands.strip(), cls, q_form,
                              reads, writes, acc, writeback)
    return table


