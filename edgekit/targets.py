"""Board targets: one TOML file per board, read into frozen `Target` records.

Board facts live only in `targets/*.toml` (DESIGN.md, "one fact, one place"); this module checks them
strictly so a typo in a user's board file is reported at load time, naming the file, instead of
surfacing later as a wrong budget. Only the standard library is imported here because `edgekit
targets` and `edgekit check` must start fast and never pull in TensorFlow.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError
from edgekit.resources import data_dir

ENV_VAR = "EDGEKIT_TARGETS_DIR"

KINDS = ("mcu", "linux")

# The QEMU machine that runs each microcontroller core. The emulation stage ships startup code and
# linker scripts per machine, so a board file may not pick another one.
MCU_QEMU_MACHINES: dict[str, str] = {
    "cortex-m0plus": "microbit",  # a Cortex-M0: same ARMv6-M instruction set as the M0+
    "cortex-m3": "mps2-an385",
    "cortex-m4": "mps2-an386",
    "cortex-m7": "mps2-an500",
    "cortex-m33": "mps2-an505",
    "cortex-m55": "mps3-an547",
}
LINUX_CORES = ("cortex-a53", "cortex-a72", "cortex-a76")
LINUX_QEMU_MACHINE = "aarch64-user"
CORES = (*MCU_QEMU_MACHINES, *LINUX_CORES)

# FPU choices that make sense with each core's -mcpu. The M55's FPU and Helium come with -mcpu, so its
# only value is gcc's "auto". AArch64 has no -mfpu: "neon" only records that FP/SIMD is there.
_FPUS: dict[str, tuple[str, ...]] = {
    "cortex-m0plus": ("none",),
    "cortex-m3": ("none",),
    "cortex-m4": ("none", "fpv4-sp-d16"),
    "cortex-m7": ("none", "fpv5-sp-d16", "fpv5-d16"),
    "cortex-m33": ("none", "fpv5-sp-d16"),
    "cortex-m55": ("auto",),
    "cortex-a53": ("neon",),
    "cortex-a72": ("neon",),
    "cortex-a76": ("neon",),
}
FLOAT_ABIS = ("hard", "softfp", "soft")

# Which values of `dsp` each core admits: the DSP extension is built into the M4 and M7, optional on
# the M33 and M55 (gcc's +nodsp), absent from ARMv6-M/ARMv7-M and not an A-profile notion at all.
_DSP_CHOICES: dict[str, tuple[bool, ...]] = {
    "cortex-m0plus": (False,),
    "cortex-m3": (False,),
    "cortex-m4": (True,),
    "cortex-m7": (True,),
    "cortex-m33": (True, False),
    "cortex-m55": (True, False),
}

# Board names are typed on the command line and used as file stems.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")

_KIB = 1024


@dataclass(frozen=True)
class _Field:
    kind: str  # "str", "int", "number" or "bool"
    required: bool = True


_FIELDS: dict[str, _Field] = {
    "title": _Field("str"),
    "kind": _Field("str"),
    "soc": _Field("str"),
    "core": _Field("str"),
    "clock_mhz": _Field("number"),
    "ram_kib": _Field("int"),
    "flash_kib": _Field("int"),
    "reserved_ram_kib": _Field("int"),
    "reserved_flash_kib": _Field("int"),
    "fpu": _Field("str"),
    "float_abi": _Field("str"),
    "dsp": _Field("bool"),
    "mve": _Field("bool"),
    "flash_wait_states": _Field("int"),
    "qemu_machine": _Field("str"),
    "emulation_note": _Field("str", required=False),
}


@dataclass(frozen=True)
class Target:
    """One board, as read from its TOML file. Sizes are in bytes; the file states them in KiB."""

    name: str
    title: str
    kind: str
    soc: str
    core: str
    clock_mhz: float
    ram_bytes: int
    flash_bytes: int
    reserved_ram_bytes: int
    reserved_flash_bytes: int
    fpu: str
    float_abi: str
    dsp: bool
    mve: bool
    flash_wait_states: int
    qemu_machine: str
    emulation_note: str
    source: Path

    @property
    def usable_ram_bytes(self) -> int:
        """RAM left for the model once the application's documented reserve is taken out."""
        return self.ram_bytes - self.reserved_ram_bytes

    @property
    def usable_flash_bytes(self) -> int:
        """Flash (or, on Linux boards, storage) left for the model after the reserve."""
        return self.flash_bytes - self.reserved_flash_bytes

    @property
    def is_mcu(self) -> bool:
        return self.kind == "mcu"

    def gcc_flags(self) -> list[str]:
        """Code-generation flags for this core: arm-none-eabi-gcc on MCUs, aarch64 gcc on Linux boards."""
        if not self.is_mcu:
            # AArch64 gcc has no -mthumb/-mfpu/-mfloat-abi; FP and SIMD are always there.
            return [f"-mcpu={self.core}"]
        cpu = self.core
        if self.core in ("cortex-m33", "cortex-m55") and not self.dsp:
            cpu += "+nodsp"
        if self.core == "cortex-m55" and self.dsp and not self.mve:
            # +nodsp already drops Helium, so +nomve is only needed when DSP stays on.
            cpu += "+nomve"
        flags = [f"-mcpu={cpu}", "-mthumb"]
        if self.fpu != "none":
            flags.append(f"-mfpu={self.fpu}")
        flags.append(f"-mfloat-abi={self.float_abi}")
        return flags

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready facts about the board, for reports."""
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "soc": self.soc,
            "core": self.core,
            "clock_mhz": self.clock_mhz,
            "ram_bytes": self.ram_bytes,
            "flash_bytes": self.flash_bytes,
            "reserved_ram_bytes": self.reserved_ram_bytes,
            "reserved_flash_bytes": self.reserved_flash_bytes,
            "usable_ram_bytes": self.usable_ram_bytes,
            "usable_flash_bytes": self.usable_flash_bytes,
            "fpu": self.fpu,
            "float_abi": self.float_abi,
            "dsp": self.dsp,
            "mve": self.mve,
            "flash_wait_states": self.flash_wait_states,
            "qemu_machine": self.qemu_machine,
            "emulation_note": self.emulation_note,
            "source": str(self.source),
        }


def targets_dirs(extra: Sequence[str | Path] = ()) -> list[Path]:
    """Folders searched for board files, lowest priority first.

    The built-in folder, then each folder in $EDGEKIT_TARGETS_DIR (os.pathsep-separated), then `extra`
    (the --targets-dir options). A later folder's board replaces an earlier one of the same name.
    """
    if isinstance(extra, str | Path):
        # A lone path is a Sequence of characters; iterating it would look for folders named "/" etc.
        extra = [extra]
    dirs: list[Path] = []
    builtin = data_dir("targets")
    if builtin.is_dir():
        dirs.append(builtin)
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            dirs.append(_existing_dir(entry, f"from ${ENV_VAR}"))
    for entry in extra:
        dirs.append(_existing_dir(entry, "given with --targets-dir"))
    return dirs


def load_targets(extra_dirs: Sequence[str | Path] = ()) -> dict[str, Target]:
    """Every known board, keyed and sorted by name; see `targets_dirs` for the search order."""
    found: dict[str, Target] = {}
    for folder in targets_dirs(extra_dirs):
        for path in sorted(folder.glob("*.toml")):
            if path.is_file():
                target = load_target_file(path)
                found[target.name] = target
    return dict(sorted(found.items()))


def get_target(name: str, extra_dirs: Sequence[str | Path] = ()) -> Target:
    """The board called `name`, or an EdgekitError listing the known boards."""
    targets = load_targets(extra_dirs)
    if name in targets:
        return targets[name]
    known = ", ".join(targets) if targets else "(none)"
    guess = _closest(name, list(targets))
    hint = f" (did you mean '{guess}'?)" if guess else ""
    raise EdgekitError(name, f"unknown board{hint}; known boards: {known} (see `edgekit targets`)")


def targets_table(targets: Mapping[str, Target] | Iterable[Target]) -> list[dict[str, Any]]:
    """One row per board for `edgekit targets`; the CLI renders them. Sizes in KiB."""
    items = targets.values() if isinstance(targets, Mapping) else targets
    return [
        {
            "name": t.name,
            "title": t.title,
            "kind": t.kind,
            "core": t.core,
            "clock_mhz": t.clock_mhz,
            "ram_kib": t.ram_bytes // _KIB,
            "flash_kib": t.flash_bytes // _KIB,
            "usable_ram_kib": t.usable_ram_bytes // _KIB,
            "usable_flash_kib": t.usable_flash_bytes // _KIB,
            "qemu_machine": t.qemu_machine,
        }
        for t in items
    ]


def load_target_file(path: str | Path) -> Target:
    """Read and check one board file; the board's name is the file stem."""
    path = Path(path)
    name = path.stem
    if not _NAME_RE.match(name):
        raise EdgekitError(path, f"board name {name!r} (the file name) must be letters, digits, '.', '_', '+' or '-'")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EdgekitError(path, f"cannot read board file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise EdgekitError(path, "board file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        # Python's message already ends with "(at line N, column M)".
        raise EdgekitError(path, f"invalid TOML: {exc}") from None
    return _build(name, path, data)


def _build(name: str, path: Path, data: dict[str, Any]) -> Target:
    def fail(problem: str) -> EdgekitError:
        return EdgekitError(path, problem)

    unknown = [key for key in data if key not in _FIELDS]
    if unknown:
        key = unknown[0]
        guess = _closest(key, list(_FIELDS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise fail(f"unknown key {key!r}{hint}")
    for key, spec in _FIELDS.items():
        if key not in data:
            if spec.required:
                raise fail(f"missing key {key!r}")
            continue
        _check_type(fail, key, data[key], spec.kind)

    for key in ("title", "soc"):
        if not data[key].strip():
            raise fail(f"{key!r} must not be empty")

    kind, core = data["kind"], data["core"]
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; use one of: {', '.join(KINDS)}")
    if core not in CORES:
        guess = _closest(core, list(CORES))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise fail(f"unknown core {core!r}{hint}; known cores: {', '.join(CORES)}")
    if kind == "mcu" and core not in MCU_QEMU_MACHINES:
        raise fail(f"core {core!r} is not a microcontroller core; kind 'mcu' needs a cortex-m core")
    if kind == "linux" and core not in LINUX_CORES:
        raise fail(f"core {core!r} does not run Linux; kind 'linux' needs one of: {', '.join(LINUX_CORES)}")

    clock = data["clock_mhz"]
    if not math.isfinite(clock) or clock <= 0:
        raise fail(f"'clock_mhz' must be a positive number, got {clock}")
    for total_key, reserve_key in (("ram_kib", "reserved_ram_kib"), ("flash_kib", "reserved_flash_kib")):
        total, reserve = data[total_key], data[reserve_key]
        if total <= 0:
            raise fail(f"{total_key!r} must be positive, got {total}")
        if reserve < 0:
            raise fail(f"{reserve_key!r} must not be negative, got {reserve}")
        if reserve >= total:
            raise fail(f"{reserve_key!r} ({reserve}) must be smaller than {total_key!r} ({total})")
    if data["flash_wait_states"] < 0:
        raise fail(f"'flash_wait_states' must not be negative, got {data['flash_wait_states']}")

    fpu, float_abi = data["fpu"], data["float_abi"]
    if fpu not in _FPUS[core]:
        raise fail(f"fpu {fpu!r} does not fit {core}; use one of: {', '.join(_FPUS[core])}")
    if float_abi not in FLOAT_ABIS:
        raise fail(f"unknown float_abi {float_abi!r}; use one of: {', '.join(FLOAT_ABIS)}")
    if kind == "linux" and float_abi != "hard":
        raise fail("float_abi must be 'hard' on a Linux (AArch64) board")
    if fpu == "none" and float_abi != "soft":
        raise fail(f"fpu 'none' needs float_abi 'soft', got {float_abi!r}")
    if kind == "mcu" and fpu != "none" and float_abi == "soft":
        # With -mfloat-abi=soft gcc emits no FP (or Helium) instructions, wasting the hardware.
        raise fail(f"float_abi 'soft' ignores the {fpu!r} FPU; use 'hard' or 'softfp', or fpu 'none'")
    dsp, mve = data["dsp"], data["mve"]
    if dsp not in _DSP_CHOICES.get(core, (False,)):
        raise fail(f"dsp = {str(dsp).lower()} does not fit {core}")
    if mve and core != "cortex-m55":
        raise fail(f"mve = true needs a cortex-m55 core (Helium), not {core}")
    if mve and not dsp:
        raise fail("mve = true needs dsp = true (Helium includes the DSP extension)")

    machine = data["qemu_machine"]
    expected = MCU_QEMU_MACHINES.get(core, LINUX_QEMU_MACHINE)
    if machine != expected:
        raise fail(f"qemu_machine {machine!r} does not emulate {core}; use {expected!r}")

    return Target(
        name=name,
        title=data["title"].strip(),
        kind=kind,
        soc=data["soc"].strip(),
        core=core,
        clock_mhz=float(clock),
        ram_bytes=data["ram_kib"] * _KIB,
        flash_bytes=data["flash_kib"] * _KIB,
        reserved_ram_bytes=data["reserved_ram_kib"] * _KIB,
        reserved_flash_bytes=data["reserved_flash_kib"] * _KIB,
        fpu=fpu,
        float_abi=float_abi,
        dsp=dsp,
        mve=mve,
        flash_wait_states=data["flash_wait_states"],
        qemu_machine=machine,
        emulation_note=data.get("emulation_note", "").strip(),
        source=path,
    )


_TYPE_NAMES = {"str": "a string", "int": "an integer", "number": "a number", "bool": "true or false"}


def _check_type(fail: Callable[[str], EdgekitError], key: str, value: Any, kind: str) -> None:
    # bool is a subclass of int in Python, so `ram_kib = true` must be rejected explicitly.
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }[kind]
    if not ok:
        raise fail(f"{key!r} must be {_TYPE_NAMES[kind]}, got {_toml_type(value)} {value!r}")


def _toml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


def _existing_dir(entry: str | Path, origin: str) -> Path:
    folder = Path(entry).expanduser()
    if not folder.exists():
        raise EdgekitError(folder, f"targets directory does not exist ({origin})")
    if not folder.is_dir():
        raise EdgekitError(folder, f"targets directory is not a directory ({origin})")
    return folder


def _closest(word: str, choices: list[str]) -> str | None:
    # Case-insensitive so "NANO33BLE" still finds "nano33ble".
    lowered = {choice.lower(): choice for choice in choices}
    match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None
