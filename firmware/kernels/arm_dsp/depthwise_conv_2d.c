/* DEPTHWISE_CONV_2D, int8, per-channel requantization: the Arm DSP version of
 * reference/depthwise_conv_2d.c, with the same results bit for bit.
 *
 * Fast path (EK_DW_FAST: depth multiplier 1 or 4k, channels a multiple of 4, up to EK_DW_MAX_TAPS taps):
 * the output pixels go in tiles of EK_DW_TILE consecutive pixels. For each tile a table holds every
 * pixel's tap pointers (a tap in the padding points at a row of input zero points in `scratch`, which
 * contributes (zero point + input offset) x w = 0, so border pixels take the same code as the
 * interior); then each group of 4 channels runs over the tile's pixels, its weights, bias and
 * requantization fetched once per tile instead of once per pixel. Per tap and 4 channels: one 32-bit
 * load of input (with a multiplier 4k: one byte, duplicated into both halfwords), SXTAB16 to widen it
 * and add the offset, two words of weights the generator widened to int16 pairs (engine_ops.
 * pack_depthwise_filter_dsp: (w0, w2), (w1, w3) per tap), SMLABB/SMLATT for the even and odd lanes; a
 * 3x3 filter is one block of assembly over the whole tile. Layers whose `requant_fast` the generator
 * set take NULL bias, multiplier and shift: each group's weights are followed by its requantization
 * words (EK_DW_RQ_WORDS, engine_ops.pack_depthwise_requant_dsp: ek_rq_table's fields, the input offset
 * folded into the bias, so that inputs are widened without it). Other shapes take the scalar path,
 * reference layout.
 *
 * Write order: a tile's outputs are written group by group, pixel by pixel, after its last group's
 * inputs were read only for the tile's last (first, reversed) output; the generator tells the planner
 * that every output of a tile reads the whole tile's window (engine_ops.adapt_for_family), and the
 * last output written is the tile's last in flat order (first when reversed), so the planner's
 * in-place overlaps stay safe. Tiles are the same in both directions: [k EK_DW_TILE, (k + 1) EK_DW_TILE). */
#include <string.h>

#include "ek_config.h"
#include "ek_dsp.h"
#include "ek_kernels.h"

typedef struct {
    const int8_t *in_batch;
    int32_t in_y0, in_x0, fy_start, fy_end, fx_start, fx_end;
} window_t;

EK_INLINE int8_t requant(int32_t acc, int32_t mult, int shift, const ek_conv_params_t *p) {
    const ek_requant_t q = ek_requant_setup(mult, shift);
    return ek_clamp_s8(ek_requant_apply(&q, acc) + p->output_offset, p->act_min, p->act_max);
}

#if EK_DW_OTHER_SHAPES
/* Output channels c .. c + 3 (depth multiplier 1), any window. */
EK_COLD static void four_channels(const ek_conv_params_t *p, const window_t *win, const int8_t *filter, const int32_t *bias,
                          const int32_t *multiplier, const int8_t *shift, int32_t c, int8_t *out) {
    const uint32_t offset2 = ek_dup16(p->input_offset);
    const int32_t row_step = p->dilation_h * p->in_w * p->in_c;
    const int32_t col_step = p->dilation_w * p->in_c;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int32_t fy, fx;
    const int8_t *in_row = win->in_batch + ((size_t)(win->in_y0 + p->dilation_h * win->fy_start) * p->in_w +
                                            (win->in_x0 + p->dilation_w * win->fx_start)) * p->in_c + c;
    for (fy = win->fy_start; fy < win->fy_end; fy++) {
        const int8_t *in_px = in_row;
        const int8_t *f_tap = filter + ((size_t)fy * p->filter_w + win->fx_start) * p->out_c + c;
        for (fx = win->fx_start; fx < win->fx_end; fx++) {
            const uint32_t x = ek_load32(in_px), w = ek_load32(f_tap);
            const uint32_t x02 = ek_sxtab16(offset2, x), x13 = ek_sxtab16_ror8(offset2, x);
            const uint32_t w02 = ek_sxtb16(w), w13 = ek_sxtb16_ror8(w);
            s0 = ek_smlabb(w02, x02, s0);
            s2 = ek_smlatt(w02, x02, s2);
            s1 = ek_smlabb(w13, x13, s1);
            s3 = ek_smlatt(w13, x13, s3);
            in_px += col_step;
            f_tap += p->out_c;
        }
        in_row += row_step;
    }
    if (bias != NULL) {
        s0 += bias[c];
        s1 += bias[c + 1];
        s2 += bias[c + 2];
        s3 += bias[c + 3];
    }
    out[c] = requant(s0, multiplier[c], shift[c], p);
    out[c + 1] = requant(s1, multiplier[c + 1], shift[c + 1], p);
    out[c + 2] = requant(s2, multiplier[c + 2], shift[c + 2], p);
    out[c + 3] = requant(s3, multiplier[c + 3], shift[c + 3], p);
}

