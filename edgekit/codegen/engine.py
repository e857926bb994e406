"""edgekit's own C engine: generated C for one model, no interpreter, a static arena planned on the
host, weights and requantization parameters as `const` arrays, results bit-exact with TFLM.

`generate_engine(graph, name)` returns the files of a folder that compiles on its own (`cc -c *.c`):
NAME.h (the API), NAME.c (the model: constants, one function per layer, the invoke functions), and
the reference kernels the model uses, copied from the package's `firmware/kernels` folder (renamed
`ek_<op>.c` so that no kernel file can clash with NAME.c).

The API in NAME.h:
    int NAME_invoke(const int8_t *input, int8_t *output);            single input and output only
    int NAME_invoke_multi(const int8_t *const *inputs, int8_t *const *outputs);
    int NAME_invoke_with_arena(int8_t *arena, const int8_t *const *inputs, int8_t *const *outputs);
    int8_t *NAME_input_buffer(int index);    where input `index` lives in the static arena
    int8_t *NAME_output_buffer(int index);
    NAME_ARENA_SIZE, NAME_NUM_INPUTS, NAME_NUM_OUTPUTS,
    NAME_INPUT_SIZE / _SCALE / _ZERO_POINT, NAME_OUTPUT_... (input 0 and output 0, in bytes), and the
    same per tensor as NAME_INPUT<i>_... / NAME_OUTPUT<i>_....
Invoke copies each input into the arena and each output out of it, unless the pointer already is the
arena location (zero copy) or NULL (skip). All return 0 on success, else 1 + the failing layer's
index. Inputs in the arena may be overwritten by the run (as in TFLM): set them before every call.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.codegen.engine_ops import LOWERINGS, Lowered, Unsupported, adapt_for_family, dsp_depthwise_fast
from edgekit.codegen.engine_plan import ALIGNMENT, EnginePlan, plan_engine_memory
from edgekit.errors import EdgekitError
from edgekit.ir.graph import Graph, Tensor
from edgekit.resources import data_dir

SUPPORTED_OPS: frozenset[str] = frozenset(LOWERINGS)

# Kernel families: folders of firmware/kernels with the same file names and signatures as reference/.
# A family lacking an op's file falls back to the reference file for that op.
KERNEL_FAMILIES = ("reference", "arm_dsp", "helium", "neon")
# The header a family's kernels share (in firmware/kernels/include/), copied along with them.
FAMILY_HEADERS = {"arm_dsp": "ek_dsp.h", "helium": "ek_helium.h", "neon": "ek_neon.h"}
# Cores whose optimized family edgekit has: the DSP extension (SMLAD, SXTB16) of the M4, M7 and M33.
# The M0+ and M3 lack it; the M55 has it too, but takes its own family (Helium, _MVE_CORES).
_DSP_CORES = frozenset({"cortex-m4", "cortex-m7", "cortex-m33"})
# Cores with Helium (the M-profile Vector Extension): firmware/kernels/helium.
_MVE_CORES = frozenset({"cortex-m55"})
# The Raspberry Pis' application cores: Advanced SIMD (NEON) is always there on AArch64.
_NEON_CORES = frozenset({"cortex-a53", "cortex-a72", "cortex-a76"})

# Kernel sources every kernel needs besides its own file.
_HELPERS = {"softmax.c": ("fixedpoint.c",), "logistic.c": ("fixedpoint.c",), "tanh.c": ("fixedpoint.c",)}
_C_TYPES = {"int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "float32": "float", "uint8": "uint8_t"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_C_KEYWORDS = frozenset({
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern",
    "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "main",
})


@dataclass
class EngineModel:
    """A model lowered for the engine and planned, before any C is written."""

    graph: Graph
    name: str
    lowered: list[Lowered]
    plan: EnginePlan
    kernels: list[str]  # kernel files, sorted
    family: str = "reference"  # the kernel folder preferred (KERNEL_FAMILIES)
    kernel_dirs: dict[str, str] = field(default_factory=dict)  # kernel file -> folder it comes from

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    @property
    def ram_bytes(self) -> int:
        """RAM the engine needs besides the stack: the arena. The generated code has no other mutable
        static data (tests check .data + .bss of the compiled objects against the arena)."""
        return self.plan.arena_bytes

    def const_bytes(self) -> int:
        """Flash taken by constant tensors and per-layer arrays (not parameter structs or code)."""
        total = 0
        seen: set[int] = set()
        for low in self.lowered:
            for t in low.op.inputs:
                if t >= 0 and t not in seen and self.graph.tensors[t].is_constant and f"{{t{t}}}" in low.call:
                    seen.add(t)
                    total += self.graph.tensors[t].nbytes
            for _, ctype, values in low.arrays:
                total += len(values) * (4 if ctype.endswith("32_t") else 1)
        return total


def _op_error(graph: Graph, op_index: int, opcode: str, why: str = "") -> EdgekitError:
    detail = f" ({why})" if why else ""
    return EdgekitError(
        graph.path,
        f"edgekit engine has no kernel for {opcode} (node {op_index}){detail}; "
        "use the TFLM bundle (edgekit export tflm)",
    )


def check_name(name: str) -> None:
    if not _NAME.match(name) or name in _C_KEYWORDS or name.startswith("ek_"):
        raise EdgekitError(None, f"engine name {name!r} must be a C identifier (letters, digits, _) not starting "
                           "with a digit or 'ek_'")


def unsupported_nodes(graph: Graph) -> list[int]:
    """Indices of the operators the engine cannot run (op missing, or types its kernel lacks)."""
    nodes = []
    for op in graph.operators:
        lower = LOWERINGS.get(op.opcode)
        if lower is None:
            nodes.append(op.index)
            continue
        try:
            lower(graph, op)
        except Unsupported:
            nodes.append(op.index)
        except Exception:  # a probe: tensors the lowering cannot make sense of mean "cannot run"
            nodes.append(op.index)
    return nodes


def unsupported_ops(graph: Graph) -> list[str]:
    """'OP (node N): why' for every op the engine cannot run; empty when it runs the whole model."""
    problems = []
    for op in graph.operators:
        lower = LOWERINGS.get(op.opcode)
        if lower is None:
            problems.append(f"{op.opcode} (node {op.index})")
            continue
        try:
            lower(graph, op)
        except Unsupported as e:
            problems.append(f"{op.opcode} (node {op.index}): {e}")
    return problems


def kernel_family(core: str, dsp: bool = True, mve: bool = True) -> str:
    """The kernel folder for a core: "helium" on Cortex-M55 with Helium, "arm_dsp" on Cortex-M4/M7/M33
    with the DSP extension, "neon" on the Raspberry Pis' Cortex-A cores, else (M0+, M3, an M55 without
    Helium, the host) the portable "reference"."""
    if core in _NEON_CORES:
        return "neon"
    if core in _MVE_CORES:
        return "helium" if dsp and mve else "reference"
    return "arm_dsp" if core in _DSP_CORES and dsp else "reference"


def target_kernel_family(target: Any) -> str:
    """kernel_family for an edgekit.targets.Target."""
    return kernel_family(target.core, bool(target.dsp), bool(target.mve))


def _kernel_dir(kernel: str, family: str) -> str:
    if family != "reference" and (data_dir("firmware") / "kernels" / family / kernel).is_file():
        return family
    return "reference"


def build_engine(graph: Graph, name: str = "model", family: str = "reference") -> EngineModel:
    """Lower and plan `graph` for the kernels of `family` (KERNEL_FAMILIES); raise EdgekitError naming
    the first op the engine cannot run."""
    check_name(name)
    if family not in KERNEL_FAMILIES:
        raise EdgekitError(None, f"unknown kernel family {family!r}; use one of: {', '.join(KERNEL_FAMILIES)}")
    lowered = []
    for op in graph.operators:
        lower = LOWERINGS.get(op.opcode)
        if lower is None:
            raise _op_error(graph, op.index, op.opcode)
        try:
            lowered.append(lower(graph, op))
        except Unsupported as e:
            raise _op_error(graph, op.index, op.opcode, str(e)) from None
    for t in graph.tensors:
        if t.is_variable:
            raise EdgekitError(graph.path, "edgekit engine does not support variable (stateful) tensors; "
                               "use the TFLM bundle (edgekit export tflm)")
    for t in (*graph.inputs, *graph.outputs):
        tensor = graph.tensors[t]
        if tensor.is_constant or tensor.nbytes == 0:
            raise EdgekitError(graph.path, f"graph input/output tensor {t} is constant or empty; the edgekit "
                               "engine needs them in the arena")
    kernels = sorted({low.kernel for low in lowered if low.kernel} |
                     {h for low in lowered for h in _HELPERS.get(low.kernel, ())})
    kernel_dirs = {k: _kernel_dir(k, family) for k in kernels}
    lowered = [adapt_for_family(graph, low, kernel_dirs[low.kernel]) if low.kernel else low for low in lowered]
    plan = plan_engine_memory(graph, lowered)
    return EngineModel(graph=graph, name=name, lowered=lowered, plan=plan, kernels=kernels, family=family,
                       kernel_dirs=kernel_dirs)


def generate_engine(graph: Graph, name: str = "model", family: str = "reference") -> dict[str, bytes]:
    """The files of a standalone C folder running `graph` with the kernels of `family`: {file name:
    contents}. Each kernel comes from the family's folder when it has the op, else from reference/."""
    model = build_engine(graph, name, family)
    files = {
        f"{name}.h": _header(model).encode(),
        f"{name}.c": _source(model).encode(),
    }
    firmware = data_dir("firmware") / "kernels"
    files["ek_kernels.h"] = (firmware / "include" / "ek_kernels.h").read_bytes()
    for family in sorted(set(model.kernel_dirs.values())):
        header = FAMILY_HEADERS.get(family)
        if header:
            files[header] = (firmware / "include" / header).read_bytes()
    for kernel in model.kernels:
        files[_kernel_file(kernel)] = (firmware / model.kernel_dirs[kernel] / kernel).read_bytes()
    if any(d != "reference" for d in model.kernel_dirs.values()):
        files["ek_config.h"] = kernel_config(model).encode()
    return dict(sorted(files.items()))


