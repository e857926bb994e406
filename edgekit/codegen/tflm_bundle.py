"""The files a TensorFlow Lite Micro firmware needs to run one model: the flatbuffer as a C array, the op
resolver with exactly the model's ops, and the tensor arena size.

Naming: every file and symbol carries the bundle name, so that one firmware can hold several models
(TFLM's micro_speech example runs an audio front-end model and a classifier side by side). For the
default name `model`:

    model_data.h / model_data.cc   g_model_data[], g_model_data_len
    model_ops.h                    ModelOpResolver, RegisterModelOps(ModelOpResolver&)
    model_arena.h                  kModelTensorArenaSize, kModelArenaMeasuredBytes

For `kws`: kws_data.h, g_kws_data, KwsOpResolver, RegisterKwsOps, kKwsTensorArenaSize, and so on.

Ops TFLM has no kernel for make `tflm_bundle` raise `UnsupportedOpError` rather than emit a header
with an `#error` line: the user learns it now, from edgekit, with the node numbers, instead of later
from their firmware build; and no half-usable bundle is left on disk.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath

from edgekit.codegen.c_array import byte_lines, camel, is_c_name
from edgekit.errors import EdgekitError
from edgekit.ir.graph import Graph
from edgekit.ir.op_support import CUSTOM_PREFIX, TFLM_ETHOSU_OP, op_support

# TFLM aligns the start of the arena it is given up to 16 bytes (MicroArenaBufferAlignment() in
# micro_arena_constants.h) and loses what it skips, up to 15 bytes for a buffer that is not aligned.
ARENA_ALIGNMENT = 16
# Headroom over the measured arena, as a fraction 1/N of it. The measurement runs TFLM's reference
# kernels; optimized kernels (CMSIS-NN) may ask for scratch buffers that were not measured. The
# 64-bit host figure is already larger than a 32-bit target needs (1-7 % on the models measured in
# TOOLCHAIN.md), so the extra headroom is kept small.
ARENA_HEADROOM_DIVISOR = 32
RESOLVER_HEADER = "tensorflow/lite/micro/micro_mutable_op_resolver.h"
TFLM_COMMIT = "90b983c"


class UnsupportedOpError(EdgekitError):
    """The model uses ops TFLM has no kernel for; `opcodes` lists them in the order they first run."""

    def __init__(self, path: str | None, opcodes: list[str], problem: str) -> None:
        self.opcodes = list(opcodes)
        super().__init__(path, problem)


def tflm_arena_size(arena_bytes: int) -> int:
    """The `k<Name>TensorArenaSize` written for a measured arena: rounded up to 16 bytes, plus 1/32
    headroom (rounded up to 16), plus 16 bytes that TFLM may lose aligning an unaligned buffer."""
    if arena_bytes <= 0:
        raise ValueError(f"arena_bytes must be positive, got {arena_bytes}")
    headroom = -(-arena_bytes // ARENA_HEADROOM_DIVISOR)
    return _align(arena_bytes) + _align(headroom) + ARENA_ALIGNMENT


def bundle_filenames(name: str = "model") -> dict[str, str]:
    """Role ("data_h", "data_cc", "ops_h", "arena_h") -> the file name a bundle called `name` uses."""
    return {
        "data_h": f"{name}_data.h",
        "data_cc": f"{name}_data.cc",
        "ops_h": f"{name}_ops.h",
        "arena_h": f"{name}_arena.h",
    }


def tflm_bundle(model_bytes: bytes, graph: Graph, arena_bytes: int, name: str = "model") -> dict[str, bytes]:
    """File name -> contents of the TFLM bundle for the model in `model_bytes` (whose Graph IR is
    `graph`), with `arena_bytes` the measured TFLM arena (see edgekit.ir.tflm_arena). Same inputs give
    byte-identical files. Raises EdgekitError for a bad name or a model TFLM cannot run."""
    where = graph.path
    if not is_c_name(name):
        raise EdgekitError(
            None,
            f"bundle name '{name}' is not usable in C: use lowercase letters, digits and _, starting with a letter",
        )
    if not model_bytes:
        raise ValueError("model_bytes is empty")
    if graph.model_size_bytes and graph.model_size_bytes != len(model_bytes):
        raise ValueError(f"graph was read from {graph.model_size_bytes} bytes, model_bytes has {len(model_bytes)}")
    if graph.subgraph_count > 1:
        # TFLM prepares every subgraph, so ops that only other subgraphs use need registering too,
        # and the Graph IR holds subgraph 0 only.
        raise EdgekitError(
            where,
            f"the model has {graph.subgraph_count} subgraphs; edgekit writes TFLM op resolvers for "
            "single-subgraph models only",
        )
    _check_tflm_ops(graph)
    files = bundle_filenames(name)
    source = _source_line(model_bytes, graph)
    contents = {
        files["data_h"]: _data_h(name, source),
        files["data_cc"]: _data_cc(name, source, model_bytes, files["data_h"]),
        files["ops_h"]: _ops_h(name, source, graph),
        files["arena_h"]: _arena_h(name, source, arena_bytes),
    }
    return {filename: contents[filename].encode("ascii") for filename in sorted(contents)}


def _check_tflm_ops(graph: Graph) -> None:
    missing = [row for row in op_support(graph) if not row.tflm]
    if not missing:
        return
    parts = []
    for row in missing:
        part = f"{row.opcode} (node {row.first_node})"
        if row.opcode == CUSTOM_PREFIX + TFLM_ETHOSU_OP:
            part += " [only TFLM builds for an Arm Ethos-U NPU have it]"
        parts.append(part)
    raise UnsupportedOpError(
        graph.path,
        [row.opcode for row in missing],
        f"TFLM has no kernel for {', '.join(parts)}; edgekit cannot write a TFLM op resolver for this model",
    )


def _align(n: int) -> int:
    return -(-n // ARENA_ALIGNMENT) * ARENA_ALIGNMENT


def _source_line(model_bytes: bytes, graph: Graph) -> str:
    """Which model the files were generated from: its file name (not the directory, which would
    make the output depend on where the model sits) and its hash."""
    digest = hashlib.sha256(model_bytes).hexdigest()
    if graph.path:
        # Only characters that cannot end or escape a // comment (a trailing backslash would splice
        # the next source line into the comment).
        filename = re.sub(r"[^A-Za-z0-9._+-]", "_", PurePath(graph.path).name)
        return f"// Generated by edgekit from {filename} ({len(model_bytes)} bytes, sha256 {digest})."
    return f"// Generated by edgekit from a {len(model_bytes)}-byte TFLite model (sha256 {digest})."


def _guard(filename: str) -> str:
    return "EDGEKIT_" + re.sub(r"[^A-Z0-9]", "_", filename.upper()) + "_"


def _data_h(name: str, source: str) -> str:
    guard = _guard(f"{name}_data.h")
    return (
        f"{source}\n"
        "// The model flatbuffer, for tflite::GetModel(). Do not edit.\n"
        f"#ifndef {guard}\n"
        f"#define {guard}\n"
        "\n"
        f"alignas(16) extern const unsigned char g_{name}_data[];\n"
        f"extern const unsigned int g_{name}_data_len;\n"
        "\n"
        f"#endif  // {guard}\n"
    )


def _data_cc(name: str, source: str, model_bytes: bytes, header: str) -> str:
    # The header comes first: its `extern` gives these const definitions external linkage, which a
    # namespace-scope const in C++ otherwise lacks.
    return (
        f"{source}\n"
        "// 16-byte aligned because TFLM reads tensor data in place from this buffer. Do not edit.\n"
        f'#include "{header}"\n'
        "\n"
        f"alignas(16) const unsigned char g_{name}_data[] = {{\n"
        f"{byte_lines(model_bytes)}"
        "};\n"
        f"const unsigned int g_{name}_data_len = {len(model_bytes)};\n"
    )


def _ops_h(name: str, source: str, graph: Graph) -> str:
    rows = op_support(graph)
    guard = _guard(f"{name}_ops.h")
    resolver = f"{camel(name)}OpResolver"
    register = f"Register{camel(name)}Ops"
    # MicroMutableOpResolver<0> would declare zero-length arrays; a model without ops still gets one slot.
    slots = max(len(rows), 1)
    calls = []
    for row in rows:
        nodes = "node" if row.count == 1 else "nodes"
        calls.append(f"  // {row.opcode}: {row.count} {nodes}, first is node {row.first_node}\n")
        calls.append(f"  if (resolver.{row.tflm_method}() != kTfLiteOk) return kTfLiteError;\n")
    return (
        f"{source}\n"
        f"// The TFLM op resolver for this model: its {len(rows)} distinct ops, in the order they first run.\n"
        f"// Methods as in {RESOLVER_HEADER} (tflite-micro {TFLM_COMMIT}). Do not edit.\n"
        "//\n"
        f"//   {resolver} resolver;\n"
        f"//   if ({register}(resolver) != kTfLiteOk) {{ /* a registration failed */ }}\n"
        f"//   tflite::MicroInterpreter interpreter(tflite::GetModel(g_{name}_data), resolver,\n"
        f"//                                        tensor_arena, k{camel(name)}TensorArenaSize);\n"
        f"#ifndef {guard}\n"
        f"#define {guard}\n"
        "\n"
        f'#include "{RESOLVER_HEADER}"\n'
        "\n"
        "// One slot per distinct op: a registration beyond the template count fails.\n"
        f"using {resolver} = tflite::MicroMutableOpResolver<{slots}>;\n"
        "\n"
        f"inline TfLiteStatus {register}({resolver}& resolver) {{\n"
        f"{''.join(calls)}"
        "  return kTfLiteOk;\n"
        "}\n"
        "\n"
        f"#endif  // {guard}\n"
    )


def _arena_h(name: str, source: str, arena_bytes: int) -> str:
    guard = _guard(f"{name}_arena.h")
    size = tflm_arena_size(arena_bytes)
    headroom = size - _align(arena_bytes) - ARENA_ALIGNMENT
    return (
        f"{source}\n"
        "// The tensor arena size for this model's tflite::MicroInterpreter. Do not edit.\n"
        f"#ifndef {guard}\n"
        f"#define {guard}\n"
        "\n"
        "// Measured: the smallest arena (a multiple of 16 bytes) with which the tflite-micro Python\n"
        "// interpreter (reference kernels, x86-64 host) built this model and ran it once. Its\n"
        "// persistent structs hold 64-bit pointers, so a 32-bit Cortex-M needs somewhat less.\n"
        f"constexpr int k{camel(name)}ArenaMeasuredBytes = {arena_bytes};\n"
        "\n"
        f"// Measured, rounded up to 16, + {headroom} bytes headroom (1/{ARENA_HEADROOM_DIVISOR}, rounded up to 16)\n"
        "// for kernel variants whose scratch buffers were not measured (e.g. CMSIS-NN), + 16 bytes that\n"
        "// TFLM loses aligning an arena that is not 16-byte aligned. Declare the arena with alignas(16).\n"
        f"constexpr int k{camel(name)}TensorArenaSize = {size};\n"
        "\n"
        f"#endif  // {guard}\n"
    )
