"""Flash and static RAM of a generated engine, read from its compiled objects (not estimated).

Compiles each .c file of the engine folder on its own (as a firmware build would, before linking)
and sums the ELF sections `size -A` reports: code (.text), constants (.rodata: weights, biases,
requantization arrays, parameter structs), initialised data (.data) and zeroed data (.bss: the
arena). Linking adds only what the firmware itself brings (startup, libc's memmove/memcpy).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.codegen.engine_host import write_folder

CORTEX_M4_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16")


@dataclass
class EngineSizes:
    compiler: str
    flags: tuple[str, ...]
    text_bytes: int  # code
    rodata_bytes: int  # const data
    data_bytes: int
    bss_bytes: int

    @property
    def flash_bytes(self) -> int:
        return self.text_bytes + self.rodata_bytes + self.data_bytes

    @property
    def static_ram_bytes(self) -> int:
        return self.data_bytes + self.bss_bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "compiler": self.compiler,
            "flags": list(self.flags),
            "text_bytes": self.text_bytes,
            "rodata_bytes": self.rodata_bytes,
            "data_bytes": self.data_bytes,
            "bss_bytes": self.bss_bytes,
            "flash_bytes": self.flash_bytes,
            "static_ram_bytes": self.static_ram_bytes,
        }


def _size_tool(compiler: str) -> str:
    prefix = compiler[: -len("gcc")] if compiler.endswith("gcc") else ""
    return shutil.which(prefix + "size") or shutil.which("size") or "size"


def measure_engine_sizes(files: Mapping[str, bytes], compiler: str = "arm-none-eabi-gcc",
                         flags: Sequence[str] = (*CORTEX_M4_FLAGS, "-Os")) -> EngineSizes:
    """Section sizes of the engine folder `files` compiled with `compiler`; raises RuntimeError when
    the compiler is missing or fails."""
    cc = shutil.which(compiler)
    if cc is None:
        raise RuntimeError(f"{compiler} is not installed")
    sections = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    with tempfile.TemporaryDirectory(prefix="edgekit-size-") as tmp:
        folder = write_folder(files, tmp)
        objects = []
        for src in sorted(folder.glob("*.c")):
            obj = src.with_suffix(".o")
            proc = subprocess.run([cc, "-std=c99", *flags, "-c", str(src), "-o", str(obj)], capture_output=True,
                                  text=True, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"{compiler} failed on {src.name}: {proc.stderr[-2000:]}")
            objects.append(str(obj))
        out = subprocess.run([_size_tool(compiler), "-A", *objects], capture_output=True, text=True,
                             check=True).stdout
    for line in out.splitlines():
        m = re.match(r"^\.(text|rodata|data|bss)(\.\S*)?\s+(\d+)", line.strip())
        if m:
            sections[m.group(1)] += int(m.group(3))
    return EngineSizes(Path(cc).name, tuple(flags), sections["text"], sections["rodata"], sections["data"],
                       sections["bss"])
