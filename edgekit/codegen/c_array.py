"""Bytes as C/C++ source text: the body of an array initializer, and names that are safe in C."""

from __future__ import annotations

import re

BYTES_PER_LINE = 12
INDENT = "  "

# One spelling per byte value, built once: formatting a 1 MB model is then a join, not a million
# format calls.
_HEX = tuple(f"0x{b:02x}," for b in range(256))
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
MAX_NAME_LENGTH = 64


def byte_lines(data: bytes, per_line: int = BYTES_PER_LINE, indent: str = INDENT) -> str:
    """`data` as lowercase hex initializer lines (`0x1c, 0x00, ...,`), `per_line` values a line, every
    value followed by a comma (legal in C and C++ initializers, and keeps every line alike), each line
    ending in a newline."""
    if per_line < 1:
        raise ValueError("per_line must be at least 1")
    hexes = [_HEX[b] for b in data]
    return "".join(
        indent + " ".join(hexes[start : start + per_line]) + "\n" for start in range(0, len(hexes), per_line)
    )


def is_c_name(name: str) -> bool:
    """True for the names bundles accept: lowercase snake_case, starting with a letter. Lowercase
    only, so that a name and its upper-case include guard map one to one."""
    return len(name) <= MAX_NAME_LENGTH and _IDENTIFIER.fullmatch(name) is not None


def c_name(text: str) -> str:
    """A name `is_c_name` accepts, made from free text such as a model file's stem."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = "model_" + name if name else "model"
    # Generated symbols always add a prefix or suffix to the name, so no name can collide with a
    # C++ keyword and no keyword check is needed.
    return name[:MAX_NAME_LENGTH].rstrip("_")


def camel(name: str) -> str:
    """`kws_ref_model` -> `KwsRefModel`, for C++ type and function names."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