/* One output channel, any depth multiplier. */
EK_COLD static int8_t one_channel(const ek_conv_params_t *p, const window_t *win, const int8_t *filter, const int32_t *bias,
                          const int32_t *multiplier, const int8_t *shift, int32_t oc) {
    const int32_t ic = oc / p->depth_multiplier;
    int32_t acc = 0;
    int32_t fy, fx;
    for (fy = win->fy_start; fy < win->fy_end; fy++) {
        const int32_t in_y = win->in_y0 + p->dilation_h * fy;
        const int8_t *in_row = win->in_batch + (size_t)in_y * p->in_w * p->in_c + ic;
        const int8_t *f_row = filter + (size_t)fy * p->filter_w * p->out_c + oc;
        for (fx = win->fx_start; fx < win->fx_end; fx++) {
            const int32_t in_x = win->in_x0 + p->dilation_w * fx;
            acc += (int32_t)f_row[(size_t)fx * p->out_c] * ((int32_t)in_row[(size_t)in_x * p->in_c] + p->input_offset);
        }
    }
    if (bias != NULL) {
        acc += bias[oc];
    }
    return requant(acc, multiplier[oc], shift[oc], p);
}
#endif

/* With requant_fast set, each group's weights are followed by EK_DW_RQ_WORDS words of requantization,
 * by field: bias (input offset folded in, engine_ops.pack_depthwise_requant_dsp), 2M - 2^32, round,
 * right, 4 channels each; the kernel then widens inputs without adding the offset (it is 0). */
#define EK_DW_RQ_WORDS 16

