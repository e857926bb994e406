"""A hand-written stand-in for the generated C engine, so firmware and emulation are proven on their own.

It follows the engine's contract: NAME.h / NAME.c plus kernel files, `int NAME_invoke(const int8_t *,
int8_t *)` returning 0, NAME_INPUT_SIZE / NAME_OUTPUT_SIZE / NAME_ARENA_SIZE, and one noinline/noipa
function per layer named NAME_layer_<NNN>_<op>, called in order. Its fully connected layer has a
Helium path (taken on the M55) that must give the same bytes as the portable one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import EdgekitError

INPUT_SIZE = 96
OUTPUT_SIZE = 10
CONV_CH, CONV_K = 8, 3
CONV_LEN = INPUT_SIZE - CONV_K + 1  # 94
POOL_LEN = CONV_LEN // 2  # 47
FC_IN = POOL_LEN * CONV_CH  # 376

_KERNELS_H = """\
#ifndef STANDIN_KERNELS_H
#define STANDIN_KERNELS_H
#include <stdint.h>
int8_t sk_requant(int32_t acc, int32_t mult, int shift);
void sk_conv1d(const int8_t *in, int len, const int8_t *w, const int32_t *b, int ch, int k, int8_t *out);
void sk_relu(int8_t *x, int n);
void sk_maxpool2(const int8_t *in, int len, int ch, int8_t *out);
void sk_dense(const int8_t *in, int n_in, const int8_t *w, const int32_t *b, int n_out, int8_t *out);
#endif
"""

_KERNELS_C = """\
#include "standin_kernels.h"
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#endif

/* Rounding doubling high multiply then rounding shift, as TFLite's requantization does. */
int8_t sk_requant(int32_t acc, int32_t mult, int shift)
{
    int64_t prod = (int64_t)acc * mult;
    int32_t high = (int32_t)((prod + ((int64_t)1 << 30)) >> 31);
    int32_t v = shift > 0 ? (high + (1 << (shift - 1))) >> shift : high;
    return (int8_t)(v > 127 ? 127 : (v < -128 ? -128 : v));
}

void sk_conv1d(const int8_t *in, int len, const int8_t *w, const int32_t *b, int ch, int k, int8_t *out)
{
    for (int p = 0; p + k <= len; p++) {
        for (int c = 0; c < ch; c++) {
            int32_t acc = b[c];
            for (int j = 0; j < k; j++) {
                acc += (int32_t)in[p + j] * w[c * k + j];
            }
            out[p * ch + c] = sk_requant(acc, 1518500250, 6);
        }
    }
}

void sk_relu(int8_t *x, int n)
{
    for (int i = 0; i < n; i++) {
        x[i] = x[i] < 0 ? 0 : x[i];
    }
}

void sk_maxpool2(const int8_t *in, int len, int ch, int8_t *out)
{
    for (int p = 0; p + 1 < len; p += 2) {
        for (int c = 0; c < ch; c++) {
            int8_t a = in[p * ch + c], b = in[(p + 1) * ch + c];
            out[(p / 2) * ch + c] = a > b ? a : b;
        }
    }
}

static int32_t dot(const int8_t *a, const int8_t *b, int n)
{
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
    int32_t acc = 0;
    while (n > 0) {
        mve_pred16_t p = vctp8q((uint32_t)n);
        acc = vmladavaq_p_s8(acc, vldrbq_z_s8(a, p), vldrbq_z_s8(b, p), p);
        a += 16;
        b += 16;
        n -= 16;
    }
    return acc;
#else
    int32_t acc = 0;
    for (int i = 0; i < n; i++) {
        acc += (int32_t)a[i] * b[i];
    }
    return acc;
#endif
}

void sk_dense(const int8_t *in, int n_in, const int8_t *w, const int32_t *b, int n_out, int8_t *out)
{
    for (int o = 0; o < n_out; o++) {
        out[o] = sk_requant(b[o] + dot(in, w + o * n_in, n_in), 1273741824, 10);
    }
}
"""

_MODEL_C = """\
#include "{name}.h"
#include "standin_kernels.h"
#include "{name}_weights.h"

static int8_t arena[{name}_ARENA_SIZE];

#define LAYER __attribute__((noinline, noipa))

LAYER void {name}_layer_000_conv_2d(const int8_t *in, int8_t *out)
{{
    sk_conv1d(in, {input_size}, conv_w, conv_b, {ch}, {k}, out);
}}

LAYER void {name}_layer_001_relu(int8_t *x)
{{
    sk_relu(x, {conv_out});
}}

LAYER void {name}_layer_002_max_pool_2d(const int8_t *in, int8_t *out)
{{
    sk_maxpool2(in, {conv_len}, {ch}, out);
}}

