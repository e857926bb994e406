"""Host-side preparation of layers for the Helium (MVE) kernels (firmware/kernels/helium, Cortex-M55).

What the kernels expect (firmware/kernels/include/ek_helium.h):
- CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (weights without a zero point) take the bias folded
  with the input offset, bias'[c] = bias[c] + input_offset * sum(weights of channel c), wrapped to int32
  as the kernels' sums are, and never NULL; their inner loops are then plain int8 x int8 dot products.
- DEPTHWISE_CONV_2D on its vector path (depth multiplier 1, at most EK_HELIUM_DW_MAX_TAPS taps) takes
  the same table with each group's channels in even/odd order (`even_odd_order`); it computes tiles of
  dw_tile pixels together, so the planner sees each output read its whole tile's window; its weights
  are packed per 8 channels, tap after tap (`pack_depthwise_filter_helium`).
- Arena scratch: CONV_2D a few gathered input patches (`conv_chunk`), DEPTHWISE_CONV_2D a row of input zero points
  (EK_HELIUM_CONV_SCRATCH / EK_HELIUM_DW_SCRATCH).
- CONV_2D (groups == 1) takes its weights packed per 8 output channels in even/odd order
  (`pack_conv_filter_helium`), and in place of the bias a table of multipliers, split shifts and folded
  biases per 8 channels in the same order (`pack_requant_helium`);
  the other kernels' weights keep the reference layout.
"""

from __future__ import annotations

import numpy as np

from edgekit.codegen.engine_ops import Lowered, tile_reads
from edgekit.ir.graph import Graph

DW_MAX_TAPS = 64  # EK_HELIUM_DW_MAX_TAPS in firmware/kernels/include/ek_helium.h
DW_SLOTS = 128  # EK_HELIUM_DW_SLOTS


def dw_tile(taps: int) -> int:
    """EK_HELIUM_DW_TILE: output pixels the Helium DEPTHWISE_CONV_2D computes together."""
    return 8 if DW_SLOTS // taps >= 8 else (DW_SLOTS // taps) & ~1
_EVEN_ODD = np.array([0, 2, 4, 6, 1, 3, 5, 7])


def _round16(n: int) -> int:
    return -(-n // 16) * 16


def _wrap32(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.int64) + (1 << 31)) % (1 << 32) - (1 << 31)).astype(np.int64)


def helium_depthwise_vector(params: dict[str, int]) -> bool:
    """The Helium DEPTHWISE_CONV_2D's vector path (the kernel's `vector` condition): depth multiplier 1,
    or a multiple of 8 (each group of 8 output channels then reads one input channel)."""
    dm = int(params["depth_multiplier"])
    return (dm == 1 or dm % 8 == 0) and int(params["filter_h"]) * int(params["filter_w"]) <= DW_MAX_TAPS