EK_INLINE void pixel_sums(const int8_t *const *tp, int32_t ntaps, int32_t c, int32_t shared_ic,
                          const uint32_t *f, uint32_t offset2, int32_t input_offset, int32_t s[4]) {
    int32_t s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    int32_t t;
    if (shared_ic >= 0 && ntaps == 9) {
        /* As below, the trip count known: gcc unrolls it (the loop's counter and branch cost as much
         * as the tap). */
        for (t = 0; t < 9; t++) {
            const uint32_t x = ek_dup16((int32_t)tp[t][shared_ic] + input_offset);
            s0 = ek_smlabb(f[2 * t], x, s0);
            s2 = ek_smlatt(f[2 * t], x, s2);
            s1 = ek_smlabb(f[2 * t + 1], x, s1);
            s3 = ek_smlatt(f[2 * t + 1], x, s3);
        }
    } else if (shared_ic >= 0) {
        /* Depth multiplier 4k: the 4 channels read input channel shared_ic. */
        for (t = 0; t < ntaps; t++) {
            const uint32_t x = ek_dup16((int32_t)tp[t][shared_ic] + input_offset);
            s0 = ek_smlabb(f[2 * t], x, s0);
            s2 = ek_smlatt(f[2 * t], x, s2);
            s1 = ek_smlabb(f[2 * t + 1], x, s1);
            s3 = ek_smlatt(f[2 * t + 1], x, s3);
        }
    } else {
        for (t = 0; t < ntaps; t++) {
            const uint32_t x = ek_load32(tp[t] + c);
            const uint32_t x02 = ek_sxtab16(offset2, x), x13 = ek_sxtab16_ror8(offset2, x);
            s0 = ek_smlabb(f[2 * t], x02, s0);
            s2 = ek_smlatt(f[2 * t], x02, s2);
            s1 = ek_smlabb(f[2 * t + 1], x13, s1);
            s3 = ek_smlatt(f[2 * t + 1], x13, s3);
        }
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
}

#if EK_HAS_DSP && defined(__GNUC__)
/* One tap of one pixel: its pointer from the table, 4 input bytes widened (no offset: it is in the
 * bias), 4 MACs. */
#define EK_DW_TAP_ASM(T, W0, W1)                                                                   \
    "ldr %[x], [%[tp], #" T "]\n\t"                                                                \
    "ldr %[x], [%[x], %[c]]\n\t"                                                                   \
    "ldr %[w02], [%[f], #" W0 "]\n\t"                                                              \
    "ldr %[w13], [%[f], #" W1 "]\n\t"                                                              \
    "sxtb16 %[x02], %[x]\n\t"                                                                      \
    "sxtb16 %[x], %[x], ror #8\n\t"                                                                \
    "smlabb %[s0], %[w02], %[x02], %[s0]\n\t"                                                      \
    "smlatt %[s2], %[w02], %[x02], %[s2]\n\t"                                                      \
    "smlabb %[s1], %[w13], %[x], %[s1]\n\t"                                                        \
    "smlatt %[s3], %[w13], %[x], %[s3]\n\t"
/* Channel K of the pixel at %[w13] from its sum S: ek_rq_table with the offset folded, SSAT, store. The
 * store ends the channel so that the next channel's three loads pipeline behind it. */
#define EK_DW_RQ_LOAD_ASM(M, R, RT)                                                                \
    "ldr %[x], [%[q], #" M "]\n\t"                                                                 \
    "ldr %[x02], [%[q], #" R "]\n\t"                                                               \
    "ldr %[w02], [%[q], #" RT "]\n\t"
#define EK_DW_RQ_ASM(S, K, M, R, RT) EK_DW_RQ_LOAD_ASM(M, R, RT) EK_DW_RQ_DO_ASM(S, K)
#define EK_DW_RQ_DO_ASM(S, K)                                                                      \
    "smmlar %[" S "], %[" S "], %[x], %[" S "]\n\t"                                                \
    "add %[x02], %[x02], %[" S "], asr #31\n\t"                                                    \
    "add %[" S "], %[" S "], %[x02]\n\t"                                                           \
    "asr %[" S "], %[" S "], %[w02]\n\t"                                                           \
    "ssat %[" S "], #8, %[" S "]\n\t"                                                              \
    "strb %[" S "], [%[w13], #" K "]\n\t"

/* One tap with a depth multiplier of 4k: the 4 channels' input is one byte (input channel %[c]), in
 * the bottom halfword for SMLABB/SMLATB. */
#define EK_DW_TAP_SHARED_ASM(T, W0, W1)                                                            \
    "ldr %[x], [%[tp], #" T "]\n\t"                                                                \
    "ldrsb %[x], [%[x], %[c]]\n\t"                                                                 \
    "ldr %[w02], [%[f], #" W0 "]\n\t"                                                              \
    "ldr %[w13], [%[f], #" W1 "]\n\t"                                                              \
    "smlabb %[s0], %[w02], %[x], %[s0]\n\t"                                                        \
    "smlatb %[s2], %[w02], %[x], %[s2]\n\t"                                                        \
    "smlabb %[s1], %[w13], %[x], %[s1]\n\t"                                                        \
    "smlatb %[s3], %[w13], %[x], %[s3]\n\t"

/* One run of loads then stores (each after the first a cycle): half the cost of memcpy's loop. */
#define EK_DW_COPY8(FROM, TO)                                                                      \
    "ldr %[s0], [%[f], #" FROM "+0]\n\tldr %[s1], [%[f], #" FROM "+4]\n\t"                          \
    "ldr %[s2], [%[f], #" FROM "+8]\n\tldr %[s3], [%[f], #" FROM "+12]\n\t"                         \
    "ldr %[x], [%[f], #" FROM "+16]\n\tldr %[x02], [%[f], #" FROM "+20]\n\t"                        \
    "ldr %[w02], [%[f], #" FROM "+24]\n\tldr %[w13], [%[f], #" FROM "+28]\n\t"                      \
    "str %[s0], [%[q], #" TO "+0]\n\tstr %[s1], [%[q], #" TO "+4]\n\t"                              \
    "str %[s2], [%[q], #" TO "+8]\n\tstr %[s3], [%[q], #" TO "+12]\n\t"                             \
    "str %[x], [%[q], #" TO "+16]\n\tstr %[x02], [%[q], #" TO "+20]\n\t"                            \
    "str %[w02], [%[q], #" TO "+24]\n\tstr %[w13], [%[q], #" TO "+28]\n\t"

/* The walk over a tile for one group, TAP one tap's code, OUT_PTR setting %[w13] to the pixel's output
 * at the group's first channel (with channel 0's requantization loads in its run). */
#define EK_DW_TILE_ASM(TAP, OUT_PTR)                                                               \
    __asm__ volatile(EK_DW_COPY8("72", "0") EK_DW_COPY8("104", "32")                               \
                     "1:\n\t"                                                                      \
                     "ldr %[s0], [%[q], #0]\n\t"                                                   \
                     "ldr %[s1], [%[q], #4]\n\t"                                                   \
                     "ldr %[s2], [%[q], #8]\n\t"                                                   \
                     "ldr %[s3], [%[q], #12]\n\t"                                                  \
                     TAP("0", "0", "4") TAP("4", "8", "12") TAP("8", "16", "20") TAP("12", "24", "28") \
                     TAP("16", "32", "36") TAP("20", "40", "44") TAP("24", "48", "52")             \
                     TAP("28", "56", "60") TAP("32", "64", "68")                                   \
                     OUT_PTR                                                                       \
                     EK_DW_RQ_DO_ASM("s0", "0") EK_DW_RQ_ASM("s1", "1", "20", "36", "52")          \
                     EK_DW_RQ_ASM("s2", "2", "24", "40", "56") EK_DW_RQ_ASM("s3", "3", "28", "44", "60") \
                     "ldr %[x], [%[op]]\n\t"                                                       \
                     "add %[tp], %[tp], #36\n\t"                                                   \
                     "cmp %[x], #0\n\t"                                                            \
                     "bne 1b\n\t"                                                                  \
                     : [x] "=&r"(x), [x02] "=&r"(x02), [w02] "=&r"(w02), [w13] "=&r"(w13),         \
                       [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [tp] "+r"(tp), \
                       [op] "+r"(op)                                                               \
                     : [c] "r"(c), [f] "r"(f), [q] "r"(q)                                          \
                     : "memory", "cc")

/* tile_group for the common case: 3x3 taps, depth multiplier 1, requantization table with the offset
 * folded (requant_fast 1), no clamp beyond int8. The whole walk over the tile's pixels is one block of
 * assembly: written as C around an asm pixel, gcc ran out of registers and reloaded the sums' biases,
 * the 12 requantization values and its loop state from the stack on every pixel (a third of the
 * pixel's cycles). `outs` ends with NULL (the loop's end, one register fewer). The requantization
 * words are copied to the stack: with the weights they span 9 flash lines, one more than the flash
 * line buffer, and every pixel would miss on all of them. */
static void tile_group_3x3(const int8_t *const *taps, int8_t *const *outs, const uint32_t *f, int32_t c) {
    uint32_t q[EK_DW_RQ_WORDS];
    int8_t *const *op = outs;
    const int8_t *const *tp = taps;
    int32_t s0, s1, s2, s3;
    uint32_t x, x02, w02, w13;
    /* The output pointer in the same run of loads as channel 0's words (pipelined). */
    EK_DW_TILE_ASM(EK_DW_TAP_ASM, "ldr %[w13], [%[op]], #4\n\t" EK_DW_RQ_LOAD_ASM("16", "32", "48")
                                      "add %[w13], %[w13], %[c]\n\t");
}

/* The same with a depth multiplier of 4k: `c` is the input channel, and the output channel offset,
 * for want of a register, word 16 of the stack copy. */
static void tile_group_3x3_shared(const int8_t *const *taps, int8_t *const *outs, const uint32_t *f, int32_t c,
                                  int32_t oc) {
    uint32_t q[EK_DW_RQ_WORDS + 1];
    int8_t *const *op = outs;
    const int8_t *const *tp = taps;
    int32_t s0, s1, s2, s3;
    uint32_t x, x02, w02, w13;
    q[EK_DW_RQ_WORDS] = (uint32_t)oc;
    EK_DW_TILE_ASM(EK_DW_TAP_SHARED_ASM, "ldr %[w13], [%[op]], #4\n\tldr %[x], [%[q], #64]\n\t"
                                             "add %[w13], %[w13], %[x]\n\t" EK_DW_RQ_LOAD_ASM("16", "32", "48"));
}
#undef EK_DW_TILE_ASM
#undef EK_DW_COPY8
#endif

/* One group of 4 channels of every pixel of a tile, in table order. `f`: the group's weights (then its
 * requantization words with requant_fast). */
static void tile_group(const ek_conv_params_t *p, const int8_t *const *taps, int32_t ntaps, int32_t n,
                       int8_t *const *outs, const uint32_t *f, const int32_t *bias, const int32_t *multiplier,
                       const int8_t *shift, int32_t c) {
    const int table = p->requant_fast != 0;
    const int32_t input_offset = table ? 0 : p->input_offset, output_offset = p->output_offset;
    const uint32_t offset2 = ek_dup16(input_offset);
    const int32_t act_min = p->act_min, act_max = p->act_max, after = ek_rq_after(p);
    const int full = ek_full_range(act_min, act_max);
    const int32_t shared_ic = p->depth_multiplier != 1 ? c / p->depth_multiplier : -1;
    /* A local copy: read from flash on every pixel with the weights, they would overflow the flash
     * line buffer (tile_group_3x3). */
    int32_t rq[EK_DW_RQ_WORDS];
    int32_t b[4] = {0, 0, 0, 0};
    int32_t j, k;
    ek_requant_t qs[4];
    if (table) {
        memcpy(rq, f + 2 * ntaps, sizeof rq);
    }
    for (k = 0; k < 4; k++) {
        if (table) {
            b[k] = rq[k];
        } else {
            b[k] = bias != NULL ? bias[c + k] : 0;
            qs[k] = ek_requant_setup(multiplier[c + k], shift[c + k]);
        }
    }
    for (j = 0; j < n; j++) {
        int32_t s[4];
        int8_t *out = outs[j] + c;
        s[0] = b[0], s[1] = b[1], s[2] = b[2], s[3] = b[3];
        pixel_sums(taps + j * ntaps, ntaps, c, shared_ic, f, offset2, input_offset, s);
        if (table) {
            for (k = 0; k < 4; k++) {
                const int32_t v = ek_rq_table(s[k], rq[4 + k], rq[12 + k], rq[8 + k]) + after;
                out[k] = full ? ek_sat_s8(v) : ek_clamp_s8(v, act_min, act_max);
            }
        } else {
            for (k = 0; k < 4; k++) {
                const int32_t v = ek_requant_apply(&qs[k], s[k]) + output_offset;
                out[k] = full ? ek_sat_s8(v) : ek_clamp_s8(v, act_min, act_max);
            }
        }
    }
}

/* What the tap tables of every tile share, set up once per call. */
typedef struct {
    const int8_t *input;
    int8_t *output;
    const int8_t *pad_row;
    int32_t y_hi, x_hi; /* the last window corner (row, column) wholly inside the input */
    int32_t offsets[EK_DW_MAX_TAPS]; /* each tap's input byte offset from the window's corner */
} tile_geom_t;

/* The tap pointers and outputs of the tile of n pixels from flat index `first`, into slots in the order
 * the pixels are computed (reversed: the tile's last first). Walks the window corner incrementally:
 * per pixel one multiply for the corner, a handful of compares, then one add and store per tap. */
static void tile_taps(const ek_conv_params_t *p, const tile_geom_t *g, int32_t first, int32_t n,
                      const int8_t **taps, int8_t **outs) {
    const int32_t ntaps = p->filter_h * p->filter_w;
    const int32_t in_c = p->in_c, in_w = p->in_w;
    const size_t batch_bytes = (size_t)p->in_h * in_w * in_c;
    int32_t x = first % p->out_w;
    int32_t y = (first / p->out_w) % p->out_h;
    const int8_t *in_batch = g->input + (size_t)(first / (p->out_w * p->out_h)) * batch_bytes;
    int32_t in_y0 = y * p->stride_h - p->pad_h, in_x0 = x * p->stride_w - p->pad_w;
    int8_t *out = g->output + (size_t)first * p->out_c;
    int32_t j, t, fy, fx;
    outs[n] = NULL;
    for (j = 0; j < n; j++) {
        const int32_t slot = p->reverse ? n - 1 - j : j;
        const int8_t **tp = taps + slot * ntaps;
        outs[slot] = out;
        out += p->out_c;
        if (in_y0 >= 0 && in_y0 <= g->y_hi && in_x0 >= 0 && in_x0 <= g->x_hi) {
            const int8_t *corner = in_batch + (size_t)(in_y0 * in_w + in_x0) * in_c;
            const int32_t *o = g->offsets;
            if (ntaps == 9) {
                tp[0] = corner + o[0], tp[1] = corner + o[1], tp[2] = corner + o[2];
                tp[3] = corner + o[3], tp[4] = corner + o[4], tp[5] = corner + o[5];
                tp[6] = corner + o[6], tp[7] = corner + o[7], tp[8] = corner + o[8];
            } else {
                for (t = 0; t < ntaps; t++) {
                    tp[t] = corner + o[t];
                }
            }
        } else {
            t = 0;
            for (fy = 0; fy < p->filter_h; fy++) {
                const int32_t in_y = in_y0 + p->dilation_h * fy;
                for (fx = 0; fx < p->filter_w; fx++, t++) {
                    const int32_t in_x = in_x0 + p->dilation_w * fx;
                    const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < in_w;
                    tp[t] = inside ? in_batch + (size_t)(in_y * in_w + in_x) * in_c : g->pad_row;
                }
            }
        }
        in_x0 += p->stride_w;
        if (++x == p->out_w) {
            x = 0;
            in_x0 = -p->pad_w;
            in_y0 += p->stride_h;
            if (++y == p->out_h) {
                y = 0;
                in_y0 = -p->pad_h;
                in_batch += batch_bytes;
            }
        }
    }
}

static void fast_path(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                      const int32_t *multiplier, const int8_t *shift, int8_t *output, int8_t *pad_row) {
    const int32_t ntaps = p->filter_h * p->filter_w;
    const int32_t tile = EK_DW_TILE(ntaps);
    const int32_t groups = p->out_c / 4;
    const int32_t rev = p->reverse;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t tiles = (pixels + tile - 1) / tile;
    const uint32_t *weights = (const uint32_t *)(const void *)filter; /* int16 pairs, 2 words per tap */
    const int32_t group_words = 2 * ntaps + (p->requant_fast ? EK_DW_RQ_WORDS : 0);
    const int8_t *taps[EK_DW_TILE_SLOTS];
    int8_t *outs[EK_DW_TILE_MAX + 1]; /* + NULL after the tile's last (tile_group_3x3) */
    tile_geom_t geom;
    /* 1: tile_group_3x3, 2: tile_group_3x3_shared (depth multiplier 4k), 0: tile_group. */
    const int special = ntaps == 9 && p->requant_fast == 1 && ek_full_range(p->act_min, p->act_max)
                            ? (p->depth_multiplier == 1 ? 1 : 2)
                            : 0;
    int32_t it, ig, fy, fx, n = 0;

    (void)special;
    memset(pad_row, (int)(int8_t)(-p->input_offset), (size_t)p->in_c);
    geom.input = input;
    geom.output = output;
    geom.pad_row = pad_row;
    geom.y_hi = p->in_h - 1 - p->dilation_h * (p->filter_h - 1);
    geom.x_hi = p->in_w - 1 - p->dilation_w * (p->filter_w - 1);
    for (fy = 0; fy < p->filter_h; fy++) {
        for (fx = 0; fx < p->filter_w; fx++, n++) {
            geom.offsets[n] = (p->dilation_h * fy * p->in_w + p->dilation_w * fx) * p->in_c;
        }
    }
    for (it = 0; it < tiles; it++) {
        const int32_t first = (rev ? tiles - 1 - it : it) * tile;
        n = pixels - first < tile ? pixels - first : tile;
        tile_taps(p, &geom, first, n, taps, outs);
        for (ig = 0; ig < groups; ig++) {
            const int32_t g = rev ? groups - 1 - ig : ig;
            const uint32_t *f = weights + (size_t)g * group_words;
#if EK_HAS_DSP && defined(__GNUC__)
            if (special == 1) {
                tile_group_3x3(taps, outs, f, g * 4);
                continue;
            }
            if (special == 2) {
                tile_group_3x3_shared(taps, outs, f, g * 4 / p->depth_multiplier, g * 4);
                continue;
            }
#endif
            tile_group(p, taps, ntaps, n, outs, f, bias, multiplier, shift, g * 4);
        }
    }
}

#if EK_DW_OTHER_SHAPES
/* The shapes the fast path does not take: the reference loop, 4 channels at a time where it can. */
EK_COLD static void other_shapes(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                                 const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                                 int8_t *output) {
    const int32_t out_c = p->out_c;
    const int32_t rev = p->reverse;
    const int32_t groups = p->depth_multiplier == 1 ? out_c / 4 : 0;
    int32_t ib, iy, ix, ig, ioc;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        window_t win;
        win.in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            win.in_y0 = oy * p->stride_h - p->pad_h;
            ek_tap_range(win.in_y0, p->dilation_h, p->filter_h, p->in_h, &win.fy_start, &win.fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * out_c;
                win.in_x0 = ox * p->stride_w - p->pad_w;
                ek_tap_range(win.in_x0, p->dilation_w, p->filter_w, p->in_w, &win.fx_start, &win.fx_end);
                if (!rev) {
                    for (ig = 0; ig < groups; ig++) {
                        four_channels(p, &win, filter, bias, multiplier, shift, ig * 4, out);
                    }
                    for (ioc = groups * 4; ioc < out_c; ioc++) {
                        out[ioc] = one_channel(p, &win, filter, bias, multiplier, shift, ioc);
                    }
                } else {
                    for (ioc = out_c - 1; ioc >= groups * 4; ioc--) {
                        out[ioc] = one_channel(p, &win, filter, bias, multiplier, shift, ioc);
                    }
                    for (ig = groups - 1; ig >= 0; ig--) {
                        four_channels(p, &win, filter, bias, multiplier, shift, ig * 4, out);
                    }
                }
            }
        }
    }
}
#endif

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch) {
    if (EK_DW_FAST(p)) {
        fast_path(p, input, filter, bias, multiplier, shift, output, scratch);
        return;
    }
#if EK_DW_OTHER_SHAPES /* 0: the generator found no layer of this model off the fast path */
    other_shapes(p, input, filter, bias, multiplier, shift, output);
#endif
}