def kernel_config(model: EngineModel) -> str:
    """The engine folder's ek_config.h (firmware/kernels/include/ek_config.h states the switches): the
    optimized kernels' fallback paths compiled only when a layer of this model takes them, which keeps
    them out of the firmware's flash otherwise (about 2 KB on the Arm DSP)."""
    dw_other = pool_other = False
    for low in model.lowered:
        params = dict(low.params)
        family = model.kernel_dirs.get(low.kernel, "reference")
        if low.kernel == "depthwise_conv_2d.c" and family == "arm_dsp" and not dsp_depthwise_fast(params):
            dw_other = True
        if low.kernel == "average_pool_2d.c" and family != "reference":
            big = int(params["filter_h"]) * int(params["filter_w"]) > 256
            pool_other |= big or (family == "arm_dsp" and int(params["channels"]) % 4 != 0)
    return (
        "/* Generated by edgekit: the optional kernel paths this model's layers take (see the kernels'\n"
        " * include/ek_config.h). */\n"
        "#ifndef EK_CONFIG_H\n#define EK_CONFIG_H\n"
        f"#define EK_DW_OTHER_SHAPES {int(dw_other)}\n"
        f"#define EK_POOL_OTHER_SHAPES {int(pool_other)}\n"
        "#endif /* EK_CONFIG_H */\n"
    )