LAYER void {name}_layer_003_fully_connected(const int8_t *in, int8_t *out)
{{
    sk_dense(in, {fc_in}, fc_w, fc_b, {output_size}, out);
}}

int {name}_invoke(const int8_t *input, int8_t *output)
{{
    int8_t *conv = arena;
    int8_t *pool = arena + {conv_out};
    {name}_layer_000_conv_2d(input, conv);
    {name}_layer_001_relu(conv);
    {name}_layer_002_max_pool_2d(conv, pool);
    {name}_layer_003_fully_connected(pool, output);
    return 0;
}}
"""

_MODEL_H = """\
#ifndef {guard}_H
#define {guard}_H
#include <stdint.h>
#define {name}_INPUT_SIZE {input_size}
#define {name}_OUTPUT_SIZE {output_size}
#define {name}_ARENA_SIZE {arena}
int {name}_invoke(const int8_t *input, int8_t *output);
#endif
"""


def _c_array(ctype: str, name: str, values: np.ndarray) -> str:
    body = ",".join(str(int(v)) for v in values.ravel())
    return f"static const {ctype} {name}[{values.size}] = {{{body}}};\n"


def write_standin_model(folder: Path, name: str = "model", seed: int = 7) -> Path:
    """Write the stand-in engine output for a tiny 1-D CNN into `folder`; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    conv_out = CONV_LEN * CONV_CH
    fmt = {
        "name": name,
        "guard": name.upper(),
        "input_size": INPUT_SIZE,
        "output_size": OUTPUT_SIZE,
        "arena": conv_out + FC_IN,
        "ch": CONV_CH,
        "k": CONV_K,
        "conv_out": conv_out,
        "conv_len": CONV_LEN,
        "fc_in": FC_IN,
    }
    (folder / f"{name}.h").write_text(_MODEL_H.format(**fmt))
    (folder / f"{name}.c").write_text(_MODEL_C.format(**fmt))
    weights = (
        _c_array("int8_t", "conv_w", rng.integers(-128, 128, CONV_CH * CONV_K))
        + _c_array("int32_t", "conv_b", rng.integers(-2000, 2000, CONV_CH))
        + _c_array("int8_t", "fc_w", rng.integers(-128, 128, FC_IN * OUTPUT_SIZE))
        + _c_array("int32_t", "fc_b", rng.integers(-5000, 5000, OUTPUT_SIZE))
    )
    (folder / f"{name}_weights.h").write_text(weights)
    (folder / "standin_kernels.h").write_text(_KERNELS_H)
    (folder / "standin_kernels.c").write_text(_KERNELS_C)
    return folder


def write_broken_model(folder: Path, body: str, name: str = "model") -> Path:
    """A two-layer model whose second layer runs `body` (C statements using `in` and `out`)."""
    folder.mkdir(parents=True, exist_ok=True)
    fmt = {"name": name, "guard": name.upper(), "input_size": 8, "output_size": 4, "arena": 8}
    (folder / f"{name}.h").write_text(_MODEL_H.format(**fmt))
    (folder / f"{name}.c").write_text(
        f'#include "{name}.h"\n'
        f"__attribute__((noinline, noipa)) void {name}_layer_000_conv_2d(const int8_t *in, int8_t *out)\n"
        "{ out[0] = in[0]; }\n"
        f"__attribute__((noinline, noipa)) void {name}_layer_001_broken(const int8_t *in, int8_t *out)\n"
        f"{{ {body} }}\n"
        f"int {name}_invoke(const int8_t *input, int8_t *output)\n"
        f"{{ {name}_layer_000_conv_2d(input, output); {name}_layer_001_broken(input, output); return 0; }}\n"
    )
    return folder


def sample_inputs(n: int = 3, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, size=(n, INPUT_SIZE), dtype=np.int8)


def require_host_cc() -> None:
    if not shutil.which("cc"):
        pytest.skip("no host C compiler")


# ---- the stand-in itself ---------------------------------------------------------------------------


def test_standin_runs_on_the_host(tmp_path: Path) -> None:
    from edgekit.firmware import run_host

    require_host_cc()
    model = write_standin_model(tmp_path / "model")
    x = sample_inputs(4)
    out = run_host(model, x, tmp_path / "host")
    assert out.shape == (4, OUTPUT_SIZE)
    assert out.dtype == np.int8
    # Different inputs give different outputs and not everything saturates: the model is a real check.
    assert len({row.tobytes() for row in out}) == 4
    assert (np.abs(out.astype(int)) >= 127).mean() < 0.2


def test_host_build_reports_a_missing_model(tmp_path: Path) -> None:
    from edgekit.firmware import run_host

    with pytest.raises(EdgekitError, match=r"model\.h"):
        run_host(tmp_path, sample_inputs(1), tmp_path / "host")
