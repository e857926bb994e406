"""Firmware for a microcontroller board: find the Arm toolchain, compile and link a generated model
with edgekit's start-up code and run harness, and read its real sizes from the linked ELF.

The generated model folder holds `NAME.h`, `NAME.c` and kernel `.c` files; the harness calls
`NAME_invoke` on input vectors embedded in a generated `inputs.h`. Everything is built with the
board's own `-mcpu/-mfpu/-mfloat-abi` (`Target.gcc_flags()`) and linked with the linker script of the
QEMU machine that emulates the board, so the same `.elf` runs in `edgekit.emulate`.

The same model and inputs can also be compiled for the host (`build_host`/`run_host`), which is the
reference the emulated outputs must equal byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgekit.errors import EdgekitError
from edgekit.outdir import write_atomic
from edgekit.resources import data_dir
from edgekit.targets import Target

TOOLCHAIN_PREFIX = "arm-none-eabi-"
# Where to look for the cross tools before $PATH (a folder holding arm-none-eabi-gcc etc.).
TOOLCHAIN_ENV = "EDGEKIT_ARM_TOOLCHAIN"
INSTALL_HINT = "install gcc-arm-none-eabi and libnewlib-arm-none-eabi (scripts/setup.sh)"

OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3", "-Os", "-Oz")

# Warnings are errors in edgekit's own C; the generated model only has them reported, so a new
# warning in a compiler upgrade does not stop a user's build.
_OWN_CFLAGS = ("-Wall", "-Wextra", "-Werror")
_MODEL_CFLAGS = ("-Wall", "-Wextra")
_COMMON_CFLAGS = ("-std=c99", "-ffunction-sections", "-fdata-sections", "-fno-common")
_LDFLAGS = (
    "-nostartfiles",
    "--specs=nano.specs",
    "-Wl,--gc-sections",
    # The image region is RAM on most QEMU machines, which binutils >= 2.39 flags as RWX; expected here.
    "-Wl,--no-warn-rwx-segments",
)
_LIBS = ("-lc", "-lgcc")

_FIRMWARE_FILES = ("firmware.elf", "firmware.bin", "firmware.hex", "firmware.map")


@dataclass(frozen=True)
class Toolchain:
    """The cross tools; `gcc` also drives the linker."""

    gcc: Path
    objcopy: Path
    objdump: Path
    version: str


@dataclass(frozen=True)
class SectionSizes:
    """Bytes by kind, summed over the linked ELF's allocated sections."""

    text: int  # code, including the vector table and unwinding tables
    rodata: int  # constants: weights, quantization tables, embedded test vectors
    data: int  # initialised variables: flash image copied to RAM at reset
    bss: int  # zero-initialised variables, including the engine's arena

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def static_ram(self) -> int:
        return self.data + self.bss

    def as_dict(self) -> dict[str, int]:
        return {"text": self.text, "rodata": self.rodata, "data": self.data, "bss": self.bss}


@dataclass(frozen=True)
class FirmwareBuild:
    """A linked firmware for one board, and what it contains."""

    out_dir: Path
    elf: Path
    bin: Path
    hex: Path
    map: Path
    name: str  # the model's C name: NAME_invoke, NAME_layer_...
    target_name: str
    core: str
    qemu_machine: str
    opt: str
    flags: tuple[str, ...]  # the code-generation flags used (-mcpu ... and -O)
    n_inputs: int
    input_size: int
    output_size: int
    sizes: SectionSizes  # whole ELF, measured
    test_vector_bytes: int  # the embedded inputs: in .rodata here, not in a real application
    gcc_version: str
    model_warnings: tuple[str, ...] = field(default=())

    @property
    def flash_bytes(self) -> int:
        """Flash the application needs: code, constants and .data's load image, test vectors excluded."""
        return self.sizes.flash - self.test_vector_bytes

    def ram_bytes(self, stack_high_water: int) -> int:
        """RAM: .data + .bss plus the stack high-water mark measured in a run."""
        return self.sizes.static_ram + stack_high_water

    def as_dict(self) -> dict[str, object]:
        return {
            "elf": str(self.elf),
            "name": self.name,
            "target": self.target_name,
            "core": self.core,
            "qemu_machine": self.qemu_machine,
            "opt": self.opt,
            "flags": list(self.flags),
            "n_inputs": self.n_inputs,
            "input_size": self.input_size,
            "output_size": self.output_size,
            "sections": self.sizes.as_dict(),
            "test_vector_bytes": self.test_vector_bytes,
            "flash_bytes": self.flash_bytes,
            "static_ram_bytes": self.sizes.static_ram,
            "gcc_version": self.gcc_version,
        }