def _kernel_list(model: EngineModel) -> str:
    return ", ".join(k if model.kernel_dirs.get(k, "reference") == "reference" else f"{model.kernel_dirs[k]}/{k}"
                     for k in model.kernels)


def _kernel_file(kernel: str) -> str:
    return f"ek_{kernel}"


# ------------------------------------------------------------------------------------------------
# C text


def _float_literal(x: float) -> str:
    text = f"{float(np.float32(x)):.9g}"
    if not any(c in text for c in ".eEn"):
        text += ".0"
    return text + "f"


def _c_value(value: Any, indent: str) -> str:
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "float":
        return _float_literal(value[1])
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        return _c_struct(value, indent + "    ")
    if isinstance(value, list | tuple):
        return "{" + ", ".join(str(int(v)) for v in value) + "}"
    return str(int(value))


def _c_struct(fields: list[tuple[str, Any]], indent: str = "    ") -> str:
    lines = [f"{indent}.{k} = {_c_value(v, indent)}," for k, v in fields]
    return "{\n" + "\n".join(lines) + "\n" + indent[:-4] + "}"


def _set_reverse(fields: list[tuple[str, Any]], value: int) -> list[tuple[str, Any]]:
    result = []
    for k, v in fields:
        if k == "reverse":
            v = value
        elif isinstance(v, list) and v and isinstance(v[0], tuple):
            v = _set_reverse(v, value)
        result.append((k, v))
    return result


