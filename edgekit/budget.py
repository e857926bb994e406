"""Does a model fit a board? RAM and flash, line by line, each line saying where its figure comes from.

Engine `tflm` (TensorFlow Lite Micro, the user's own firmware):
  RAM   = tensor arena (measured by the tflite-micro interpreter) + interpreter overhead + reserve
  flash = model bytes + TFLM runtime code + reserve
On a Raspberry Pi (kind = "linux") the check is simpler for now: the model file and arena in RAM
next to the runtime, the bundle on the storage budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgekit.targets import Target

MEASURED = "measured"
PLANNED = "planned"
DOCUMENTED = "documented estimate"
FROM_TARGET = "target file"
FILE_SIZE = "file size"

# RAM that the TFLM runtime needs outside the tensor arena: the MicroInterpreter and
# MicroAllocator objects, the op resolver's registration table and the call stack of Invoke().
# Objects: about 1 KiB for a 32-bit build; stack: the reference kernels' deepest frames are
# well under 2 KiB. Rounded up to 4 KiB until the firmware step measures it from a real build.
TFLM_RUNTIME_RAM = 4 * 1024
# TFLM's code in flash. The largest `.text` measured for a whole TFLM build over the shared
# reference models was 44.9 KB (int8 CMSIS-NN kernels, ../shared/TOOLCHAIN.md); the reference
# kernels measured 14-37 KB depending on the op set. The largest, rounded up, is the budget.
TFLM_RUNTIME_FLASH = 46 * 1024
# A Raspberry Pi runs the model with LiteRT in a Python process: the interpreter library and
# the Python runtime resident in memory (an estimate until the Pi issue measures it), and the
# installed runtime on the SD card.
LITERT_PROCESS_RAM = 64 * 1024 * 1024
LITERT_INSTALL_BYTES = 40 * 1024 * 1024


@dataclass(frozen=True)
class BudgetLine:
    item: str
    ram_bytes: int
    flash_bytes: int
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item, "ram_bytes": self.ram_bytes, "flash_bytes": self.flash_bytes, "basis": self.basis}


@dataclass(frozen=True)
class Verdict:
    target: str
    title: str
    engine: str
    ram_available: int
    flash_available: int
    lines: list[BudgetLine]
    notes: list[str] = field(default_factory=list)
    unsupported_ops: list[str] = field(default_factory=list)  # the engine cannot run the model at all

    @property
    def ram_used(self) -> int:
        return sum(line.ram_bytes for line in self.lines)

    @property
    def flash_used(self) -> int:
        return sum(line.flash_bytes for line in self.lines)

    @property
    def ram_headroom(self) -> int:
        return self.ram_available - self.ram_used

    @property
    def flash_headroom(self) -> int:
        return self.flash_available - self.flash_used

    @property
    def fits_ram(self) -> bool:
        return self.ram_headroom >= 0

    @property
    def fits_flash(self) -> bool:
        return self.flash_headroom >= 0

    @property
    def fits(self) -> bool:
        return self.fits_ram and self.fits_flash and not self.unsupported_ops

    def reason(self) -> str:
        if self.unsupported_ops:
            return f"engine {self.engine} has no kernel for {', '.join(self.unsupported_ops)}"
        if self.fits:
            return "fits"
        parts = []
        if not self.fits_ram:
            parts.append(f"RAM over by {-self.ram_headroom:,} B")
        if not self.fits_flash:
            parts.append(f"flash over by {-self.flash_headroom:,} B")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "title": self.title,
            "engine": self.engine,
            "fits": self.fits,
            "reason": self.reason(),
            "ram": {
                "used_bytes": self.ram_used,
                "available_bytes": self.ram_available,
                "headroom_bytes": self.ram_headroom,
                "fits": self.fits_ram,
            },
            "flash": {
                "used_bytes": self.flash_used,
                "available_bytes": self.flash_available,
                "headroom_bytes": self.flash_headroom,
                "fits": self.fits_flash,
            },
            "lines": [line.to_dict() for line in self.lines],
            "notes": list(self.notes),
            "unsupported_ops": list(self.unsupported_ops),
        }


@dataclass(frozen=True)
class ModelFootprint:
    """What the budget needs to know of the model, whatever produced the figures."""

    model_bytes: int
    tflm_arena_bytes: int  # the arena to reserve: measured smallest working arena plus headroom
    arena_basis: str  # how the arena figure was obtained


def tflm_verdict(target: Target, footprint: ModelFootprint) -> Verdict:
    if not target.is_mcu:
        return _linux_verdict(target, footprint)
    lines = [
        BudgetLine("model (int8 .tflite as a C array)", 0, footprint.model_bytes, FILE_SIZE),
        BudgetLine(
            "tensor arena (measured + 1/32 headroom, as in model_arena.h)",
            footprint.tflm_arena_bytes,
            0,
            footprint.arena_basis,
        ),
        BudgetLine("TFLM interpreter objects and stack", TFLM_RUNTIME_RAM, 0, DOCUMENTED),
        BudgetLine("TFLM runtime code", 0, TFLM_RUNTIME_FLASH, DOCUMENTED),
        BudgetLine("application reserve", target.reserved_ram_bytes, target.reserved_flash_bytes, FROM_TARGET),
    ]
    notes = [
        "The arena was measured by the tflite-micro interpreter on a 64-bit host; a 32-bit core needs a "
        "few percent less (its persistent structures hold 32-bit pointers), so this figure errs on the safe side."
    ]
    return Verdict(target.name, target.title, "tflm", target.ram_bytes, target.flash_bytes, lines, notes)


def unsupported_verdict(target: Target, engine: str, missing: list[str]) -> Verdict:
    """The engine cannot run the model: no figures, and it does not fit whatever the sizes."""
    return Verdict(target.name, target.title, engine, target.ram_bytes, target.flash_bytes, [], [], list(missing))


def _linux_verdict(target: Target, footprint: ModelFootprint) -> Verdict:
    lines = [
        BudgetLine("model file (loaded into memory)", footprint.model_bytes, footprint.model_bytes, FILE_SIZE),
        BudgetLine("tensor arena", footprint.tflm_arena_bytes, 0, footprint.arena_basis),
        BudgetLine("LiteRT runtime in a Python process", LITERT_PROCESS_RAM, LITERT_INSTALL_BYTES, DOCUMENTED),
        BudgetLine("operating system reserve", target.reserved_ram_bytes, target.reserved_flash_bytes, FROM_TARGET),
    ]
    notes = ["Raspberry Pi check is coarse: the runtime's resident memory is an estimate, not a measurement yet."]
    return Verdict(target.name, target.title, "litert", target.ram_bytes, target.flash_bytes, lines, notes)


# The engine's call stack when no emulation measured it: the deepest reference kernel frame plus the
# layer function and invoke, measured at 100-200 B in emulation on the shared models; 2 KiB covers
# them with room for the application's own frames above.
EDGEKIT_STACK_ESTIMATE = 2 * 1024


@dataclass(frozen=True)
class EngineFootprint:
    """edgekit engine figures for one target, from the generated code or from a firmware run."""

    arena_bytes: int  # planned static arena
    const_bytes: int  # weights, biases, requantization tables
    code_bytes: int | None  # kernels + generated glue, from compiled objects; None when not compiled
    firmware_flash_bytes: int | None = None  # measured from a linked ELF (test inputs excluded)
    firmware_ram_bytes: int | None = None  # .data + .bss + measured stack high-water


def edgekit_verdict(target: Target, footprint: EngineFootprint) -> Verdict:
    if footprint.firmware_flash_bytes is not None and footprint.firmware_ram_bytes is not None:
        lines = [
            BudgetLine(
                "firmware: .text + .rodata + .data (linked ELF, test inputs excluded)",
                0,
                footprint.firmware_flash_bytes,
                MEASURED,
            ),
            BudgetLine(
                "firmware: .data + .bss (incl. the static arena) + stack high-water",
                footprint.firmware_ram_bytes,
                0,
                MEASURED,
            ),
        ]
        notes = [
            "Figures from the firmware built with arm-none-eabi-gcc and run in QEMU; they include the "
            "startup code and the small run harness."
        ]
    else:
        code = footprint.code_bytes
        lines = [
            BudgetLine("static arena (edgekit's plan)", footprint.arena_bytes, 0, PLANNED),
            BudgetLine("call stack", EDGEKIT_STACK_ESTIMATE, 0, DOCUMENTED),
            BudgetLine("weights and constants", 0, footprint.const_bytes, PLANNED),
            BudgetLine(
                "engine code (kernels + generated glue)",
                0,
                code if code is not None else 16 * 1024,
                MEASURED if code is not None else DOCUMENTED,
            ),
        ]
        notes = [
            "Engine code size "
            + (
                "measured from the objects compiled with arm-none-eabi-gcc -Os."
                if code is not None
                else "estimated (no cross compiler found)."
            )
        ]
    lines.append(BudgetLine("application reserve", target.reserved_ram_bytes, target.reserved_flash_bytes, FROM_TARGET))
    return Verdict(target.name, target.title, "edgekit", target.ram_bytes, target.flash_bytes, lines, notes)