def firmware_dir() -> Path:
    """edgekit's C sources for the device side: startup/, ld/, harness/, qemu_plugin/."""
    return data_dir("firmware")


def find_toolchain() -> Toolchain:
    """arm-none-eabi-gcc and friends, from $EDGEKIT_ARM_TOOLCHAIN or $PATH."""
    folder = os.environ.get(TOOLCHAIN_ENV, "").strip()
    search = [folder] if folder else []

    def tool(name: str) -> Path:
        full = TOOLCHAIN_PREFIX + name
        found = shutil.which(full, path=os.pathsep.join(search)) if search else None
        found = found or shutil.which(full)
        if not found:
            raise EdgekitError(full, f"not found on PATH; {INSTALL_HINT}")
        return Path(found)

    gcc = tool("gcc")
    objcopy = tool("objcopy")
    objdump = tool("objdump")
    proc = subprocess.run([str(gcc), "-dumpfullversion"], capture_output=True, text=True, check=False)
    version = proc.stdout.strip() or "unknown"
    return Toolchain(gcc=gcc, objcopy=objcopy, objdump=objdump, version=version)


def linker_script(machine: str) -> Path:
    script = firmware_dir() / "ld" / f"{machine}.ld"
    if not script.is_file():
        raise EdgekitError(script, f"no linker script for QEMU machine {machine!r}")
    return script