def _c_array(ctype: str, name: str, values: Sequence[int] | np.ndarray, comment: str = "") -> str:
    flat = np.asarray(values).reshape(-1)
    per_line = 16 if ctype in ("int8_t", "uint8_t") else 8
    head = f"/* {comment} */\n" if comment else ""
    items = [_float_literal(v) for v in flat] if ctype == "float" else [str(int(v)) for v in flat]
    body = ",\n".join("    " + ", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))
    return f"{head}static const {ctype} {name}[{len(items)}] = {{\n{body}\n}};\n"


def _shape_text(t: Tensor) -> str:
    return f"{t.dtype}[{','.join(str(d) for d in t.shape)}]"


def _short(text: str, limit: int = 70) -> str:
    # Names come from the model file: keep them from ending or breaking the C comment they go in.
    text = "".join(c if c.isprintable() else "?" for c in text).replace("*/", "* /")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _layer_name(model: EngineModel, low: Lowered) -> str:
    width = max(3, len(str(len(model.lowered) - 1)))
    return f"{model.name}_layer_{low.op.index:0{width}d}_{low.op.opcode.lower()}"


def _quant_macros(prefix: str, t: Tensor) -> list[str]:
    lines = [f"#define {prefix}_SIZE {t.nbytes}"]
    q = t.quantization
    if q is not None and len(q.scales) == 1:
        lines.append(f"#define {prefix}_SCALE {_float_literal(q.scales[0])}")
        lines.append(f"#define {prefix}_ZERO_POINT {int(q.zero_points[0])}")
    return lines


def _header(model: EngineModel) -> str:
    g, n = model.graph, model.name
    N = n.upper()
    src = Path(g.path).name if g.path else "a TFLite model"
    lines = [
        f"/* {n}.h: the edgekit C engine API for {_short(src)}. Generated by edgekit; do not edit.",
        " *",
        f" * {n}_invoke_multi(inputs, outputs) runs the model: inputs[i] and outputs[i] hold the bytes of",
        f" * input/output i ({N}_INPUT<i>_SIZE, {N}_OUTPUT<i>_SIZE). A pointer equal to",
        f" * {n}_input_buffer(i) / {n}_output_buffer(i) is used in place; NULL skips the copy.",
        " * Inputs in the arena may be overwritten by a run: set them again before every call.",
        " * Returns 0 on success, else 1 + the index of the layer that failed.",
        f" * {n}_invoke_with_arena does the same in a caller-provided arena of {N}_ARENA_SIZE bytes,",
        f" * 16-byte aligned; compile {n}.c with -D{N}_NO_STATIC_ARENA to leave out the static arena and",
        " * the functions that use it.",
        " */",
        f"#ifndef {N}_H_",
        f"#define {N}_H_",
        "",
        "#include <stdint.h>",
        "",
        "#ifdef __cplusplus",
        'extern "C" {',
        "#endif",
        "",
        f"#define {N}_ARENA_SIZE {model.arena_bytes}",
        f"#define {N}_NUM_INPUTS {len(g.inputs)}",
        f"#define {N}_NUM_OUTPUTS {len(g.outputs)}",
        "",
        "/* Input 0 and output 0. */",
    ]
    lines += _quant_macros(f"{N}_INPUT", g.tensors[g.inputs[0]])
    lines += _quant_macros(f"{N}_OUTPUT", g.tensors[g.outputs[0]])
    lines.append("")
    for i, t in enumerate(g.inputs):
        tensor = g.tensors[t]
        lines.append(f"/* Input {i}: {_shape_text(tensor)} */")
        lines += _quant_macros(f"{N}_INPUT{i}", tensor)
    for i, t in enumerate(g.outputs):
        tensor = g.tensors[t]
        lines.append(f"/* Output {i}: {_shape_text(tensor)} */")
        lines += _quant_macros(f"{N}_OUTPUT{i}", tensor)
    lines.append("")
    if len(g.inputs) == 1 and len(g.outputs) == 1:
        lines.append(f"int {n}_invoke(const int8_t *input, int8_t *output);")
    else:
        lines.append(f"/* {n}_invoke is for single-input single-output models; use {n}_invoke_multi. */")
    lines += [
        f"int {n}_invoke_multi(const int8_t *const *inputs, int8_t *const *outputs);",
        f"int8_t *{n}_input_buffer(int index);",
        f"int8_t *{n}_output_buffer(int index);",
        f"int {n}_invoke_with_arena(int8_t *arena, const int8_t *const *inputs, int8_t *const *outputs);",
        "",
        "#ifdef __cplusplus",
        "}",
        "#endif",
        "",
        f"#endif /* {N}_H_ */",
        "",
    ]
    return "\n".join(lines)


def _pointer(model: EngineModel, t: int) -> str:
    tensor = model.graph.tensors[t]
    if tensor.is_constant:
        return f"{model.name}_t{t}"
    off = model.plan.tensor_offset(t)
    if tensor.dtype == "int8":
        return f"(arena + {off})"
    return f"(({_C_TYPES[tensor.dtype]} *)(void *)(arena + {off}))"


def _source(model: EngineModel) -> str:
    g, n, plan = model.graph, model.name, model.plan
    N = n.upper()
    src = Path(g.path).name if g.path else "a TFLite model"
    out: list[str] = [
        f"/* {n}.c: {_short(src)} as edgekit C engine code. Generated by edgekit; do not edit.",
        f" * {len(g.operators)} layers, arena {model.arena_bytes} bytes (plan: {plan.strategy}; without in-place",
        f" * overlap and aliasing it would be {plan.no_overlap_bytes}), kernels: {_kernel_list(model) or 'none'}.",
        " * Results are bit-exact with TensorFlow Lite Micro's reference kernels. */",
        "#include <string.h>",
        "",
        '#include "ek_kernels.h"',
        f'#include "{n}.h"',
        "",
        "/* Layer functions stay real functions, so that profiling can attribute time to them by symbol. */",
        "#if defined(__GNUC__) && !defined(__clang__)",
        f"#define {N}_LAYER __attribute__((noinline, noipa))",
        "#elif defined(__GNUC__)",
        f"#define {N}_LAYER __attribute__((noinline))",
        "#else",
        f"#define {N}_LAYER",
        "#endif",
        "",
        "#if defined(__GNUC__)",
        f"#define {N}_ALIGNED __attribute__((aligned({ALIGNMENT})))",
        "#else",
        f"#define {N}_ALIGNED",
        "#endif",
        "",
        "/* Arena layout: offset, bytes, live during layers, tensors. */",
    ]
    for b in sorted(plan.buffers, key=lambda b: (b.offset, b.index)):
        names = ", ".join(f"t{t}" for t in b.tensors) or "scratch"
        out.append(f"/*   {b.offset:>7} {b.nbytes:>7}  {b.first_op:>3}..{b.last_op:<3}  {names} */")
    out += [
        f"#ifndef {N}_NO_STATIC_ARENA",
        f"static int8_t {n}_arena[{N}_ARENA_SIZE] {N}_ALIGNED;",
        "#endif",
        "",
    ]
    names = [_layer_name(model, low) for low in model.lowered]
    out.append("/* One function per layer, in execution order. */")
    out += [f"int {fn}(int8_t *arena);" for fn in names]
    out.append("")

    emitted: set[int] = set()
    for low, fn in zip(model.lowered, names, strict=True):
        op = low.op
        ins = ", ".join(f"t{t} {_shape_text(g.tensors[t])}" for t in op.inputs if t >= 0)
        outs = ", ".join(f"t{t} {_shape_text(g.tensors[t])}" for t in op.outputs)
        direction = " (outputs written last to first)" if op.index in plan.reversed_ops else ""
        out.append(f"/* ---- layer {op.index}: {op.opcode} {_short(low.note, 80)}{direction}")
        out.append(f" * in: {_short(ins, 100)}")
        out.append(f" * out: {_short(outs, 100)} */")
        for t in op.inputs:
            tensor = g.tensors[t] if t >= 0 else None
            if tensor is None or not tensor.is_constant or t in emitted or f"{{t{t}}}" not in low.call:
                continue
            emitted.add(t)
            assert tensor.data is not None
            out.append(_c_array(_C_TYPES[tensor.dtype], f"{n}_t{t}", tensor.data,
                                f"tensor {t}: {_shape_text(tensor)} {_short(tensor.name, 60)}"))
        prefix = f"{n}_l{op.index:03d}"
        for suffix, ctype, values in low.arrays:
            out.append(_c_array(ctype, f"{prefix}_{suffix}", values))
        subs: dict[str, str] = {f"a_{suffix}": f"{prefix}_{suffix}" for suffix, _, _ in low.arrays}
        if low.params_type:
            fields = _set_reverse(low.params, 1 if op.index in plan.reversed_ops else 0)
            out.append(f"static const {low.params_type} {prefix}_params = {_c_struct(fields)};")
            out.append("")
            subs["p"] = f"{prefix}_params"
        for t in (*op.inputs, *op.outputs):
            if t >= 0:
                subs[f"t{t}"] = _pointer(model, t)
        scratch = plan.scratch_offset(op.index)
        if scratch is None:
            subs["scratch"] = "NULL"
        elif low.kernel == "conv_2d.c":
            subs["scratch"] = f"((int16_t *)(void *)(arena + {scratch}))"
        else:
            subs["scratch"] = f"(arena + {scratch})"
        out.append(f"{N}_LAYER int {fn}(int8_t *arena) {{")
        if low.alias:
            out.append("    (void)arena; /* the output is the input's bytes */")
            out.append("    return 0;")
        else:
            call = low.call.format(**subs)
            if low.status:
                out.append(f"    return {call}")
            else:
                out.append("    " + call)
                out.append("    return 0;")
        out.append("}")
        out.append("")

    def io_offset(t: int) -> int:
        return plan.tensor_offset(t)

    out += [
        "/* The run: copy the inputs in, the layers in order, copy the outputs out. Inlined into each entry",
        f" * point, so that a profiler attributing code by symbol counts this glue as {n}_invoke's own. */",
        "#if defined(__GNUC__)",
        "__attribute__((always_inline))",
        "#endif",
        f"static inline int {n}_run(int8_t *arena, const int8_t *const *inputs, int8_t *const *outputs) {{",
        "    if (inputs != NULL) {",
    ]
    for i, t in enumerate(g.inputs):
        size = g.tensors[t].nbytes
        out.append(f"        if (inputs[{i}] != NULL && inputs[{i}] != arena + {io_offset(t)}) "
                   f"memmove(arena + {io_offset(t)}, inputs[{i}], {size});")
    out.append("    }")
    for i, fn in enumerate(names):
        out.append(f"    if ({fn}(arena) != 0) return {i + 1};")
    out.append("    if (outputs != NULL) {")
    for i, t in enumerate(g.outputs):
        size = g.tensors[t].nbytes
        out.append(f"        if (outputs[{i}] != NULL && outputs[{i}] != arena + {io_offset(t)}) "
                   f"memmove(outputs[{i}], arena + {io_offset(t)}, {size});")
    out += ["    }", "    return 0;", "}", ""]
    out += [
        f"int {n}_invoke_with_arena(int8_t *arena, const int8_t *const *inputs, int8_t *const *outputs) {{",
        f"    return {n}_run(arena, inputs, outputs);",
        "}",
        "",
        f"#ifndef {N}_NO_STATIC_ARENA",
        "",
    ]
    out += [f"int8_t *{n}_input_buffer(int index) {{"]
    out += [f"    if (index == {i}) return {n}_arena + {io_offset(t)};" for i, t in enumerate(g.inputs)]
    out += ["    return NULL;", "}", ""]
    out += [f"int8_t *{n}_output_buffer(int index) {{"]
    out += [f"    if (index == {i}) return {n}_arena + {io_offset(t)};" for i, t in enumerate(g.outputs)]
    out += ["    return NULL;", "}", ""]
    out += [
        f"int {n}_invoke_multi(const int8_t *const *inputs, int8_t *const *outputs) {{",
        f"    return {n}_invoke_with_arena({n}_arena, inputs, outputs);",
        "}",
        "",
    ]
    if len(g.inputs) == 1 and len(g.outputs) == 1:
        out += [
            f"int {n}_invoke(const int8_t *input, int8_t *output) {{",
            "    const int8_t *inputs[1];",
            "    int8_t *outputs[1];",
            "    inputs[0] = input;",
            "    outputs[0] = output;",
            f"    return {n}_run({n}_arena, inputs, outputs);",
            "}",
            "",
        ]
    out += [f"#endif /* {N}_NO_STATIC_ARENA */", ""]
    return "\n".join(out)
