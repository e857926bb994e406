"""Per-op lowering for the edgekit C engine: from one IR operator to a kernel call with its
parameters computed on the host, plus what the memory planner needs to know about the op.

Each lowering function checks that the op is one the reference kernels implement (types,
quantization, options), computes TFLM's Prepare-time integers (engine_quant), and returns a `Lowered`
that the generator turns into C once the arena is planned. Anything it cannot run bit-exactly raises
`Unsupported`, which the generator reports as "use the TFLM bundle".

For in-place planning, a lowering also describes how its kernel reads each input: for every output
element (in the order the kernel writes them) the lowest and highest input element it reads. From
that the planner works out how far an output may overlap the input it consumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgekit.codegen.engine_quant import (
    INT8_MAX,
    INT8_MIN,
    activation_range,
    calculate_input_radius,
    quantize_multiplier,
    quantize_multiplier_frexp,
    quantize_value_f32_round,
    softmax_params,
)
from edgekit.ir.graph import Graph, Operator, Tensor, dtype_info

# No element read: the planner treats such outputs as constraining nothing.
NO_READ_LO = np.iinfo(np.int64).max
NO_READ_HI = -1


class Unsupported(Exception):
    """The op (or this use of it) has no bit-exact kernel in the engine; the message says why."""


@dataclass
class ReadMap:
    """For each output element e (flat index, the kernel's write order when not reversed), the lowest
    and highest flat input element the kernel reads between writing e - 1 and writing e (inclusive,
    a superset is fine). `reversible`: the kernel can also write its outputs last to first."""

    lo: np.ndarray
    hi: np.ndarray
    reversible: bool = True


@dataclass
class Lowered:
    op: Operator
    kernel: str  # reference kernel source file, e.g. "conv_2d.c"; "" for an alias
    # Output 0 shares input 0's bytes (RESHAPE and friends): no code at all.
    alias: bool = False
    # C type and designated-initializer fields of the layer's const parameter struct; None: no struct.
    params_type: str | None = None
    params: list[tuple[str, Any]] = field(default_factory=list)
    # Extra const arrays: (suffix, C element type, values), named NAME_lNNN_<suffix>.
    arrays: list[tuple[str, str, Sequence[int]]] = field(default_factory=list)
    # The kernel call. Placeholders: {p} the params struct, {a_<suffix>} an extra array, {t<index>}
    # a tensor's data pointer. `status`: the kernel returns int (non-zero = failure).
    call: str = ""
    status: bool = False
    reads: dict[int, ReadMap] = field(default_factory=dict)  # input position -> read pattern
    note: str = ""  # one line for the layer's comment
    # Arena bytes of working memory the chosen kernel variant needs during this op ({scratch} in the
    # call; NULL when 0). Set by the engine once it knows the kernel family (kernel_scratch_bytes).
    scratch_bytes: int = 0


# ------------------------------------------------------------------------------------------------
# Helpers


def _tensor(graph: Graph, index: int) -> Tensor:
    return graph.tensors[index]


def _require(cond: bool, why: str) -> None:
    if not cond:
        raise Unsupported(why)


def _int8_activation(t: Tensor, role: str) -> tuple[float, int]:
    """Scale and zero point of a per-tensor quantized int8 activation."""
    _require(t.dtype == "int8", f"{role} is {t.dtype}; the engine's kernels take int8")
    q = t.quantization
    _require(q is not None and len(q.scales) == 1, f"{role} is not per-tensor quantized")
    assert q is not None
    return float(q.scales[0]), int(q.zero_points[0])


def _const(t: Tensor, role: str, dtype: str) -> np.ndarray:
    _require(t.is_constant and not t.sparse, f"{role} is not a dense constant")
    _require(t.dtype == dtype, f"{role} is {t.dtype}, not {dtype}")
    assert t.data is not None
    return t.data


def _optional_input(op: Operator, pos: int) -> int:
    return op.inputs[pos] if len(op.inputs) > pos else -1


def _padding(padding: str, stride: int, dilation: int, in_size: int, filter_size: int) -> tuple[int, int]:
    """ComputePaddingHeightWidth for one dimension: (output size, leading padding)."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out = (in_size + stride - effective) // stride
    else:
        raise Unsupported(f"padding {padding}")
    total = max((out - 1) * stride + effective - in_size, 0)
    return out, total // 2


def _activation(op: Operator, out_scale: float, out_zp: int) -> tuple[int, int]:
    act = op.options.get("fused_activation_function", "NONE")
    try:
        return activation_range(act, out_scale, out_zp)
    except ValueError as e:
        raise Unsupported(str(e)) from None


def _shape4(t: Tensor, role: str) -> tuple[int, int, int, int]:
    _require(len(t.shape) == 4, f"{role} has rank {len(t.shape)}, expected 4")
    n, h, w, c = t.shape
    return n, h, w, c


def _window_reads(in_shape: tuple[int, int, int, int], out_shape: tuple[int, int, int, int],
                  stride: tuple[int, int], dilation: tuple[int, int], pad: tuple[int, int],
                  taps: tuple[int, int], ch_lo: np.ndarray, ch_hi: np.ndarray) -> ReadMap:
    """Reads of a sliding-window kernel (conv, depthwise conv, pooling): output (b, y, x, c) reads
    the in-image taps of its window, input channels ch_lo[c]..ch_hi[c]."""
    n, h, w, c_in = in_shape
    _, oh, ow, oc = out_shape

    def tap_bounds(out_size: int, s: int, d: int, p: int, k: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        origin = np.arange(out_size, dtype=np.int64) * s - p
        start = np.where(origin < 0, (-origin + d - 1) // d, 0)
        end = np.where(size - origin <= 0, 0, (size - origin + d - 1) // d)
        end = np.minimum(end, k)
        first = origin + d * start
        last = origin + d * (end - 1)
        valid = end > start
        return np.where(valid, first, -1), np.where(valid, last, -1)

    y_first, y_last = tap_bounds(oh, stride[0], dilation[0], pad[0], taps[0], h)
    x_first, x_last = tap_bounds(ow, stride[1], dilation[1], pad[1], taps[1], w)
    b = np.arange(n, dtype=np.int64)[:, None, None, None]
    yf, yl = y_first[None, :, None, None], y_last[None, :, None, None]
    xf, xl = x_first[None, None, :, None], x_last[None, None, :, None]
    cl, chh = ch_lo.astype(np.int64)[None, None, None, :], ch_hi.astype(np.int64)[None, None, None, :]
    lo = ((b * h + yf) * w + xf) * c_in + cl
    hi = ((b * h + yl) * w + xl) * c_in + chh
    valid = (yf >= 0) & (xf >= 0)
    lo = np.where(valid, lo, NO_READ_LO)
    hi = np.where(valid, hi, NO_READ_HI)
    shape = (n, oh, ow, oc)
    return ReadMap(np.broadcast_to(lo, shape).reshape(-1), np.broadcast_to(hi, shape).reshape(-1))


def _elementwise_reads(size: int) -> ReadMap:
    idx = np.arange(size, dtype=np.int64)
    return ReadMap(idx, idx)


def _broadcast(out_shape: tuple[int, ...], in1: tuple[int, ...], in2: tuple[int, ...]) -> dict[str, Any]:
    """Output dims and per-input strides (0 where an input broadcasts), padded to 6 dimensions."""
    rank = 6
    _require(len(out_shape) <= rank, f"rank {len(out_shape)} broadcast")

    def pad(shape: tuple[int, ...]) -> list[int]:
        return [1] * (rank - len(shape)) + list(shape)

    out = pad(out_shape)
    result: dict[str, Any] = {"out_dims": out}
    for key, shape in (("in1_strides", in1), ("in2_strides", in2)):
        dims = pad(shape)
        strides = [0] * rank
        step = 1
        for i in range(rank - 1, -1, -1):
            if dims[i] == out[i]:
                strides[i] = step if dims[i] > 1 else 0
            elif dims[i] == 1:
                strides[i] = 0
            else:
                raise Unsupported(f"shapes {list(in1)} and {list(in2)} do not broadcast to {list(out_shape)}")
            step *= dims[i]
        result[key] = strides
    return result


def _broadcast_reads(bc: dict[str, Any], key: str) -> ReadMap:
    dims = bc["out_dims"]
    strides = bc[key]
    idx = np.zeros(dims, dtype=np.int64)
    for axis, (d, s) in enumerate(zip(dims, strides, strict=True)):
        shape = [1] * len(dims)
        shape[axis] = d
        idx = idx + (np.arange(d, dtype=np.int64) * s).reshape(shape)
    flat = idx.reshape(-1)
    return ReadMap(flat, flat)


def requant_fast_ok(flt: Tensor, bias_index: int, graph: Graph, mults: list[tuple[int, int]], in_zp: int,
                    out_zp: int, depthwise: bool) -> int:
    """Which short requantization (ek_dsp.h ek_rq_fast) the optimized kernels may use for this
    convolution, proved for every possible input: 0 none, 1 with the output offset folded into the
    rounding term, 2 with the offset added after the shift. The short form is one SMMULR of the doubled
    accumulator and one rounding right shift; it equals TFLM's double rounding when no channel shifts
    left or by 0 (every right shift in [1, 31]; a zero multiplier, a channel TFLM flushed, gives the
    offset whatever its shift) and nothing overflows int32: the doubled accumulator, and the shifted
    value plus its rounding term (plus offset x 2^right for 1). The accumulator's bound is the worst
    case over every input: |bias| + sum |w| * max |x - zero point|."""
    weights = np.abs(np.asarray(flt.data, dtype=np.int64))
    per_channel = weights.reshape(-1, weights.shape[-1]).sum(axis=0) if depthwise else \
        weights.reshape(weights.shape[0], -1).sum(axis=1)
    x_max = max(abs(INT8_MIN - in_zp), abs(INT8_MAX - in_zp))
    bound = per_channel * x_max
    if bias_index >= 0:
        bias = graph.tensors[bias_index].data
        assert bias is not None
        bound = bound + np.abs(np.asarray(bias, dtype=np.int64)).reshape(-1)
    limit = 1 << 31
    level = 1
    for acc_max, (multiplier, shift) in zip(bound.tolist(), mults, strict=True):
        if multiplier == 0:
            continue  # SMMULR by 0 is 0 whatever the doubled accumulator wrapped to
        right = -shift
        if multiplier < 1 << 30:
            return 0  # not normalized as TFLM's are: CONV_2D's table trick (2M - 2^32, pack_requant_dsp) needs it
        if 2 * acc_max >= limit or right < 1 or right > 31 or acc_max + 2 + (1 << (right - 1)) >= limit:
            return 0
        if acc_max + 2 + (1 << (right - 1)) + abs(out_zp) * (1 << right) >= limit:
            level = 2
    return level


def _requant_arrays(mults: list[tuple[int, int]]) -> list[tuple[str, str, Sequence[int]]]:
    return [("mult", "int32_t", [m for m, _ in mults]), ("shift", "int8_t", [s for _, s in mults])]


# ------------------------------------------------------------------------------------------------
# Ops


def _conv_common(graph: Graph, op: Operator, depthwise: bool) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    flt = _tensor(graph, op.inputs[1])
    bias_index = _optional_input(op, 2)
    in_scale, in_zp = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    _require(flt.dtype == "int8", f"filter is {flt.dtype}; the engine takes int8 weights")
    _const(flt, "filter", "int8")
    if bias_index >= 0:
        _const(_tensor(graph, bias_index), "bias", "int32")
    n, h, w, c = _shape4(inp, "input")
    on, oh, ow, oc = _shape4(out, "output")
    _, kh, kw, fc = _shape4(flt, "filter")
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    padding = o.get("padding", "VALID")
    out_h, pad_h = _padding(padding, sh, dh, h, kh)
    out_w, pad_w = _padding(padding, sw, dw, w, kw)
    _require((out_h, out_w) == (oh, ow) and on == n, "output shape does not match the op's geometry")

    fq = flt.quantization
    _require(fq is not None and len(fq.scales) >= 1, "filter is not quantized")
    assert fq is not None
    if depthwise:
        dm = int(o.get("depth_multiplier", 1))
        _require(flt.shape[0] == 1 and fc == oc and oc == c * dm,
                 "depthwise filter does not match the depth multiplier")
        filter_in_c = 1
    else:
        dm = 1
        filter_in_c = fc
        _require(flt.shape[0] == oc and c % fc == 0 and oc % (c // fc) == 0, "filter does not match the channels")
    _require(len(fq.scales) in (1, oc), "per-channel scales do not match the output channels")
    scales = list(fq.scales) if len(fq.scales) == oc else [fq.scales[0]] * oc
    # PopulateConvolutionQuantizationParams: everything in double, per output channel.
    mults = [quantize_multiplier(float(in_scale) * float(s) / float(out_scale)) for s in scales]
    act_min, act_max = _activation(op, out_scale, out_zp)

    if depthwise:
        ch = np.arange(oc) // dm
        ch_lo, ch_hi = ch, ch
    else:
        group = np.arange(oc) // (oc // (c // fc))
        ch_lo, ch_hi = group * fc, group * fc + fc - 1
    reads = _window_reads((n, h, w, c), (n, oh, ow, oc), (sh, sw), (dh, dw), (pad_h, pad_w), (kh, kw), ch_lo, ch_hi)
    bias_ref = f"{{t{bias_index}}}" if bias_index >= 0 else "NULL"
    fn = "ek_depthwise_conv_2d_s8" if depthwise else "ek_conv_2d_s8"
    return Lowered(
        op=op,
        kernel="depthwise_conv_2d.c" if depthwise else "conv_2d.c",
        params_type="ek_conv_params_t",
        params=[
            ("batches", n), ("in_h", h), ("in_w", w), ("in_c", c), ("out_h", oh), ("out_w", ow), ("out_c", oc),
            ("filter_h", kh), ("filter_w", kw), ("filter_in_c", filter_in_c), ("depth_multiplier", dm),
            ("stride_h", sh), ("stride_w", sw), ("dilation_h", dh), ("dilation_w", dw),
            ("pad_h", pad_h), ("pad_w", pad_w), ("input_offset", -in_zp), ("output_offset", out_zp),
            ("act_min", act_min), ("act_max", act_max), ("reverse", 0),
            ("requant_fast", requant_fast_ok(flt, bias_index, graph, mults, in_zp, out_zp, depthwise)),
        ],
        arrays=_requant_arrays(mults),
        call=f"{fn}(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.inputs[1]}}}, {bias_ref}, {{a_mult}}, {{a_shift}}, "
        f"{{t{op.outputs[0]}}}, {{scratch}});",
        reads={0: reads},
        note=f"{kh}x{kw} stride {sh}x{sw} dilation {dh}x{dw} {padding} {o.get('fused_activation_function', 'NONE')}",
    )


DW_MAX_TAPS = 25  # EK_DW_MAX_TAPS in firmware/kernels/include/ek_dsp.h


def dsp_depthwise_fast(params: dict[str, Any]) -> bool:
    """EK_DW_FAST: the Arm DSP DEPTHWISE_CONV_2D's fast path, with packed weights and a padding row."""
    dm = int(params["depth_multiplier"])
    return ((dm == 1 or dm % 4 == 0) and int(params["out_c"]) % 4 == 0
            and int(params["filter_h"]) * int(params["filter_w"]) <= DW_MAX_TAPS)


def kernel_scratch_bytes(low: Lowered, family: str) -> int:
    """Working memory a kernel variant needs for this layer (firmware ek_dsp.h). The Arm DSP CONV_2D
    widens two input patches to int16: 2 x EK_CONV_COLS(filter_h, filter_w, filter_in_c) values (3 when
    filter_in_c % 4 != 0: a staging row); its
    DEPTHWISE_CONV_2D keeps a row of in_c input zero points for the taps in the padding."""
    if family != "arm_dsp":
        return 0
    params = dict(low.params)
    if low.kernel == "conv_2d.c":
        cols = -(-int(params["filter_h"]) * int(params["filter_w"]) * int(params["filter_in_c"]) // 4) * 4
        # Grouped and narrow (filter_in_c % 4 != 0): + a staging row to reorder the patches.
        rows = 3 if int(params["filter_in_c"]) % 4 and not _dsp_conv_narrow(params) else 2
        return rows * cols * 2
    if low.kernel == "depthwise_conv_2d.c" and dsp_depthwise_fast(params):
        return -(-int(params["in_c"]) // 4) * 4
    return 0


DW_TILE_MAX, DW_TILE_SLOTS = 8, 72  # EK_DW_TILE_MAX, EK_DW_TILE_SLOTS in ek_dsp.h


def dsp_depthwise_tile(taps: int) -> int:
    """EK_DW_TILE: output pixels per tile of the Arm DSP DEPTHWISE_CONV_2D fast path."""
    return min(DW_TILE_MAX, DW_TILE_SLOTS // taps)


def tile_reads(reads: ReadMap, pixels: int, tile: int) -> ReadMap:
    """The read pattern of a kernel that computes `tile` consecutive output pixels together: each
    output is taken to read everything its tile reads (a superset is safe for the planner)."""
    lo = reads.lo.reshape(pixels, -1).min(axis=1)
    hi = reads.hi.reshape(pixels, -1).max(axis=1)
    starts = np.arange(0, pixels, tile)
    tile_lo = np.repeat(np.minimum.reduceat(lo, starts), tile)[:pixels]
    tile_hi = np.repeat(np.maximum.reduceat(hi, starts), tile)[:pixels]
    per_pixel = reads.lo.size // pixels
    return ReadMap(np.repeat(tile_lo, per_pixel), np.repeat(tile_hi, per_pixel), reads.reversible)


def pack_depthwise_filter_dsp(filt: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights [1, kh, kw, out_c] as the Arm DSP fast path streams them: per group
    of 4 channels, each tap's weights widened to two words of int16 pairs, (w0 | w2 << 16) then
    (w1 | w3 << 16), taps in row-major order (int32 values)."""
    taps = filt.reshape(-1, filt.shape[-1]).astype(np.int64)  # [tap, channel]
    groups = taps.shape[1] // 4
    quads = taps.reshape(taps.shape[0], groups, 4).transpose(1, 0, 2)  # [group, tap, 4]
    lo, hi = quads[..., [0, 1]] & 0xFFFF, quads[..., [2, 3]] & 0xFFFF
    words = lo | (hi << 16)
    return np.where(words >= 1 << 31, words - (1 << 32), words).reshape(-1).astype(np.int32)


def pack_depthwise_requant_dsp(filt: np.ndarray, bias: Sequence[int] | None, mults: Sequence[int],
                               shifts: Sequence[int], input_offset: int, folded: int) -> np.ndarray:
    """The Arm DSP DEPTHWISE_CONV_2D fast path's filter for a layer whose requant_fast is set: per group
    of 4 channels its packed weights (pack_depthwise_filter_dsp, 2 words per tap) then 16 words of
    requantization, {bias x4, 2M - 2^32 x4, round x4, right x4} (requant_rows_dsp's fields, by field
    so that one base register reaches all of them with immediate offsets).
    The bias has the input offset folded in, bias + input_offset x sum of the channel's weights over
    every tap: padding taps read the input zero point (the kernel's pad row), which adds zero point x w
    to the plain sum, and (zero point + input_offset) x w = 0, so sum w x + that constant is TFLM's
    sum over the valid taps of w (x + input_offset) exactly. The kernel then widens inputs without
    adding the offset, which frees the register that held it.
    Flushed channels (multiplier 0) get zero weights and a zero bias (see pack_requant_dsp)."""
    weights = np.array(filt, dtype=np.int64).reshape(-1, filt.shape[-1])  # [tap, channel]
    weights[:, np.asarray(mults, dtype=np.int64) == 0] = 0
    base = np.zeros(weights.shape[1], dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    folded_bias = base.reshape(-1) + int(input_offset) * weights.sum(axis=0)
    if np.abs(folded_bias).max(initial=0) >= 1 << 31:
        raise ValueError("the bias with the input offset folded in leaves int32; requant_fast should be 0")
    table = requant_rows_dsp(folded_bias.tolist(), mults, shifts, folded).reshape(-1, 4, RQ_DSP_WORDS)
    by_field = table.transpose(0, 2, 1).reshape(table.shape[0], -1)  # [group, field x 4 channels]
    packed = pack_depthwise_filter_dsp(weights.reshape(filt.shape)).reshape(table.shape[0], -1)
    return np.concatenate([packed, by_field], axis=1).reshape(-1).astype(np.int32)


CONV_NARROW_MAX_OUT_C = 32  # EK_CONV_NARROW_MAX_OUT_C in ek_dsp.h


def _dsp_conv_narrow(params: dict[str, Any]) -> bool:
    """EK_CONV_NARROW: the Arm DSP CONV_2D's narrow-input path (conv_2d.c narrow_path): one group,
    filter_in_c % 4 != 0, few output channels."""
    fc = int(params["filter_in_c"])
    return fc == int(params["in_c"]) and fc % 4 != 0 and int(params["out_c"]) <= CONV_NARROW_MAX_OUT_C


def pack_conv_filter_narrow(filt: np.ndarray) -> np.ndarray:
    """CONV_2D weights [out_c, kh, kw, in_c] for the Arm DSP narrow-input path, as int32 words of two
    int16 taps (tap 2k in the low half): depth zero-padded to a multiple of 4; per output channel pair,
    each 2 taps' word of the first channel then of the second; an odd last channel's words alone."""
    out_c = filt.shape[0]
    rows = filt.reshape(out_c, -1).astype(np.int64)
    cols = -(-rows.shape[1] // 4) * 4
    rows = np.pad(rows, ((0, 0), (0, cols - rows.shape[1])))
    words = (rows[:, 0::2] & 0xFFFF) | ((rows[:, 1::2] & 0xFFFF) << 16)  # [out_c, cols / 2]
    parts = [np.stack([words[oc], words[oc + 1]], axis=1).reshape(-1) for oc in range(0, out_c - 1, 2)]
    if out_c % 2:
        parts.append(words[-1])
    packed = np.concatenate(parts)
    return np.where(packed >= 1 << 31, packed - (1 << 32), packed).astype(np.int32)


def pack_conv_filter_dsp(filt: np.ndarray, groups: int) -> np.ndarray:
    """CONV_2D weights [out_c, kh, kw, in_c/groups] in the order the Arm DSP kernel streams them: in
    each group, output channels in pairs from the group's first, each pair interleaved 4 bytes of one,
    4 of the other, then the two channels' last depth % 4 bytes one after the other; a group's odd
    last channel stays as it is. Every channel keeps its place (a pair starts at 2 * depth * pair), so
    the size does not change."""
    out_c = filt.shape[0]
    rows = filt.reshape(out_c, -1)
    depth = rows.shape[1]
    whole = depth // 4 * 4
    per_group = out_c // groups
    packed = []
    for g in range(groups):
        first, last = g * per_group, (g + 1) * per_group
        for oc in range(first, last - 1, 2):
            a, b = rows[oc], rows[oc + 1]
            body = np.stack([a[:whole].reshape(-1, 4), b[:whole].reshape(-1, 4)], axis=1).reshape(-1)
            packed += [body, a[whole:], b[whole:]]
        if per_group % 2:
            packed.append(rows[last - 1])
    return np.concatenate(packed).astype(np.int8)


RQ_DSP_WORDS = 4  # EK_RQ_WORDS in ek_dsp.h: bias, multiplier, round, right per output channel


def requant_rows_dsp(bias: Sequence[int] | None, mults: Sequence[int], shifts: Sequence[int],
                     folded: int) -> np.ndarray:
    """The Arm DSP kernels' requantization words, one row per output channel: {bias, 2 x multiplier -
    2^32, round, right} as int32, where right = -shift and round = 2^(right - 1) + folded x 2^right,
    wrapped to 32 bits as ek_rq_fast_setup's unsigned arithmetic wraps. Why that multiplier: SMMLAR(acc,
    2M - 2^32, acc) is SMMULR(2 acc, M) without doubling acc first, one instruction less per output.
    `folded`: the output offset with requant_fast 1, else 0; `bias` None: a layer without one (0).
    A flushed channel (multiplier 0) gets bias 0, multiplier 0 and right = 1 whatever its shift: with
    its weights zeroed (flushed_channels_zeroed) its sum is 0, and (0 + round) >> 1 the folded offset.
    pack_requant_dsp (CONV_2D) and pack_depthwise_requant_dsp lay the rows out for their kernels."""
    n = len(mults)
    table = np.zeros((n, RQ_DSP_WORDS), dtype=np.int64)
    if bias is not None:
        table[:, 0] = np.asarray(bias, dtype=np.int64).reshape(-1)
    for c, (m, s) in enumerate(zip(mults, shifts, strict=True)):
        right = 1 if m == 0 else -int(s)
        if not 1 <= right <= 31:
            raise ValueError(f"channel {c}: right shift {right} is not in [1, 31]; requant_fast should be 0")
        if m == 0:
            table[c, 0] = 0
        table[c, 1:] = ((2 * int(m)) % (1 << 32), ((1 << (right - 1)) + (int(folded) << right)) % (1 << 32), right)
    return np.where(table >= 1 << 31, table - (1 << 32), table)


def pack_requant_dsp(bias: Sequence[int] | None, mults: Sequence[int], shifts: Sequence[int],
                     folded: int) -> np.ndarray:
    """The Arm DSP CONV_2D's requantization table (ek_dsp.h EK_RQ_WORDS), for a layer whose
    requant_fast is set: requant_rows_dsp laid out per channel pair as {bias0, bias1, mult0, mult1,
    round0, round1, right0, right1} (EK_RQ_AT), an odd channel count padded with {0, 0, 1, 1}.
    Why a table: the kernel would otherwise gather bias, multiplier and shift from three arrays and
    redo that set-up for every channel of every pixel pair, which on 1x1 layers costs a quarter of
    the MAC loop; with the table it reads consecutive words."""
    table = requant_rows_dsp(bias, mults, shifts, folded)
    if len(mults) % 2:
        table = np.concatenate([table, [[0, 0, 1, 1]]])
    # Per channel pair, each field's two words side by side (ek_dsp.h EK_RQ_AT): the kernel's pair loop
    # loads the two biases, then the six requantization words, with one LDM each.
    return table.reshape(-1, 2, RQ_DSP_WORDS).transpose(0, 2, 1).reshape(-1).astype(np.int32)


def flushed_channels_zeroed(filt: np.ndarray, mults: Sequence[int]) -> np.ndarray:
    """CONV_2D weights [out_c, ...] with the rows of flushed channels (multiplier 0) set to 0: with the
    requantization table (pack_requant_dsp) their sum must be 0, whatever the input, for the output to
    be the offset TFLM gives them."""
    zero = np.asarray(mults, dtype=np.int64) == 0
    if not zero.any():
        return filt
    out = np.array(filt, copy=True)
    out[zero] = 0
    return out


def _use_requant_table_dsp(graph: Graph, low: Lowered) -> None:
    """Give an Arm DSP CONV_2D layer with requant_fast set its requantization table in place of `bias`
    (and NULL multiplier and shift), so that the kernel's signature stays the reference one; the table
    replaces the three arrays in flash."""
    params = dict(low.params)
    level = int(params["requant_fast"])
    arrays = dict((suffix, values) for suffix, _, values in low.arrays)
    bias_index = _optional_input(low.op, 2)
    bias = graph.tensors[bias_index].data if bias_index >= 0 else None
    folded = int(params["output_offset"]) if level == 1 else 0
    table = pack_requant_dsp(None if bias is None else np.asarray(bias).tolist(), list(arrays["mult"]),
                             list(arrays["shift"]), folded)
    low.arrays = [a for a in low.arrays if a[0] not in ("mult", "shift")] + [("rq_dsp", "int32_t", table.tolist())]
    bias_ref = f"{{t{bias_index}}}" if bias_index >= 0 else "NULL"
    old = f", {bias_ref}, {{a_mult}}, {{a_shift}}, "
    assert old in low.call, low.call
    low.call = low.call.replace(old, ", {a_rq_dsp}, NULL, NULL, ")


def adapt_for_family(graph: Graph, low: Lowered, family: str) -> Lowered:
    """The layer as the kernel of `family` wants it: its scratch memory, and weights re-laid out on
    the host where the variant streams them differently (the reference layout otherwise). Arm DSP
    CONV_2D layers with requant_fast set also take their requantization table (pack_requant_dsp)."""
    if family == "helium":
        from edgekit.codegen.engine_pack_helium import adapt_for_helium  # it imports this module

        return adapt_for_helium(graph, low)
    low.scratch_bytes = kernel_scratch_bytes(low, family)
    if family == "arm_dsp" and low.kernel in ("conv_2d.c", "depthwise_conv_2d.c"):
        # ek_rq_fast takes a flushed channel (multiplier 0) with a right shift of 1: 0 either way.
        arrays = dict((suffix, values) for suffix, _, values in low.arrays)
        shifts = [-1 if m == 0 else s for m, s in zip(arrays["mult"], arrays["shift"], strict=True)]
        low.arrays = [(suffix, ctype, shifts if suffix == "shift" else values) for suffix, ctype, values in low.arrays]
    if family == "arm_dsp" and low.kernel == "conv_2d.c":
        params = dict(low.params)
        filt_index = low.op.inputs[1]
        filt = graph.tensors[filt_index].data
        assert filt is not None
        groups = int(params["in_c"]) // int(params["filter_in_c"])
        if int(params["requant_fast"]):
            mults = [m for suffix, _, values in low.arrays if suffix == "mult" for m in values]
            filt = flushed_channels_zeroed(np.asarray(filt), mults)
        if _dsp_conv_narrow(params):
            low.arrays = [*low.arrays, ("filter_dsp", "int32_t", pack_conv_filter_narrow(np.asarray(filt)).tolist())]
            low.call = low.call.replace(f"{{t{filt_index}}}", "(const int8_t *){a_filter_dsp}")
        else:
            packed = pack_conv_filter_dsp(np.asarray(filt), groups)
            low.arrays = [*low.arrays, ("filter_dsp", "int8_t", packed.tolist())]
            low.call = low.call.replace(f"{{t{filt_index}}}", "{a_filter_dsp}")
        if int(params["requant_fast"]):
            _use_requant_table_dsp(graph, low)
    elif family == "arm_dsp" and low.kernel == "depthwise_conv_2d.c" and dsp_depthwise_fast(dict(low.params)):
        filt_index = low.op.inputs[1]
        filt = graph.tensors[filt_index].data
        assert filt is not None
        params = dict(low.params)
        level = int(params["requant_fast"])
        if level:
            # Weights and requantization in one array (the kernel reads NULL bias, multiplier, shift).
            arrays = dict((suffix, values) for suffix, _, values in low.arrays)
            bias_index = _optional_input(low.op, 2)
            bias = graph.tensors[bias_index].data if bias_index >= 0 else None
            packed = pack_depthwise_requant_dsp(np.asarray(filt), None if bias is None else np.asarray(bias).tolist(),
                                                list(arrays["mult"]), list(arrays["shift"]),
                                                int(params["input_offset"]),
                                                int(params["output_offset"]) if level == 1 else 0)
            low.arrays = [a for a in low.arrays if a[0] not in ("mult", "shift")]
            bias_ref = f"{{t{bias_index}}}" if bias_index >= 0 else "NULL"
            old = f", {bias_ref}, {{a_mult}}, {{a_shift}}, "
            assert old in low.call, low.call
            low.call = low.call.replace(old, ", NULL, NULL, NULL, ")
        else:
            packed = pack_depthwise_filter_dsp(np.asarray(filt))
        low.arrays = [*low.arrays, ("filter_dsp", "int32_t", packed.tolist())]
        low.call = low.call.replace(f"{{t{filt_index}}}", "(const int8_t *){a_filter_dsp}")
        pixels = int(params["batches"]) * int(params["out_h"]) * int(params["out_w"])
        tile = dsp_depthwise_tile(int(params["filter_h"]) * int(params["filter_w"]))
        low.reads = {**low.reads, 0: tile_reads(low.reads[0], pixels, tile)}
    return low


def lower_conv_2d(graph: Graph, op: Operator) -> Lowered:
    return _conv_common(graph, op, depthwise=False)


def lower_depthwise_conv_2d(graph: Graph, op: Operator) -> Lowered:
    return _conv_common(graph, op, depthwise=True)


def lower_fully_connected(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    flt = _tensor(graph, op.inputs[1])
    bias_index = _optional_input(op, 2)
    in_scale, in_zp = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    _require(op.options.get("weights_format", "DEFAULT") == "DEFAULT", "shuffled weights")
    _const(flt, "weights", "int8")
    if bias_index >= 0:
        _const(_tensor(graph, bias_index), "bias", "int32")
    _require(len(flt.shape) == 2, "weights are not 2-D")
    out_depth, depth = flt.shape
    _require(out.shape[-1] == out_depth and out.num_elements % out_depth == 0, "output does not match the weights")
    batches = out.num_elements // out_depth
    _require(inp.num_elements == batches * depth, "input does not match the weights")
    fq = flt.quantization
    _require(fq is not None, "weights are not quantized")
    assert fq is not None
    per_channel = len(fq.scales) > 1
    if per_channel:
        _require(len(fq.scales) == out_depth, "per-channel scales do not match the outputs")
        mults = [quantize_multiplier(float(in_scale) * float(s) / float(out_scale)) for s in fq.scales]
        filter_offset = 0
    else:
        # GetQuantizedConvolutionMultipler: the product of the two scales is taken in float32.
        product = float(np.float32(in_scale) * np.float32(fq.scales[0]))
        mults = [quantize_multiplier(product / float(out_scale))]
        filter_offset = -int(fq.zero_points[0])
    act_min, act_max = _activation(op, out_scale, out_zp)
    rows = np.repeat(np.arange(batches, dtype=np.int64), out_depth)
    reads = ReadMap(rows * depth, rows * depth + depth - 1)
    bias_ref = f"{{t{bias_index}}}" if bias_index >= 0 else "NULL"
    return Lowered(
        op=op,
        kernel="fully_connected.c",
        params_type="ek_fc_params_t",
        params=[
            ("batches", batches), ("accum_depth", depth), ("out_depth", out_depth),
            ("input_offset", -in_zp), ("filter_offset", filter_offset), ("output_offset", out_zp),
            ("act_min", act_min), ("act_max", act_max), ("per_channel", int(per_channel)), ("reverse", 0),
        ],
        arrays=_requant_arrays(mults),
        call=f"ek_fully_connected_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.inputs[1]}}}, {bias_ref}, {{a_mult}}, "
        f"{{a_shift}}, {{t{op.outputs[0]}}});",
        reads={0: reads},
        note=f"{depth} -> {out_depth}, {'per-channel' if per_channel else 'per-tensor'}, "
        f"{op.options.get('fused_activation_function', 'NONE')}",
    )


def _pool(graph: Graph, op: Operator, average: bool) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    in_scale, in_zp = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    # PoolingPrepare insists on equal quantization, which is what lets the kernel skip requantizing.
    _require(abs(np.float32(in_scale) - np.float32(out_scale)) <= 1.0e-6 and in_zp == out_zp,
             "input and output quantization differ")
    n, h, w, c = _shape4(inp, "input")
    on, oh, ow, oc = _shape4(out, "output")
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    kh, kw = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    padding = o.get("padding", "VALID")
    out_h, pad_h = _padding(padding, sh, 1, h, kh)
    out_w, pad_w = _padding(padding, sw, 1, w, kw)
    _require((out_h, out_w, oc, on) == (oh, ow, c, n), "output shape does not match the op's geometry")
    act_min, act_max = _activation(op, out_scale, out_zp)
    ch = np.arange(c)
    reads = _window_reads((n, h, w, c), (n, oh, ow, c), (sh, sw), (1, 1), (pad_h, pad_w), (kh, kw), ch, ch)
    fn = "ek_average_pool_2d_s8" if average else "ek_max_pool_2d_s8"
    return Lowered(
        op=op,
        kernel="average_pool_2d.c" if average else "max_pool_2d.c",
        params_type="ek_pool_params_t",
        params=[
            ("batches", n), ("in_h", h), ("in_w", w), ("channels", c), ("out_h", oh), ("out_w", ow),
            ("filter_h", kh), ("filter_w", kw), ("stride_h", sh), ("stride_w", sw), ("pad_h", pad_h),
            ("pad_w", pad_w), ("act_min", act_min), ("act_max", act_max), ("reverse", 0),
        ],
        call=f"{fn}(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        status=average,
        reads={0: reads},
        note=f"{kh}x{kw} stride {sh}x{sw} {padding}",
    )


def lower_average_pool_2d(graph: Graph, op: Operator) -> Lowered:
    return _pool(graph, op, average=True)


def lower_max_pool_2d(graph: Graph, op: Operator) -> Lowered:
    return _pool(graph, op, average=False)


def _binary_shape(graph: Graph, op: Operator) -> tuple[dict[str, Any], dict[int, ReadMap], list[tuple[str, Any]]]:
    a, b, out = (_tensor(graph, i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    _require(a.dtype == b.dtype == out.dtype, "mixed element types")
    if a.shape == b.shape == out.shape:
        size = out.num_elements
        fields: dict[str, Any] = {"broadcast": 0, "size": size, "out_dims": [1] * 5 + [size],
                                  "in1_strides": [0] * 5 + [1], "in2_strides": [0] * 5 + [1]}
        reads = {0: _elementwise_reads(size), 1: _elementwise_reads(size)}
    else:
        bc = _broadcast(out.shape, a.shape, b.shape)
        fields = {"broadcast": 1, "size": out.num_elements, **bc}
        reads = {0: _broadcast_reads(bc, "in1_strides"), 1: _broadcast_reads(bc, "in2_strides")}
    fields["reverse"] = 0
    shape_fields = [(k, fields[k]) for k in ("broadcast", "reverse", "size", "out_dims", "in1_strides", "in2_strides")]
    return fields, reads, shape_fields


def lower_add(graph: Graph, op: Operator) -> Lowered:
    a, b, out = (_tensor(graph, i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    s1, z1 = _int8_activation(a, "input 1")
    s2, z2 = _int8_activation(b, "input 2")
    so, zo = _int8_activation(out, "output")
    _, reads, shape_fields = _binary_shape(graph, op)
    left_shift = 20
    # CalculateOpDataAdd: the larger input scale (compared as float) sets the common scale.
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1 = quantize_multiplier(float(s1) / twice_max)
    m2 = quantize_multiplier(float(s2) / twice_max)
    mo = quantize_multiplier(twice_max / ((1 << left_shift) * float(so)))
    act_min, act_max = _activation(op, so, zo)
    return Lowered(
        op=op,
        kernel="add.c",
        params_type="ek_add_params_t",
        params=[
            ("shape", shape_fields), ("input1_offset", -z1), ("input2_offset", -z2), ("output_offset", zo),
            ("left_shift", left_shift), ("input1_multiplier", m1[0]), ("input1_shift", m1[1]),
            ("input2_multiplier", m2[0]), ("input2_shift", m2[1]), ("output_multiplier", mo[0]),
            ("output_shift", mo[1]), ("act_min", act_min), ("act_max", act_max),
        ],
        call=f"ek_add_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.inputs[1]}}}, {{t{op.outputs[0]}}});",
        reads=reads,
        note=op.options.get("fused_activation_function", "NONE"),
    )


def lower_mul(graph: Graph, op: Operator) -> Lowered:
    a, b, out = (_tensor(graph, i) for i in (op.inputs[0], op.inputs[1], op.outputs[0]))
    s1, z1 = _int8_activation(a, "input 1")
    s2, z2 = _int8_activation(b, "input 2")
    so, zo = _int8_activation(out, "output")
    _, reads, shape_fields = _binary_shape(graph, op)
    m = quantize_multiplier(float(s1) * float(s2) / float(so))
    act_min, act_max = _activation(op, so, zo)
    return Lowered(
        op=op,
        kernel="mul.c",
        params_type="ek_mul_params_t",
        params=[
            ("shape", shape_fields), ("input1_offset", -z1), ("input2_offset", -z2), ("output_offset", zo),
            ("output_multiplier", m[0]), ("output_shift", m[1]), ("act_min", act_min), ("act_max", act_max),
        ],
        call=f"ek_mul_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.inputs[1]}}}, {{t{op.outputs[0]}}});",
        reads=reads,
        note=op.options.get("fused_activation_function", "NONE"),
    )


def lower_softmax(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    in_scale, _ = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    # SoftmaxPrepare's int8 -> int8 requirement; the kernel bakes it in.
    _require(out_zp == -128 and np.float32(out_scale) == np.float32(1.0 / 256), "output is not scale 1/256, zp -128")
    _require(len(inp.shape) >= 1 and inp.shape == out.shape, "input and output shapes differ")
    depth = inp.shape[-1]
    outer = inp.num_elements // depth if depth else 0
    mult, shift, diff_min = softmax_params(float(op.options.get("beta", 1.0)), in_scale)
    rows = np.repeat(np.arange(outer, dtype=np.int64), depth)
    # The row is read whole (max, sum) before its first output is written; no reversed variant.
    reads = ReadMap(rows * depth, rows * depth + depth - 1, reversible=False)
    return Lowered(
        op=op,
        kernel="softmax.c",
        params_type="ek_softmax_params_t",
        params=[("outer", outer), ("depth", depth), ("input_multiplier", mult), ("input_left_shift", shift),
                ("diff_min", diff_min)],
        call=f"ek_softmax_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: reads},
        note=f"beta {op.options.get('beta', 1.0)}",
    )


def lower_reshape(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    _require(inp.dtype == out.dtype and inp.nbytes == out.nbytes, "input and output sizes differ")
    if not inp.is_constant:
        return Lowered(op=op, kernel="", alias=True, note="alias of its input: no code")
    return Lowered(op=op, kernel="reshape.c", call=f"ek_copy({{t{op.inputs[0]}}}, {{t{op.outputs[0]}}}, {out.nbytes});",
                   note="copy of a constant")


def _unary_int8(graph: Graph, op: Operator) -> tuple[Tensor, Tensor, float, int, float, int]:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    in_scale, in_zp = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    _require(inp.num_elements == out.num_elements, "input and output sizes differ")
    return inp, out, in_scale, in_zp, out_scale, out_zp


def _unary(op: Operator, kernel: str, fn: str, params_type: str, params: list[tuple[str, Any]], size: int,
           note: str = "") -> Lowered:
    return Lowered(
        op=op,
        kernel=kernel,
        params_type=params_type,
        params=[("size", size), ("reverse", 0), *params],
        call=f"{fn}(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: _elementwise_reads(size)},
        note=note,
    )


def lower_relu(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, out_scale, out_zp = _unary_int8(graph, op)
    # CalculateReluOpData: the scale ratio in float32, the lower bound from roundf(0 / scale).
    m = quantize_multiplier(float(np.float32(in_scale) / np.float32(out_scale)))
    return _unary(op, "relu.c", "ek_relu_s8", "ek_relu_params_t", [
        ("input_zero_point", in_zp), ("output_zero_point", out_zp), ("multiplier", m[0]), ("shift", m[1]),
        ("act_min", max(-128, out_zp)), ("act_max", 127)], inp.num_elements)


def lower_relu6(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, _, _ = _unary_int8(graph, op)
    # Relu6Prepare works in the input's quantization only; the output's is not looked at.
    six = max(-128, min(127, quantize_value_f32_round(6.0, in_scale) + in_zp))
    return _unary(op, "relu6.c", "ek_relu6_s8", "ek_relu6_params_t", [("lower", in_zp), ("upper", six)],
                  inp.num_elements)


def _sigmoid_params(in_scale: float, in_zp: int) -> list[tuple[str, Any]]:
    # LOGISTIC and TANH Prepare: the input is brought to Q4.27 with a frexp-derived multiplier.
    mult, left_shift = quantize_multiplier_frexp(float(in_scale) * float(1 << (31 - 4)))
    radius = calculate_input_radius(4, left_shift, 31)
    return [("input_zero_point", in_zp), ("input_range_radius", radius), ("input_multiplier", mult),
            ("input_left_shift", left_shift)]


def lower_logistic(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, _, out_zp = _unary_int8(graph, op)
    _require(out_zp == -128, "output zero point is not -128")
    return _unary(op, "logistic.c", "ek_logistic_s8", "ek_sigmoid_params_t", _sigmoid_params(in_scale, in_zp),
                  inp.num_elements)


def lower_tanh(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, _, _ = _unary_int8(graph, op)
    return _unary(op, "tanh.c", "ek_tanh_s8", "ek_sigmoid_params_t", _sigmoid_params(in_scale, in_zp),
                  inp.num_elements)


def _downscale_to_int16(m: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if m >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (m + (1 << 15)) >> 16


def lower_hard_swish(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, out_scale, out_zp = _unary_int8(graph, op)
    # HardSwishPrepare, all in float32 until the ratios are widened to double.
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(in_scale)
    reluish_scale = np.float32(3.0) / np.float32(32768.0)
    out_m, out_exp = quantize_multiplier(float(hires_input_scale / np.float32(out_scale)))
    rel_m, rel_exp = quantize_multiplier(float(hires_input_scale / reluish_scale))
    _require(-15 <= out_exp <= 0 and -15 <= rel_exp <= 30, "scales outside the 16-bit fixed-point range")
    return _unary(op, "hard_swish.c", "ek_hard_swish_s8", "ek_hard_swish_params_t", [
        ("input_zero_point", in_zp), ("output_zero_point", out_zp),
        ("reluish_multiplier_fixedpoint_int16", _downscale_to_int16(rel_m)), ("reluish_multiplier_exponent", rel_exp),
        ("output_multiplier_fixedpoint_int16", _downscale_to_int16(out_m)), ("output_multiplier_exponent", out_exp),
    ], inp.num_elements)


def lower_leaky_relu(graph: Graph, op: Operator) -> Lowered:
    inp, _, in_scale, in_zp, out_scale, out_zp = _unary_int8(graph, op)
    alpha = np.float32(op.options.get("alpha", 0.2))
    # CalculateOpDataLeakyRelu: float32 arithmetic, then widened.
    ma = quantize_multiplier(float(np.float32(np.float32(in_scale) * alpha) / np.float32(out_scale)))
    mi = quantize_multiplier(float(np.float32(in_scale) / np.float32(out_scale)))
    return _unary(op, "leaky_relu.c", "ek_leaky_relu_s8", "ek_leaky_relu_params_t", [
        ("input_zero_point", in_zp), ("output_zero_point", out_zp), ("multiplier_identity", mi[0]),
        ("shift_identity", mi[1]), ("multiplier_alpha", ma[0]), ("shift_alpha", ma[1])],
        inp.num_elements, note=f"alpha {float(alpha)}")


def lower_quantize(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    out_scale, out_zp = _int8_activation(out, "output")
    size = out.num_elements
    if inp.dtype == "float32":
        return Lowered(
            op=op, kernel="quantize.c", params_type="ek_float_quant_params_t",
            params=[("size", size), ("reverse", 0), ("scale", ("float", out_scale)), ("zero_point", out_zp)],
            call=f"ek_quantize_f32_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
            reads={0: _elementwise_reads(size)}, note="float32 -> int8")
    in_scale, in_zp = _int8_activation(inp, "input")
    m = quantize_multiplier(float(in_scale) / float(out_scale))
    return _unary(op, "quantize.c", "ek_requantize_s8", "ek_requantize_params_t", [
        ("input_zero_point", in_zp), ("output_zero_point", out_zp), ("multiplier", m[0]), ("shift", m[1])],
        size, note="int8 -> int8")


def lower_dequantize(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    in_scale, in_zp = _int8_activation(inp, "input")
    _require(out.dtype == "float32", f"output is {out.dtype}, not float32")
    size = out.num_elements
    return Lowered(
        op=op, kernel="dequantize.c", params_type="ek_float_quant_params_t",
        params=[("size", size), ("reverse", 0), ("scale", ("float", in_scale)), ("zero_point", in_zp)],
        call=f"ek_dequantize_s8_f32(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: _elementwise_reads(size)}, note="int8 -> float32")


def _pad6(dims: Sequence[int], fill: int = 1) -> list[int]:
    return [fill] * (6 - len(dims)) + [int(d) for d in dims]


def _strides(dims: Sequence[int]) -> list[int]:
    result = [1] * len(dims)
    for i in range(len(dims) - 2, -1, -1):
        result[i] = result[i + 1] * int(dims[i + 1])
    return result


def _gather_reads(out_dims: list[int], in_strides: list[int], offset: int) -> ReadMap:
    idx = np.full(out_dims, offset, dtype=np.int64)
    for axis, (d, s) in enumerate(zip(out_dims, in_strides, strict=True)):
        shape = [1] * 6
        shape[axis] = d
        idx = idx + (np.arange(d, dtype=np.int64) * s).reshape(shape)
    flat = idx.reshape(-1)
    return ReadMap(flat, flat, reversible=False)


def _same_data(graph: Graph, op: Operator, inputs: Sequence[int]) -> tuple[Tensor, int]:
    """Data-movement ops: element size, and for int8 the same quantization on both sides (TFLM's
    CONCATENATION requires it; for the others a byte copy would silently change values otherwise)."""
    out = _tensor(graph, op.outputs[0])
    bits = dtype_info(out.dtype).bits
    _require(bits in (8, 16, 32) and out.dtype in ("int8", "int16", "int32", "float32"), f"type {out.dtype}")
    for i in inputs:
        t = _tensor(graph, i)
        _require(t.dtype == out.dtype, "input and output types differ")
    return out, bits // 8


def _gather_op(graph: Graph, op: Operator, kernel: str, fn: str, out_dims: list[int], in_strides: list[int],
               offset: int, elem: int, note: str) -> Lowered:
    _require(len(out_dims) <= 6, "more than 6 dimensions")
    od, st = _pad6(out_dims), _pad6(in_strides, 0)
    return Lowered(
        op=op, kernel=kernel, params_type="ek_gather_params_t",
        params=[("out_dims", od), ("in_strides", st), ("offset", offset), ("elem_bytes", elem)],
        call=f"{fn}(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: _gather_reads(od, st, offset)}, note=note)


def lower_transpose(graph: Graph, op: Operator) -> Lowered:
    inp = _tensor(graph, op.inputs[0])
    out, elem = _same_data(graph, op, [op.inputs[0]])
    perm = [int(v) for v in _const(_tensor(graph, op.inputs[1]), "permutation", "int32").reshape(-1)]
    rank = len(inp.shape)
    perm = [p + rank if p < 0 else p for p in perm]
    _require(sorted(perm) == list(range(rank)), "permutation is not a permutation of the axes")
    strides = _strides(inp.shape)
    out_dims = [inp.shape[p] for p in perm]
    _require(tuple(out_dims) == tuple(out.shape), "output shape does not match the permutation")
    return _gather_op(graph, op, "transpose.c", "ek_transpose", out_dims, [strides[p] for p in perm], 0, elem,
                      f"perm {perm}")


def lower_strided_slice(graph: Graph, op: Operator) -> Lowered:
    inp = _tensor(graph, op.inputs[0])
    out, elem = _same_data(graph, op, [op.inputs[0]])
    begin, end, strides = (
        [int(v) for v in _const(_tensor(graph, op.inputs[k]), name, "int32").reshape(-1)]
        for k, name in ((1, "begin"), (2, "end"), (3, "strides"))
    )
    o = op.options
    dims = list(inp.shape)
    rank = len(dims)
    _require(len(begin) == len(end) == len(strides) == rank, "begin/end/strides do not match the input rank")
    _require(0 not in strides, "zero stride")
    begin_mask, end_mask = int(o.get("begin_mask", 0)), int(o.get("end_mask", 0))
    shrink = int(o.get("shrink_axis_mask", 0))
    in_strides = _strides(dims)
    counts, steps, offset = [], [], 0
    for axis in range(rank):
        size, stride = dims[axis], strides[axis]

        def clamp(v: int, lo: int, hi: int) -> int:
            return hi if v > hi else (lo if v < lo else v)

        # StridedSliceStartForAxis / StridedSliceEndForAxis (TFLM passes offset = false).
        start = begin[axis] + (size if begin[axis] < 0 else 0)
        start = clamp(start, 0, size) if stride > 0 else clamp(start, -1, size - 1)
        if begin_mask & (1 << axis):
            start = 0 if stride > 0 else size - 1
        if shrink & (1 << axis):
            stop = start if start >= size else start + 1
        else:
            stop = end[axis] + (size if end[axis] < 0 else 0)
            stop = clamp(stop, 0, size) if stride > 0 else clamp(stop, -1, size - 1)
            if end_mask & (1 << axis):
                stop = size if stride > 0 else -1
        count = len(range(start, stop, stride))
        counts.append(count)
        steps.append(stride * in_strides[axis])
        if count:
            offset += start * in_strides[axis]
    _require(int(np.prod(counts)) == out.num_elements, "output size does not match the slice")
    return _gather_op(graph, op, "strided_slice.c", "ek_strided_slice", counts, steps, offset, elem,
                      f"begin {begin} end {end} strides {strides}")


def lower_pad(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    _require(inp.dtype == out.dtype == "int8", "the engine pads int8 tensors only")
    out_zp = _int8_activation(out, "output")[1]
    pads = _const(_tensor(graph, op.inputs[1]), "paddings", "int32").reshape(-1, 2)
    rank = len(inp.shape)
    _require(pads.shape[0] == rank and rank <= 6 and (pads >= 0).all(), "paddings")
    _require(tuple(int(inp.shape[i] + pads[i, 0] + pads[i, 1]) for i in range(rank)) == tuple(out.shape),
             "output shape does not match the paddings")
    value_index = _optional_input(op, 2)
    pad_value = out_zp
    if value_index >= 0:
        pad_value = int(_const(_tensor(graph, value_index), "pad value", "int8").reshape(-1)[0])
    od, idims, before = _pad6(out.shape), _pad6(inp.shape), _pad6([int(p) for p in pads[:, 0]], 0)
    # Read map: the input element each output element copies, if any.
    idx = np.zeros(od, dtype=np.int64)
    inside = np.ones(od, dtype=bool)
    istr = _strides(idims)
    for axis in range(6):
        shape = [1] * 6
        shape[axis] = od[axis]
        coord = np.arange(od[axis], dtype=np.int64) - before[axis]
        inside = inside & ((coord >= 0) & (coord < idims[axis])).reshape(shape)
        idx = idx + (coord * istr[axis]).reshape(shape)
    lo = np.where(inside, idx, NO_READ_LO).reshape(-1)
    hi = np.where(inside, idx, NO_READ_HI).reshape(-1)
    return Lowered(
        op=op, kernel="pad.c", params_type="ek_pad_params_t",
        params=[("out_dims", od), ("in_dims", idims), ("before", before), ("pad_value", pad_value)],
        call=f"ek_pad_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: ReadMap(lo, hi, reversible=False)}, note=f"paddings {pads.tolist()}")


def lower_concatenation(graph: Graph, op: Operator) -> Lowered:
    out, elem = _same_data(graph, op, op.inputs)
    _require(op.options.get("fused_activation_function", "NONE") == "NONE", "fused activation")
    _require(1 <= len(op.inputs) <= 16, "more than 16 inputs")
    if out.dtype == "int8":
        so, zo = _int8_activation(out, "output")
        for i in op.inputs:
            s, z = _int8_activation(_tensor(graph, i), "input")
            _require(np.float32(s) == np.float32(so) and z == zo, "inputs and output are quantized differently")
    rank = len(out.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    _require(0 <= axis < rank, "axis out of range")
    outer = int(np.prod(out.shape[:axis], dtype=np.int64))
    inner = int(np.prod(out.shape[axis + 1:], dtype=np.int64))
    chunks = [int(_tensor(graph, i).shape[axis]) * inner for i in op.inputs]
    row = sum(chunks)
    reads = {}
    for pos in range(len(op.inputs)):
        lo = np.full(outer * row, NO_READ_LO, dtype=np.int64)
        hi = np.full(outer * row, NO_READ_HI, dtype=np.int64)
        start = sum(chunks[:pos])
        for r in range(outer):
            src = np.arange(r * chunks[pos], (r + 1) * chunks[pos], dtype=np.int64)
            lo[r * row + start : r * row + start + chunks[pos]] = src
            hi[r * row + start : r * row + start + chunks[pos]] = src
        reads[pos] = ReadMap(lo, hi, reversible=False)
    ptrs = ", ".join(f"{{t{i}}}" for i in op.inputs)
    return Lowered(
        op=op, kernel="concatenation.c", params_type="ek_concat_params_t",
        params=[("num_inputs", len(op.inputs)), ("outer", outer), ("chunk_bytes", [c * elem for c in chunks])],
        call=f"const void *inputs[{len(op.inputs)}] = {{{{{ptrs}}}}};\n    ek_concatenation(&{{p}}, inputs, "
        f"{{t{op.outputs[0]}}});",
        reads=reads, note=f"axis {axis}")


def lower_mean(graph: Graph, op: Operator) -> Lowered:
    inp, out = _tensor(graph, op.inputs[0]), _tensor(graph, op.outputs[0])
    in_scale, in_zp = _int8_activation(inp, "input")
    out_scale, out_zp = _int8_activation(out, "output")
    axes = [int(v) for v in _const(_tensor(graph, op.inputs[1]), "axis", "int32").reshape(-1)]
    rank = len(inp.shape)
    _require(rank <= 6, "more than 6 dimensions")
    resolved = sorted({a + rank if a < 0 else a for a in axes})
    _require(all(0 <= a < rank for a in resolved), "axis out of range")
    dims = [int(d) for d in inp.shape]
    strides = _strides(dims)
    kept = [1 if i in resolved else d for i, d in enumerate(dims)]
    reduced = [d if i in resolved else 1 for i, d in enumerate(dims)]
    count = int(np.prod(reduced, dtype=np.int64))
    out_size = int(np.prod(kept, dtype=np.int64))
    _require(out_size == out.num_elements and count > 0, "output shape does not match the axes")
    # PrepareMeanOrSumHelper, then QuantizedMeanOrSum folds 1/count into the multiplier at run time.
    mult, shift = quantize_multiplier(float(in_scale) / float(out_scale))
    pot = min(count.bit_length() - 1, 32, 31 + shift)
    mult = int((mult << pot) // count)
    shift -= pot
    kd, ks = _pad6(kept), _pad6(strides, 0)
    rd, rs = _pad6(reduced), _pad6(strides, 0)
    base = np.zeros(kd, dtype=np.int64)
    for axis in range(6):
        shape = [1] * 6
        shape[axis] = kd[axis]
        base = base + (np.arange(kd[axis], dtype=np.int64) * ks[axis]).reshape(shape)
    base = base.reshape(-1)
    extent = sum((d - 1) * s for d, s in zip(rd, rs, strict=True))
    return Lowered(
        op=op, kernel="mean.c", params_type="ek_mean_params_t",
        params=[("out_size", out_size), ("kept_dims", kd), ("kept_strides", ks), ("reduced_dims", rd),
                ("reduced_strides", rs), ("count", count), ("input_zero_point", in_zp),
                ("output_zero_point", out_zp), ("multiplier", mult), ("shift", shift)],
        call=f"ek_mean_s8(&{{p}}, {{t{op.inputs[0]}}}, {{t{op.outputs[0]}}});",
        reads={0: ReadMap(base, base + extent, reversible=False)}, note=f"axes {resolved}")


LOWERINGS: dict[str, Callable[[Graph, Operator], Lowered]] = {
    "CONV_2D": lower_conv_2d,
    "DEPTHWISE_CONV_2D": lower_depthwise_conv_2d,
    "FULLY_CONNECTED": lower_fully_connected,
    "AVERAGE_POOL_2D": lower_average_pool_2d,
    "MAX_POOL_2D": lower_max_pool_2d,
    "ADD": lower_add,
    "MUL": lower_mul,
    "SOFTMAX": lower_softmax,
    "RESHAPE": lower_reshape,
    "SQUEEZE": lower_reshape,
    "EXPAND_DIMS": lower_reshape,
    "RELU": lower_relu,
    "RELU6": lower_relu6,
    "LOGISTIC": lower_logistic,
    "TANH": lower_tanh,
    "HARD_SWISH": lower_hard_swish,
    "LEAKY_RELU": lower_leaky_relu,
    "QUANTIZE": lower_quantize,
    "DEQUANTIZE": lower_dequantize,
    "TRANSPOSE": lower_transpose,
    "STRIDED_SLICE": lower_strided_slice,
    "PAD": lower_pad,
    "PADV2": lower_pad,
    "CONCATENATION": lower_concatenation,
    "MEAN": lower_mean,
}