def build_firmware(
    model_dir: Path,
    target: Target,
    inputs: np.ndarray,
    out_dir: Path,
    opt: str = "-O2",
    name: str = "model",
) -> FirmwareBuild:
    """Compile the generated model in `model_dir` with the run harness for `target` into `out_dir`.

    Writes firmware.elf, .bin, .hex and .map (each through a temporary file and a rename). `inputs`
    is int8, one row per input vector. The .bin holds the image that sits in the board's flash
    region; on mps3-an547 the 64-byte vector table lives in the ITCM apart from it (see the .elf/.hex).
    """
    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    if not target.is_mcu:
        raise EdgekitError(
            target.source, f"board {target.name!r} is a Linux board; firmware is built for microcontrollers"
        )
    opt = opt if opt.startswith("-") else f"-{opt}"
    if opt not in OPT_LEVELS:
        raise EdgekitError(None, f"unknown optimisation level {opt!r}; use one of: {', '.join(OPT_LEVELS)}")
    header, source = model_dir / f"{name}.h", model_dir / f"{name}.c"
    for path in (header, source):
        if not path.is_file():
            raise EdgekitError(path, f"missing: {model_dir} is not a generated model named {name!r}")
    vectors = _check_inputs(inputs, header, name)
    toolchain = find_toolchain()
    fw = firmware_dir()
    script = linker_script(target.qemu_machine)

    out_dir.mkdir(parents=True, exist_ok=True)
    # A fixed folder name (not a random temp name) keeps the map file byte-identical between builds.
    work = out_dir / ".build"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        (work / "inputs.h").write_text(_inputs_header(vectors, name), encoding="utf-8")
        code_flags = [*target.gcc_flags(), opt]
        includes = [f"-I{work}", f"-I{model_dir}", f"-I{fw / 'startup'}"]
        units: list[tuple[Path, Path, tuple[str, ...]]] = []
        for c_file in sorted(model_dir.rglob("*.c")):
            rel = c_file.relative_to(model_dir).with_suffix(".o")
            units.append((c_file, work / ("model__" + "__".join(rel.parts)), _MODEL_CFLAGS))
        for c_file in [*sorted((fw / "startup").glob("*.c")), fw / "harness" / "main.c"]:
            units.append((c_file, work / f"edgekit__{c_file.parent.name}__{c_file.stem}.o", _OWN_CFLAGS))

        def compile_one(unit: tuple[Path, Path, tuple[str, ...]]) -> str:
            c_file, obj, warn = unit
            cmd = [
                str(toolchain.gcc),
                *code_flags,
                *_COMMON_CFLAGS,
                *warn,
                *includes,
                "-c",
                str(c_file),
                "-o",
                str(obj),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise EdgekitError(c_file, f"arm-none-eabi-gcc failed: {_first_error(proc.stderr)}")
            return proc.stderr

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            warnings = list(pool.map(compile_one, units))
        model_warnings = tuple(
            line
            for text, unit in zip(warnings, units, strict=True)
            if unit[2] is _MODEL_CFLAGS
            for line in text.splitlines()
            if "warning:" in line
        )

        elf_tmp = work / "firmware.elf"
        map_tmp = work / "firmware.map"
        link = [
            str(toolchain.gcc),
            *code_flags,
            *_LDFLAGS,
            f"-L{script.parent}",
            f"-T{script.name}",
            f"-Wl,-Map={map_tmp}",
            *(str(unit[1]) for unit in units),
            *_LIBS,
            "-o",
            str(elf_tmp),
        ]
        proc = subprocess.run(link, capture_output=True, text=True, check=False, cwd=work)
        if proc.returncode != 0:
            raise EdgekitError(
                model_dir, f"linking for {target.name} ({target.qemu_machine}) failed: {_link_problem(proc.stderr)}"
            )

        bin_tmp, hex_tmp = work / "firmware.bin", work / "firmware.hex"
        flash_sections = _flash_sections(elf_tmp)
        _run(
            [
                str(toolchain.objcopy),
                "-O",
                "binary",
                *(f"--only-section={s}" for s in flash_sections),
                str(elf_tmp),
                str(bin_tmp),
            ],
            elf_tmp,
        )
        _run([str(toolchain.objcopy), "-O", "ihex", str(elf_tmp), str(hex_tmp)], elf_tmp)
        sizes, test_bytes = read_sizes(elf_tmp)
        # The harness's buffers are NAME_INPUT_SIZE / NAME_OUTPUT_SIZE bytes: the linked ELF knows the
        # sizes even when the header spells them as expressions.
        output_size = _symbol_size(elf_tmp, "ek_output")
        for file_name in _FIRMWARE_FILES:
            write_atomic(out_dir / file_name, (work / file_name).read_bytes())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return FirmwareBuild(
        out_dir=out_dir,
        elf=out_dir / "firmware.elf",
        bin=out_dir / "firmware.bin",
        hex=out_dir / "firmware.hex",
        map=out_dir / "firmware.map",
        name=name,
        target_name=target.name,
        core=target.core,
        qemu_machine=target.qemu_machine,
        opt=opt,
        flags=tuple(code_flags),
        n_inputs=vectors.shape[0],
        input_size=vectors.shape[1],
        output_size=output_size,
        sizes=sizes,
        test_vector_bytes=test_bytes,
        gcc_version=toolchain.version,
        model_warnings=model_warnings,
    )


def read_sizes(elf: Path) -> tuple[SectionSizes, int]:
    """Section sizes of a linked ELF by kind, and the size of the embedded test vectors."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    text = rodata = data = bss = 0
    test_bytes = 0
    with open(elf, "rb") as f:
        elf_file = ELFFile(f)
        for section in elf_file.iter_sections():
            flags = section["sh_flags"]
            if not flags & SH_FLAGS.SHF_ALLOC or section["sh_size"] == 0:
                continue
            size = section["sh_size"]
            if section.name == ".vectors" or flags & SH_FLAGS.SHF_EXECINSTR:
                text += size
            elif section["sh_type"] == "SHT_NOBITS":
                bss += size
            elif flags & SH_FLAGS.SHF_WRITE:
                data += size
            else:
                rodata += size
        symtab = elf_file.get_section_by_name(".symtab")
        if symtab is not None:
            for sym in symtab.get_symbol_by_name("ek_inputs") or []:
                test_bytes = sym["st_size"]
    return SectionSizes(text=text, rodata=rodata, data=data, bss=bss), test_bytes


# ---- host reference build ------------------------------------------------------------------------


def build_host(model_dir: Path, inputs: np.ndarray, out_dir: Path, name: str = "model", cc: str = "cc") -> Path:
    """Compile the same model and inputs for this computer; returns the executable's path."""
    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    header = model_dir / f"{name}.h"
    if not header.is_file():
        raise EdgekitError(header, f"missing: {model_dir} is not a generated model named {name!r}")
    compiler = shutil.which(cc)
    if not compiler:
        raise EdgekitError(cc, "host C compiler not found on PATH; install gcc (build-essential)")
    vectors = _check_inputs(inputs, header, name)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "inputs.h").write_text(_inputs_header(vectors, name), encoding="utf-8")
    exe = out_dir / "host_run"
    sources = [str(p) for p in sorted(model_dir.rglob("*.c"))]
    cmd = [
        compiler,
        "-O2",
        "-std=c99",
        "-Wall",
        "-Wextra",
        f"-I{out_dir}",
        f"-I{model_dir}",
        str(firmware_dir() / "harness" / "host_main.c"),
        *sources,
        "-o",
        str(exe),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EdgekitError(model_dir, f"host build failed: {_first_error(proc.stderr)}")
    return exe


def run_host(
    model_dir: Path, inputs: np.ndarray, out_dir: Path, name: str = "model", timeout_s: float = 60
) -> np.ndarray:
    """Outputs of the model compiled for this computer, one int8 row per input: the reference."""
    exe = build_host(model_dir, inputs, out_dir, name)
    try:
        proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise EdgekitError(exe, f"host run did not finish within {timeout_s:g} s") from None
    if proc.returncode != 0:
        raise EdgekitError(exe, f"host run failed with exit code {proc.returncode}: {proc.stderr.strip()[:200]}")
    from edgekit.emulate.harness import parse_harness_output

    return parse_harness_output(proc.stdout, np.asarray(inputs).reshape(len(inputs), -1).shape[0]).outputs


# ---- helpers ---------------------------------------------------------------------------------


def _check_inputs(inputs: np.ndarray, header: Path, name: str) -> np.ndarray:
    arr = np.asarray(inputs)
    if arr.dtype != np.int8:
        raise EdgekitError(None, f"firmware inputs must be int8 (the quantized model's input), got {arr.dtype}")
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise EdgekitError(None, "firmware needs at least one non-empty input vector")
    expected = _macro_int(header, f"{name}_INPUT_SIZE")
    if expected is None:
        expected = _macro_int(header, f"{name.upper()}_INPUT_SIZE")
    if expected is not None and arr.shape[1] != expected:
        raise EdgekitError(header, f"input vectors have {arr.shape[1]} values but {name}_INPUT_SIZE is {expected}")
    return arr


def _symbol_size(elf: Path, symbol: str) -> int:
    from elftools.elf.elffile import ELFFile

    with open(elf, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        found = symtab.get_symbol_by_name(symbol) if symtab is not None else None
    if not found:
        raise EdgekitError(elf, f"the linked firmware has no symbol {symbol!r}")
    return int(found[0]["st_size"])


def _macro_int(header: Path, macro: str) -> int | None:
    match = re.search(
        rf"^\s*#\s*define\s+{re.escape(macro)}\s+\(?\s*(\d+)[uUlL]*\s*\)?\s*$", header.read_text(errors="replace"), re.M
    )
    return int(match.group(1)) if match else None


def _inputs_header(vectors: np.ndarray, name: str) -> str:
    n, size = vectors.shape
    rows = []
    for row in vectors:
        values = ",".join(str(int(v)) for v in row)
        rows.append(f"    {{{values}}},")
    return "\n".join(
        [
            "/* Generated by edgekit: input vectors for the run harness. */",
            "#ifndef EDGEKIT_INPUTS_H",
            "#define EDGEKIT_INPUTS_H",
            "#include <stdint.h>",
            f'#include "{name}.h"',
            f'#define EK_MODEL_NAME "{name}"',
            f"#define EK_INVOKE {name}_invoke",
            # The engine's contract spells the sizes NAME_INPUT_SIZE; upper-case NAME is accepted too.
            *_size_macro("EK_INPUT_SIZE", f"{name}_INPUT_SIZE", f"{name.upper()}_INPUT_SIZE"),
            *_size_macro("EK_OUTPUT_SIZE", f"{name}_OUTPUT_SIZE", f"{name.upper()}_OUTPUT_SIZE"),
            f"#define EK_N_INPUTS {n}",
            "/* Fails to compile when the vectors do not match the model's input size. */",
            f"typedef char ek_input_size_matches[(EK_INPUT_SIZE == {size}) ? 1 : -1];",
            "/* Not static: the host reads this symbol's size to keep test vectors out of the flash figure. */",
            "const int8_t ek_inputs[EK_N_INPUTS][EK_INPUT_SIZE] = {",
            *rows,
            "};",
            "#endif",
            "",
        ]
    )


def _size_macro(alias: str, *candidates: str) -> list[str]:
    lines = []
    for i, macro in enumerate(dict.fromkeys(candidates)):
        lines += [f"#{'el' if i else ''}if defined({macro})", f"#define {alias} ({macro})"]
    return [*lines, "#else", f'#error "the model header defines none of {", ".join(candidates)}"', "#endif"]


def _flash_sections(elf: Path) -> list[str]:
    """Sections that make up the flash image (the .bin): everything loaded outside RAM and ITCM."""
    from elftools.elf.constants import SH_FLAGS
    from elftools.elf.elffile import ELFFile

    names = []
    with open(elf, "rb") as f:
        elf_file = ELFFile(f)
        vectors = elf_file.get_section_by_name(".vectors")
        text = elf_file.get_section_by_name(".text")
        # When the vector table is far from the code (mps3-an547 resets from the ITCM) a .bin holding
        # both would be mostly padding, so it holds only the image in the flash region.
        split = vectors is not None and text is not None and abs(text["sh_addr"] - vectors["sh_addr"]) > 0x100000
        for section in elf_file.iter_sections():
            if not section["sh_flags"] & SH_FLAGS.SHF_ALLOC or section["sh_type"] == "SHT_NOBITS":
                continue
            if split and section.name == ".vectors":
                continue
            names.append(section.name)
    return names


def _run(cmd: list[str], path: Path) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EdgekitError(path, f"{Path(cmd[0]).name} failed: {_first_error(proc.stderr)}")


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return line
    return lines[0] if lines else "no message"


def _link_problem(stderr: str) -> str:
    if "nano.specs" in stderr or "cannot find -lc" in stderr:
        return f"newlib is missing; {INSTALL_HINT}"
    overflow = re.search(r"region `(\w+)' overflowed by (\d+) bytes", stderr)
    if overflow:
        return (
            f"the firmware does not fit the emulated machine's {overflow.group(1)} (over by {overflow.group(2)} bytes)"
        )
    return _first_error(stderr)