def conv_chunk(kp: int, out_w: int) -> int:
    """EK_HELIUM_CONV_CHUNK: input patches the Helium CONV_2D gathers at a time (2 KB of them, at least
    one, at most a row)."""
    return max(1, min(2048 // kp, out_w))


def helium_scratch_bytes(low: Lowered) -> int:
    """Arena bytes the Helium kernel of this layer needs (ek_helium.h's EK_HELIUM_*_SCRATCH)."""
    params = dict(low.params)
    if low.kernel == "conv_2d.c":
        kp = _round16(int(params["filter_h"]) * int(params["filter_w"]) * int(params["filter_in_c"]))
        return kp * conv_chunk(kp, int(params["out_w"]))
    if low.kernel == "depthwise_conv_2d.c" and helium_depthwise_vector(params):
        return _round16(int(params["in_c"]))
    return 0


def folded_bias(bias: np.ndarray | None, weights_per_channel: np.ndarray, input_offset: int) -> np.ndarray:
    """bias + input_offset * (sum of each channel's weights), as int32 (wrapping, like the kernels)."""
    sums = weights_per_channel.astype(np.int64).sum(axis=1)
    base = np.zeros(len(sums), dtype=np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
    return _wrap32(base + int(input_offset) * sums)


def even_odd_order(values: np.ndarray) -> np.ndarray:
    """Per group of 8 channels [c0 c2 c4 c6 c1 c3 c5 c7], padded with 0 to a multiple of 8: the lanes of
    the Helium depthwise kernel's even (VMULLB) and odd (VMULLT) accumulators."""
    flat = np.asarray(values, dtype=np.int64).reshape(-1)
    padded = np.zeros(-(-len(flat) // 8) * 8, dtype=np.int64)
    padded[: len(flat)] = flat
    return padded.reshape(-1, 8)[:, _EVEN_ODD].reshape(-1)


def pack_depthwise_filter_helium(filt: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D weights [1, kh, kw, out_c] as the Helium vector path streams them: per group of
    8 channels (zero past out_c), each tap's 8 weights, taps in row-major order. Size: ceil(out_c / 8)
    * 8 * kh * kw."""
    taps = filt.reshape(-1, filt.shape[-1]).astype(np.int8)  # [tap, channel]
    groups = -(-taps.shape[1] // 8)
    padded = np.zeros((taps.shape[0], groups * 8), dtype=np.int8)
    padded[:, : taps.shape[1]] = taps
    return padded.reshape(taps.shape[0], groups, 8).transpose(1, 0, 2).reshape(-1)


def pack_conv_filter_helium(filt: np.ndarray) -> np.ndarray:
    """CONV_2D weights [out_c, kh, kw, in_c] (groups == 1) as the Helium kernel streams them: per group
    of 8 output channels (zero rows past out_c) in even/odd order [c0 c2 c4 c6 c1 c3 c5 c7] (the lanes
    of its two sum vectors, `even_odd_order`), per 16-byte step of the kh * kw * in_c patch, the 8
    channels' 16 weights one after the other; each row zero-padded to kp, a multiple of 16. Size:
    ceil(out_c / 8) * 8 * kp."""
    out_c = filt.shape[0]
    rows = filt.reshape(out_c, -1).astype(np.int8)
    k = rows.shape[1]
    kp = -(-k // 16) * 16
    groups = -(-out_c // 8)
    padded = np.zeros((groups * 8, kp), dtype=np.int8)
    padded[:out_c, :k] = rows
    ordered = padded.reshape(groups, 8, kp)[:, _EVEN_ODD, :]
    # [group, channel, step, 16] -> [group, step, channel, 16]
    return ordered.reshape(groups, 8, kp // 16, 16).transpose(0, 2, 1, 3).reshape(-1)


def pack_requant_helium(folded: np.ndarray, mults: list[int], shifts: list[int]) -> np.ndarray:
    """The Helium CONV_2D's requantization table (ek_helium.h EK_RQ_GROUP): per group of 8 channels,
    8 multipliers, 8 left shifts (shift where > 0), 8 right shifts as negative numbers (shift where
    < 0), 8 folded biases; zero past the last channel."""
    n = len(folded)
    groups = -(-n // 8)
    shift = np.asarray(shifts, dtype=np.int64)
    table = np.zeros((groups, 4, 8), dtype=np.int64)
    for row, values in enumerate((np.asarray(mults, dtype=np.int64), np.maximum(shift, 0), np.minimum(shift, 0),
                                  np.asarray(folded, dtype=np.int64))):
        padded = np.zeros(groups * 8, dtype=np.int64)
        padded[:n] = values
        table[:, row, :] = padded.reshape(groups, 8)
    return table.reshape(-1)


def _array(low: Lowered, name: str) -> list[int]:
    return [int(v) for suffix, _, values in low.arrays if suffix == name for v in values]


def _set_bias(low: Lowered, bias_index: int, values: np.ndarray) -> None:
    low.arrays = [*low.arrays, ("bias_h", "int32_t", values.tolist())]
    if bias_index >= 0:
        low.call = low.call.replace(f"{{t{bias_index}}}", "{a_bias_h}")
    else:
        low.call = low.call.replace(", NULL, {a_mult}", ", {a_bias_h}, {a_mult}")


def adapt_for_helium(graph: Graph, low: Lowered) -> Lowered:
    """The layer as its Helium kernel wants it: scratch, folded bias, depthwise parameter order."""
    low.scratch_bytes = helium_scratch_bytes(low)
    if low.kernel not in ("conv_2d.c", "depthwise_conv_2d.c", "fully_connected.c"):
        return low
    params = dict(low.params)
    op = low.op
    filt = graph.tensors[op.inputs[1]].data
    assert filt is not None
    bias_index = op.inputs[2] if len(op.inputs) > 2 else -1
    bias = graph.tensors[bias_index].data if bias_index >= 0 else None
    filt = np.asarray(filt)
    if low.kernel == "fully_connected.c":
        if int(params["filter_offset"]) != 0:
            return low  # the kernel keeps the reference's arithmetic (and the bias) for these
        _set_bias(low, bias_index, folded_bias(bias, filt.reshape(filt.shape[0], -1), int(params["input_offset"])))
        return low
    if low.kernel == "conv_2d.c":
        folded = folded_bias(bias, filt.reshape(filt.shape[0], -1), int(params["input_offset"]))
        if int(params["filter_in_c"]) != int(params["in_c"]):  # grouped: reference layouts, folded bias
            _set_bias(low, bias_index, folded)
            return low
        _set_bias(low, bias_index, pack_requant_helium(even_odd_order(folded),
                                                       even_odd_order(_array(low, "mult")).tolist(),
                                                       even_odd_order(_array(low, "shift")).tolist()))
        low.arrays = [*low.arrays, ("filter_h", "int8_t", pack_conv_filter_helium(filt).tolist())]
        low.call = low.call.replace(f"{{t{op.inputs[1]}}}", "{a_filter_h}")
        return low
    # DEPTHWISE_CONV_2D: weights [1, kh, kw, out_c]; channel c's taps are column c.
    per_channel = filt.reshape(-1, filt.shape[-1]).T
    folded = folded_bias(bias, per_channel, int(params["input_offset"]))
    if not helium_depthwise_vector(params):
        _set_bias(low, bias_index, folded)
        return low
    _set_bias(low, bias_index, pack_requant_helium(even_odd_order(folded), even_odd_order(_array(low, "mult")).tolist(),
                                                   even_odd_order(_array(low, "shift")).tolist()))
    low.arrays = [*low.arrays, ("filter_h", "int8_t", pack_depthwise_filter_helium(filt).tolist())]
    low.call = low.call.replace(f"{{t{op.inputs[1]}}}", "{a_filter_h}")
    pixels = int(params["batches"]) * int(params["out_h"]) * int(params["out_w"])
    tile = dw_tile(int(params["filter_h"]) * int(params["filter_w"]))
    low.reads = {**low.reads, 0: tile_reads(low.reads[0], pixels, tile)}
    return low
