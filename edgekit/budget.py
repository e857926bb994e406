"""Does a model fit a board? RAM and flash, line by line, each line saying where its figure comes from.

Engine `tflm` (TensorFlow Lite Micro, the user's own firmware):
  RAM   = tensor arena (measured by the tflite-micro interpreter) + interpreter overhead + reserve
  flash = model bytes + TFLM runtime code + reserve
On a Raspberry Pi (kind = "linux") the model runs with LiteRT in a Python process:
  RAM     = LiteRT's peak resident memory with the model minus without it (measured in subprocesses
            on the host, edgekit.pi.memory: working memory + kernel code paged in) + the model file
            + the board's OS reserve
  storage = model file + the installed LiteRT and NumPy (their installed file sizes on the host)

Every verdict also carries a latency line: a figure per inference (`latency_ms`, with its basis)
checked against `--max-latency-ms`. A verdict without a figure says "no latency figure" instead of
passing the check silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
# Latency line states (report.json `latency.status`).
LATENCY_NO_BUDGET = "no budget"
LATENCY_NO_FIGURE = "no latency figure"
LATENCY_WITHIN = "within budget"
LATENCY_OVER = "over budget"


@dataclass(frozen=True)
class BudgetLine:
    item: str
    ram_bytes: int
    flash_bytes: int
    basis: str
    method: str = ""  # how a measured figure was obtained, when the basis alone does not say

    def basis_text(self) -> str:
        return f"{self.basis}: {self.method}" if self.method else self.basis

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "item": self.item,
            "ram_bytes": self.ram_bytes,
            "flash_bytes": self.flash_bytes,
            "basis": self.basis,
        }
        if self.method:
            data["method"] = self.method
        return data


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
    # Time per inference on this board, and how it was obtained ("estimated: ..."). None: no figure.
    # Emulation fills these in through `with_latency`; the budget comes from `with_latency_budget`.
    latency_ms: float | None = None
    latency_basis: str = ""
    max_latency_ms: float | None = None  # --max-latency-ms; None: latency not budgeted

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
    def latency_status(self) -> str:
        if self.max_latency_ms is None:
            return LATENCY_NO_BUDGET
        if self.latency_ms is None:
            return LATENCY_NO_FIGURE
        return LATENCY_WITHIN if self.latency_ms <= self.max_latency_ms else LATENCY_OVER

    @property
    def fits_latency(self) -> bool | None:
        """None when there is no budget or no figure to check it with: unknown, not a pass."""
        status = self.latency_status
        return None if status in (LATENCY_NO_BUDGET, LATENCY_NO_FIGURE) else status == LATENCY_WITHIN

    @property
    def fits(self) -> bool:
        return self.fits_ram and self.fits_flash and not self.unsupported_ops and self.fits_latency is not False

    def latency_text(self) -> str:
        """The latency line of the verdict, short enough for a table cell."""
        figure = "-" if self.latency_ms is None else f"{self.latency_ms:.4g} ms"
        budget = self.max_latency_ms
        status = self.latency_status
        if status == LATENCY_NO_BUDGET:
            return figure
        if status == LATENCY_NO_FIGURE:
            return f"no latency figure (budget {budget:g} ms)"
        return f"{figure} {'<=' if status == LATENCY_WITHIN else '>'} {budget:g} ms"

    def reason(self) -> str:
        if self.unsupported_ops:
            if self.engine == "litert":
                return f"LiteRT cannot run the model: {'; '.join(self.unsupported_ops)}"
            return f"engine {self.engine} has no kernel for {', '.join(self.unsupported_ops)}"
        parts = []
        if not self.fits_ram:
            parts.append(f"RAM over by {-self.ram_headroom:,} B")
        if not self.fits_flash:
            parts.append(f"flash over by {-self.flash_headroom:,} B")
        if self.fits_latency is False:
            parts.append(f"latency {self.latency_ms:.4g} ms over the {self.max_latency_ms:g} ms budget")
        if parts:
            return "; ".join(parts)
        if self.latency_status == LATENCY_NO_FIGURE:
            return "fits; latency not checked: no latency figure for this board"
        return "fits"

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
            "latency": {
                "ms": None if self.latency_ms is None else round(self.latency_ms, 6),
                "basis": self.latency_basis or None,
                "budget_ms": self.max_latency_ms,
                "status": self.latency_status,
                "fits": self.fits_latency,
            },
            "lines": [line.to_dict() for line in self.lines],
            "notes": list(self.notes),
            "unsupported_ops": list(self.unsupported_ops),
        }


def with_latency(verdict: Verdict, ms: float | None, basis: str) -> Verdict:
    """The verdict with a latency figure per inference, e.g. one estimated in emulation."""
    return replace(verdict, latency_ms=ms, latency_basis=basis if ms is not None else "")


def with_latency_budget(verdict: Verdict, max_ms: float | None) -> Verdict:
    """The verdict checked against a latency budget (None: no budget)."""
    return replace(verdict, max_latency_ms=max_ms)


@dataclass(frozen=True)
class ModelFootprint:
    """What the budget needs to know of the model, whatever produced the figures."""

    model_bytes: int
    tflm_arena_bytes: int  # the arena to reserve: measured smallest working arena plus headroom
    arena_basis: str  # how the arena figure was obtained


def tflm_verdict(target: Target, footprint: ModelFootprint) -> Verdict:
    if not target.is_mcu:
        raise ValueError(f"{target.name} is a Linux board: its verdict is linux_verdict()")
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


@dataclass(frozen=True)
class LinuxFootprint:
    """What a Raspberry Pi budget needs: the model run with LiteRT in a Python process."""

    model_bytes: int
    runtime_ram_bytes: int  # LiteRT's working memory for this model (anonymous pages), the file aside
    ram_basis: str  # MEASURED (peak RSS in subprocesses) or PLANNED (the arena, when it could not run)
    ram_method: str  # how runtime_ram_bytes was obtained, in words
    code_ram_bytes: int | None = None  # LiteRT kernel code paged in to run the model; None: not measured
    code_method: str = ""
    bare_runtime_bytes: int | None = None  # the Python + LiteRT process without a model (OS reserve covers it)
    install_bytes: int = 0  # LiteRT and NumPy installed on the storage
    install_method: str = ""
    # Time per inference on the board: filled in by emulation once it estimates Linux boards.
    latency_ms: float | None = None
    latency_basis: str = ""


def linux_verdict(target: Target, footprint: LinuxFootprint) -> Verdict:
    """A Raspberry Pi: LiteRT in a Python process next to the OS, the bundle on the storage budget."""
    lines = [
        BudgetLine("model file (read into memory)", footprint.model_bytes, footprint.model_bytes, FILE_SIZE),
        BudgetLine(
            "LiteRT working memory for this model (tensors, arena, packed weights)",
            footprint.runtime_ram_bytes,
            0,
            footprint.ram_basis,
            footprint.ram_method,
        ),
    ]
    if footprint.code_ram_bytes is not None:
        lines.append(
            BudgetLine(
                "LiteRT kernel code paged in to run it", footprint.code_ram_bytes, 0, MEASURED, footprint.code_method
            )
        )
    lines += [
        BudgetLine("LiteRT and NumPy installed", 0, footprint.install_bytes, MEASURED, footprint.install_method),
        BudgetLine("operating system reserve", target.reserved_ram_bytes, target.reserved_flash_bytes, FROM_TARGET),
    ]
    notes = []
    if footprint.bare_runtime_bytes is not None:
        # To the nearest 10 MB: its file-backed pages move with the page cache by ~0.2 MB
        # (edgekit.pi.memory), and a report must be the same bytes for the same model.
        notes.append(
            f"The Python process with NumPy and LiteRT but no model peaked at about "
            f"{round(footprint.bare_runtime_bytes / 10e6) * 10} MB on the host: the board's operating system "
            "reserve is meant to cover it."
        )
    if footprint.ram_basis == MEASURED:
        notes.append(
            "Resident memory was measured on the x86-64 host with the same LiteRT version; the aarch64 "
            "build on the board was not measured and may differ (code size, XNNPACK's packed weights)."
        )
    verdict = Verdict(target.name, target.title, "litert", target.ram_bytes, target.flash_bytes, lines, notes)
    return with_latency(verdict, footprint.latency_ms, footprint.latency_basis)


def litert_failed_verdict(target: Target, problem: str) -> Verdict:
    """LiteRT could not load or run the model: the board cannot run it as deployed."""
    return Verdict(target.name, target.title, "litert", target.ram_bytes, target.flash_bytes, [], [], [problem])


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
