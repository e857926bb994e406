/* CONV_2D, int8, per-channel requantization: the Arm DSP (SMLAD) version of reference/conv_2d.c, with
 * the same results bit for bit.
 *
 * Two output pixels at a time: their input patches (filter_h x filter_w x filter_in_c values, the input
 * offset added, zero where the window lies in the padding) are widened into `scratch` as int16, then
 * each pair of output channels is accumulated against both patches with SMLAD, two 8-bit MACs per
 * instruction: per 4 filter taps, 2 weight loads + 4 SXTB16 + 4 patch loads + 8 SMLAD for 16 MACs.
 * `filter` is in the order the generator packs it for this kernel (engine_ops.pack_conv_filter_dsp:
 * channel pairs interleaved per 4 taps), so one pointer walks both channels of a pair.
 * SXTB16 splits 4 weight bytes into halfwords (w0, w2) and (w1, w3), so the patches are stored in the
 * same order and interleaved per group of 4 taps: [a0 a2 a1 a3 b0 b2 b1 b3] for pixels a and b, which
 * lets one pointer walk both. `scratch` holds 2 * EK_CONV_COLS(...) int16, plus one more row for staging
 * when filter_in_c % 4 != 0 (the generator puts it in the arena: engine_ops mirrors the size).
 *
 * Layers with requant_fast set take `bias` as the generator's requantization table (ek_dsp.h
 * EK_RQ_WORDS words per channel: bias, multiplier in SMMLAR's form, rounding term, right shift, laid
 * out per channel pair as EK_RQ_AT says) and NULL multiplier and shift; every path below reads it
 * through rq_bias, store_channel, store_pair_fast and fast_pairs' assembly, so that the pair loops do
 * no per-channel set-up.
 *
 * Write order: all inputs of both pixels are read into the scratch before any of their outputs is
 * written, and pixel pairs follow the reference order (reversed when `reverse` is set), so the
 * in-place overlaps the planner computes for the reference kernel stay safe. */
#include "ek_dsp.h"
#include "ek_kernels.h"

/* Where patch element k of pixel `which` (0 or 1) goes: its group of 4, then the SXTB16 order. */
#define EK_SLOT(k, which) ((((k) & ~3) << 1) | ((which) << 2) | (((k) & 1) << 1) | (((k) & 2) >> 1))

/* n input bytes from `src`, plus the input offset, as int16 at `dst`: 4 at a time where possible. */
EK_INLINE void widen_run(const int8_t *src, int32_t n, int16_t *dst, uint32_t offset2, int32_t input_offset) {
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        const uint32_t v = ek_load32(src);
        const uint32_t e02 = ek_sxtab16(offset2, v), e13 = ek_sxtab16_ror8(offset2, v);
        ek_store32(dst, (e02 & 0xFFFFu) | (e13 << 16));           /* x0, x1 */
        ek_store32(dst + 2, (e02 >> 16) | (e13 & 0xFFFF0000u));   /* x2, x3 */
    }
    for (; n > 0; n--) {
        *dst++ = (int16_t)(*src++ + input_offset);
    }
}

/* The patch of output pixel `pixel` (group starting at input channel `group_base`) in tap order, as
 * int16 with the input offset, zero in the padding and up to `cols`. */
static void im2col_linear(const ek_conv_params_t *p, const int8_t *input, const ek_pixel_t *pixel,
                          int32_t group_base, int32_t cols, int16_t *row) {
    const int32_t fc = p->filter_in_c;
    const int32_t in_y0 = pixel->y * p->stride_h - p->pad_h;
    const int32_t in_x0 = pixel->x * p->stride_w - p->pad_w;
    const int8_t *in_batch = input + (size_t)pixel->b * p->in_h * p->in_w * p->in_c + group_base;
    const uint32_t offset2 = ek_dup16(p->input_offset);
    /* Undilated and ungrouped, the window's columns inside the input are one contiguous run, [lo, hi):
     * zeros, one widen_run, zeros per row, rather than a run per tap at the edges (first layers with
     * 1 to 3 channels spend most of their patch time there). */
    const int run = p->dilation_w == 1 && fc == p->in_c;
    const int32_t lo = in_x0 < 0 ? -in_x0 : 0;
    const int32_t hi_in = p->in_w - in_x0 < p->filter_w ? p->in_w - in_x0 : p->filter_w;
    const int32_t hi = hi_in > lo ? hi_in : lo;
    int16_t *dst = row;
    int32_t fy, fx, k;
    for (fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int8_t *line = in_batch + (size_t)in_y * p->in_w * p->in_c;
        if (in_y < 0 || in_y >= p->in_h) {
            for (k = 0; k < p->filter_w * fc; k++) {
                *dst++ = 0;
            }
        } else if (run) {
            for (k = 0; k < lo * fc; k++) {
                *dst++ = 0;
            }
            widen_run(line + (size_t)(in_x0 + lo) * p->in_c, (hi - lo) * fc, dst, offset2, p->input_offset);
            dst += (hi - lo) * fc;
            for (k = hi * fc; k < p->filter_w * fc; k++) {
                *dst++ = 0;
            }
        } else {
            for (fx = 0; fx < p->filter_w; fx++) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                if (in_x >= 0 && in_x < p->in_w) {
                    widen_run(line + (size_t)in_x * p->in_c, fc, dst, offset2, p->input_offset);
                } else {
                    for (k = 0; k < fc; k++) {
                        dst[k] = 0;
                    }
                }
                dst += fc;
            }
        }
    }
    while (dst < row + cols) {
        *dst++ = 0;
    }
}

/* Widen the patch of output pixel `pixel` for the group starting at input channel `group_base`. */
static void im2col(const ek_conv_params_t *p, const int8_t *input, const ek_pixel_t *pixel, int32_t group_base,
                   int32_t cols, int which, int16_t *col) {
    const int32_t fc = p->filter_in_c;
    const int32_t in_y0 = pixel->y * p->stride_h - p->pad_h;
    const int32_t in_x0 = pixel->x * p->stride_w - p->pad_w;
    const int8_t *in_batch = input + (size_t)pixel->b * p->in_h * p->in_w * p->in_c + group_base;
    const uint32_t offset2 = ek_dup16(p->input_offset);
    int32_t fy, fx, k = 0;

    if ((fc & 3) != 0) {
        /* Channels not a multiple of 4: in tap order into the staging row, then groups of 4 into the
         * SXTB16 order: (x0, x2) and (x1, x3). */
        int16_t *lin = col + 2 * cols;
        uint32_t *dst = (uint32_t *)(void *)(col + EK_SLOT(0, which));
        int32_t g4;
        im2col_linear(p, input, pixel, group_base, cols, lin);
        for (g4 = 0; g4 < cols; g4 += 4) {
            const uint32_t a = ek_load32(lin + g4);     /* x0 | x1 << 16 */
            const uint32_t b = ek_load32(lin + g4 + 2); /* x2 | x3 << 16 */
            dst[0] = (a & 0xFFFFu) | (b << 16);
            dst[1] = (a >> 16) | (b & 0xFFFF0000u);
            dst += 4;
        }
        return;
    }
    for (fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int row_inside = in_y >= 0 && in_y < p->in_h;
        const int8_t *row = in_batch + (size_t)(row_inside ? in_y : 0) * p->in_w * p->in_c;
        for (fx = 0; fx < p->filter_w; fx++, k += fc) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            const int inside = row_inside && in_x >= 0 && in_x < p->in_w;
            const int8_t *px = row + (size_t)(inside ? in_x : 0) * p->in_c;
            /* k is a multiple of 4 here: whole groups, widened 4 at a time. */
            uint32_t *dst = (uint32_t *)(void *)(col + EK_SLOT(k, which));
            uint32_t *const end = dst + fc; /* fc / 4 groups of 4 words (2 per pixel) */
            if (inside) {
                for (; dst != end; dst += 4, px += 4) {
                    const uint32_t v = ek_load32(px);
                    dst[0] = ek_sxtab16(offset2, v);
                    dst[1] = ek_sxtab16_ror8(offset2, v);
                }
            } else {
                for (; dst != end; dst += 4) {
                    dst[0] = 0;
                    dst[1] = 0;
                }
            }
        }
    }
    for (; k < cols; k++) {
        col[EK_SLOT(k, which)] = 0;
    }
}

#if EK_HAS_DSP && defined(__GNUC__)
/* One group of 4 taps of a channel pair against both patches, as assembly: written with intrinsics,
 * gcc keeps a loop counter and pointer on the stack and orders the loads apart (27 model cycles per
 * group against 20 here: the first four loads back to back pipeline). a..d: s00, s01, s10, s11;
 * t0/t1 the two channels' 4 weights, t2/t3 their even halves, t0/t1 then the odd ones; t4/t5 one
 * patch's two halfword pairs. The registers are parameters (operand names or fixed registers as
 * strings), so that EK_CONV_PAIR and fast_pairs share one text. */
#define EK_CONV_GROUP(w, x, a, b, c, d, t0, t1, t2, t3, t4, t5)                                    \
    "ldr " t0 ", [" w "], #4\n\t"                                                                  \
    "ldr " t1 ", [" w "], #4\n\t"                                                                  \
    "ldr " t4 ", [" x "], #4\n\t"                                                                  \
    "ldr " t5 ", [" x "], #4\n\t"                                                                  \
    "sxtb16 " t2 ", " t0 "\n\t"                                                                    \
    "sxtb16 " t0 ", " t0 ", ror #8\n\t"                                                            \
    "sxtb16 " t3 ", " t1 "\n\t"                                                                    \
    "sxtb16 " t1 ", " t1 ", ror #8\n\t"                                                            \
    "smlad " a ", " t2 ", " t4 ", " a "\n\t"                                                       \
    "smlad " a ", " t0 ", " t5 ", " a "\n\t"                                                       \
    "smlad " b ", " t3 ", " t4 ", " b "\n\t"                                                       \
    "smlad " b ", " t1 ", " t5 ", " b "\n\t"                                                       \
    "ldrd " t4 ", " t5 ", [" x "], #8\n\t"                                                         \
    "smlad " c ", " t2 ", " t4 ", " c "\n\t"                                                       \
    "smlad " c ", " t0 ", " t5 ", " c "\n\t"                                                       \
    "smlad " d ", " t3 ", " t4 ", " d "\n\t"                                                       \
    "smlad " d ", " t1 ", " t5 ", " d "\n\t"
#define EK_CONV_GROUP_ASM                                                                          \
    EK_CONV_GROUP("%[w]", "%[x]", "%[a]", "%[b]", "%[c]", "%[d]", "%[t0]", "%[t1]", "%[t2]", "%[t3]", "%[t4]", \
                  "%[t5]")
#endif

/* The initial sum of output channel `oc`: its bias, from the requantization table when there is one. */
EK_INLINE int32_t rq_bias(int32_t requant_fast, const int32_t *bias, int32_t oc) {
    if (requant_fast) {
        return bias[EK_RQ_AT(oc, EK_RQ_BIAS)];
    }
    return bias != NULL ? bias[oc] : 0;
}

/* Requantize, offset, clamp and store output channel `oc` of both pixels (out_b NULL: one pixel).
 * `bias`: the kernel's argument (the requantization table with requant_fast). */
#if defined(__GNUC__)
__attribute__((noinline)) /* called from several paths: one copy of both requantizations */
#endif
static void store_channel(const ek_conv_params_t *p, int32_t oc, int32_t sa, int32_t sb, const int32_t *bias,
                          const int32_t *multiplier, const int8_t *shift, int8_t *out_a, int8_t *out_b) {
    int32_t ra, rb;
    if (p->requant_fast) {
        const int32_t m = bias[EK_RQ_AT(oc, EK_RQ_MULT)], right = bias[EK_RQ_AT(oc, EK_RQ_RIGHT)];
        const int32_t round = bias[EK_RQ_AT(oc, EK_RQ_ROUND)];
        ra = ek_rq_table(sa, m, right, round) + ek_rq_after(p);
        rb = ek_rq_table(sb, m, right, round) + ek_rq_after(p);
    } else {
        const ek_requant_t q = ek_requant_setup(multiplier[oc], shift[oc]);
        ra = ek_requant_apply(&q, sa) + p->output_offset;
        rb = ek_requant_apply(&q, sb) + p->output_offset;
    }
    if (ek_full_range(p->act_min, p->act_max)) {
        out_a[oc] = ek_sat_s8(ra);
        if (out_b != NULL) {
            out_b[oc] = ek_sat_s8(rb);
        }
    } else {
        out_a[oc] = ek_clamp_s8(ra, p->act_min, p->act_max);
        if (out_b != NULL) {
            out_b[oc] = ek_clamp_s8(rb, p->act_min, p->act_max);
        }
    }
}

/* Channels oc, oc + 1 of both pixels with ek_rq_table, the output offset folded (requant_fast 1) and
 * no clamp beyond int8 (s<pixel><channel>); q: the pair's 2 x EK_RQ_WORDS words of the requantization
 * table (EK_RQ_AT(oc, 0), oc even); out_a, out_b: at channel oc. (No CONV_2D of the reference models needs requant_fast 2, whose
 * offset is added after the shift: those layers take store_channel, which saves an ADD per output
 * here and a second copy of the pair loop.) */
EK_INLINE void store_pair_fast(const int32_t *q, int32_t s00, int32_t s01, int32_t s10, int32_t s11, int8_t *out_a,
                               int8_t *out_b) {
    const int32_t m0 = q[EK_RQ_AT(0, EK_RQ_MULT)], round0 = q[EK_RQ_AT(0, EK_RQ_ROUND)];
    const int32_t right0 = q[EK_RQ_AT(0, EK_RQ_RIGHT)], m1 = q[EK_RQ_AT(1, EK_RQ_MULT)];
    const int32_t round1 = q[EK_RQ_AT(1, EK_RQ_ROUND)], right1 = q[EK_RQ_AT(1, EK_RQ_RIGHT)];
    out_a[0] = ek_sat_s8(ek_rq_table(s00, m0, right0, round0));
    out_b[0] = ek_sat_s8(ek_rq_table(s10, m0, right0, round0));
    out_a[1] = ek_sat_s8(ek_rq_table(s01, m1, right1, round1));
    out_b[1] = ek_sat_s8(ek_rq_table(s11, m1, right1, round1));
}

/* Output channels oc and oc + 1 for both patches, in C (grouped convolutions, lone pixels, depths that
 * are not a multiple of 4; the common case is all_channels). `w`: the pair's weights as the generator packs them
 * (engine_ops.pack_conv_filter_dsp): per group of 4 taps, 4 bytes of oc then 4 of oc + 1; then the
 * depth % 4 last taps of oc, then those of oc + 1. */
static void channel_pair(const ek_conv_params_t *p, const int8_t *w, int32_t depth, const int16_t *col, int32_t oc,
                         const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *out_a,
                         int8_t *out_b) {
    const int32_t b0 = rq_bias(p->requant_fast, bias, oc);
    const int32_t b1 = rq_bias(p->requant_fast, bias, oc + 1);
    int32_t s00 = b0, s01 = b1, s10 = b0, s11 = b1; /* s<pixel><channel> */
    const uint32_t *x = (const uint32_t *)(const void *)col;
    const int32_t whole = depth & ~3;
    const int8_t *end = w + 2 * whole;
    int32_t k;

    while (w != end) {
        const uint32_t wa = ek_load32(w);
        const uint32_t wb = ek_load32(w + 4);
        const uint32_t a02 = ek_sxtb16(wa), a13 = ek_sxtb16_ror8(wa);
        const uint32_t p02 = x[0], p13 = x[1], q02 = x[2], q13 = x[3];
        const uint32_t b02 = ek_sxtb16(wb), b13 = ek_sxtb16_ror8(wb);
        w += 8;
        x += 4;
        s00 = ek_smlad(a02, p02, s00);
        s00 = ek_smlad(a13, p13, s00);
        s10 = ek_smlad(a02, q02, s10);
        s10 = ek_smlad(a13, q13, s10);
        s01 = ek_smlad(b02, p02, s01);
        s01 = ek_smlad(b13, p13, s01);
        s11 = ek_smlad(b02, q02, s11);
        s11 = ek_smlad(b13, q13, s11);
    }
    for (k = whole; k < depth; k++, w++) {
        const int32_t wv0 = w[0], wv1 = w[depth - whole];
        s00 += wv0 * col[EK_SLOT(k, 0)];
        s01 += wv1 * col[EK_SLOT(k, 0)];
        s10 += wv0 * col[EK_SLOT(k, 1)];
        s11 += wv1 * col[EK_SLOT(k, 1)];
    }
    store_channel(p, oc, s00, s10, bias, multiplier, shift, out_a, out_b);
    store_channel(p, oc + 1, s01, s11, bias, multiplier, shift, out_a, out_b);
}

/* A lone output channel (the odd last one of a group): its weights in the reference layout. */
static void channel_single(const ek_conv_params_t *p, const int8_t *w, int32_t depth, const int16_t *col,
                           int32_t oc, const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                           int8_t *out_a, int8_t *out_b) {
    int32_t s0 = rq_bias(p->requant_fast, bias, oc);
    int32_t s1 = s0;
    const uint32_t *x = (const uint32_t *)(const void *)col;
    const int32_t whole = depth & ~3;
    int32_t k;
    for (k = 0; k < whole; k += 4) {
        const uint32_t wa = ek_load32(w + k);
        const uint32_t a02 = ek_sxtb16(wa), a13 = ek_sxtb16_ror8(wa);
        s0 = ek_smlad(a02, x[0], s0);
        s0 = ek_smlad(a13, x[1], s0);
        s1 = ek_smlad(a02, x[2], s1);
        s1 = ek_smlad(a13, x[3], s1);
        x += 4;
    }
    for (; k < depth; k++) {
        s0 += w[k] * col[EK_SLOT(k, 0)];
        s1 += w[k] * col[EK_SLOT(k, 1)];
    }
    store_channel(p, oc, s0, s1, bias, multiplier, shift, out_a, out_b);
}

#if EK_HAS_DSP && defined(__GNUC__)
/* The sums of a channel pair against both patches: `groups` groups of 4 taps through EK_CONV_GROUP_ASM,
 * two per iteration (an odd one first). Advances w past the pair's weights. One LSRS gives both tests:
 * C the odd group, Z no pair left (EK_CONV_GROUP_ASM sets no flags). */
#define EK_CONV_PAIR(w, col, groups, s00, s01, s10, s11)                                                      \
    do {                                                                                                    \
        const uint32_t *x_ = (const uint32_t *)(const void *)(col);                                         \
        uint32_t n_ = (groups), t0, t1, t2, t3, t4, t5;                                                     \
        __asm__ volatile("lsrs %[n], %[n], #1\n\t"                                                          \
                         "bcc 2f\n\t" EK_CONV_GROUP_ASM "2:\n\t"                                            \
                         "beq 3f\n"                                                                         \
                         "1:\n\t" EK_CONV_GROUP_ASM EK_CONV_GROUP_ASM "subs %[n], %[n], #1\n\t"               \
                         "bne 1b\n"                                                                         \
                         "3:\n"                                                                             \
                         : [w] "+r"(w), [x] "+r"(x_), [n] "+r"(n_), [a] "+r"(s00), [b] "+r"(s01),           \
                           [c] "+r"(s10), [d] "+r"(s11), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2),   \
                           [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5)                                  \
                         :                                                                                  \
                         : "cc", "memory");                                                                 \
    } while (0)

/* The channel pairs of all_channels' fast path (requant_fast 1, the int8 range): MAC loop,
 * requantization, stores and the pair loop in one assembly block with fixed registers. Why: as C
 * around EK_CONV_PAIR, gcc spilled the output pointers and the end pointer, reloaded the patch pointer
 * and the group count and copied the biases, ~61 model cycles per pair outside the MAC loop; here
 * the five values the MAC loop leaves no register for live on the stack, and LDRD / LDM load the table
 * straight into the registers the requantization uses (ek_dsp.h EK_RQ_AT), ~50. The MAC loop does 4
 * groups of 4 taps per iteration (an odd group and a pair of groups first, each out of the way when
 * absent): its SUBS and taken BNE were 4 cycles per 32 MACs, a 64 -> 64 1x1 layer's 16 groups now
 * branch back 3 times per channel pair instead of 7.
 * Registers: r0 w, r1 x, r2 n, r3..r6 s00 s01 s10 s11, r7..r12 EK_CONV_GROUP's temporaries, then
 * m0 m1 round0 round1 right0 right1; lr the table. r0-r6 are operands (gcc saves r4-r6 in the
 * kernel's prologue anyway), r12 a clobber; the block saves r7-r11 and lr itself (r7 may be the frame
 * pointer, which gcc lets no asm name; the others with it, so that one PUSH does). The order pairs MAC with ALU and ALU with ALU for the M7's dual issue
 * without changing the M4's cost.
 * Per output: ek_rq_table's SMMLAR, ADD (round + high's sign), ADD, ASR, then SSAT and STRB; the sign
 * is taken from high itself, as ek_rq_table does. */
EK_INLINE void fast_pairs(const int8_t *w, const int16_t *col, uint32_t groups, const int32_t *q, int8_t *out_a,
                          int32_t delta, const int32_t *q_end) {
    /* The arguments in the registers the block starts from (explicit register variables: no copies). */
    register const int8_t *r0 __asm__("r0") = w;
    register const int16_t *r1 __asm__("r1") = col;
    register uint32_t r2 __asm__("r2") = groups;
    register const int32_t *r3 __asm__("r3") = q;
    register int8_t *r4 __asm__("r4") = out_a;
    register int32_t r5 __asm__("r5") = delta;
    register const int32_t *r6 __asm__("r6") = q_end;
    __asm__ volatile(
        "push {r7-r11, lr}\n\t"
        "push {r1, r2, r4, r5, r6}\n\t" /* [sp] col, groups, out_a, delta, q_end */
        "mov lr, r3\n"
        "0:\n\t"
        "ldrd r3, r4, [lr], #8\n\t" /* LDRD rather than LDM: the M7 pairs it with the MOV */
        "mov r5, r3\n\t"
        "ldrd r1, r2, [sp]\n\t"
        "mov r6, r4\n\t"
        "lsrs r2, r2, #1\n\t" /* C: an odd group, done out of line; Z: no more */
        "bcs 4f\n"
        "6:\n\t"
        "lsrs r2, r2, #1\n\t" /* C: a pair of groups; Z: no group of 4 */
        "bcc 1f\n\t"
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        "beq 3f\n"
        "1:\n\t"
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        "subs r2, r2, #1\n\t"
        "bne 1b\n"
        "3:\n\t"
        "ldm lr!, {r7-r12}\n\t"
        "smmlar r3, r3, r7, r3\n\t"
        "smmlar r5, r5, r7, r5\n\t"
        "add r1, r9, r3, asr #31\n\t"
        "smmlar r4, r4, r8, r4\n\t"
        "add r2, r9, r5, asr #31\n\t"
        "smmlar r6, r6, r8, r6\n\t"
        "add r3, r3, r1\n\t"
        "add r5, r5, r2\n\t"
        "add r1, r10, r4, asr #31\n\t"
        "add r2, r10, r6, asr #31\n\t"
        "add r4, r4, r1\n\t"
        "add r6, r6, r2\n\t"
        "asr r3, r3, r11\n\t"
        "asr r5, r5, r11\n\t"
        "asr r4, r4, r12\n\t"
        "asr r6, r6, r12\n\t"
        "ssat r3, #8, r3\n\t"
        "ssat r5, #8, r5\n\t"
        "ssat r4, #8, r4\n\t"
        "ssat r6, #8, r6\n\t"
        "ldrd r1, r2, [sp, #8]\n\t"
        "strb r5, [r1, r2]\n\t"
        "strb r3, [r1], #1\n\t"
        "strb r6, [r1, r2]\n\t"
        "strb r4, [r1], #1\n\t"
        "str r1, [sp, #8]\n\t"
        "ldr r2, [sp, #16]\n\t"
        "cmp lr, r2\n\t"
        "bne 0b\n\t"
        "b 5f\n"
        "4:\n\t"
        EK_CONV_GROUP("r0", "r1", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12")
        "beq 3b\n\t"
        "b 6b\n"
        "5:\n\t"
        "add sp, sp, #20\n\t"
        "pop {r7-r11, lr}\n"
        : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3), "+r"(r4), "+r"(r5), "+r"(r6)
        :
        : "r12", "cc", "memory");
}

/* Every output channel of a pixel pair, for one group whose depth is a multiple of 4, channel pairs
 * through EK_CONV_PAIR. With `fast` (requant_fast 1, no clamp beyond int8) the loop walks the
 * requantization table and both outputs by pointer and requantizes inline, with nothing re-read from
 * the parameter struct and no per-channel set-up (its own loop, so that no test of `fast` or of the
 * table is left in it); otherwise store_channel. An odd last channel goes to channel_single. */
static void all_channels(const ek_conv_params_t *p, const int8_t *filter, int32_t depth, const int16_t *col,
                         const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *out_a,
                         int8_t *out_b, int fast) {
    const int32_t out_c = p->out_c;
    const uint32_t groups = (uint32_t)(depth >> 2);
    const int8_t *w = filter;
    int32_t oc = out_c & ~1;
    if (fast) {
        if (oc > 0) {
            fast_pairs(w, col, groups, bias, out_a, (int32_t)(out_b - out_a), bias + EK_RQ_AT(oc, 0));
            w += (size_t)oc * depth;
        }
    } else {
        const int32_t table = p->requant_fast;
        for (oc = 0; oc + 1 < out_c; oc += 2) {
            int32_t s00 = rq_bias(table, bias, oc), s01 = rq_bias(table, bias, oc + 1), s10 = s00, s11 = s01;
            EK_CONV_PAIR(w, col, groups, s00, s01, s10, s11);
            store_channel(p, oc, s00, s10, bias, multiplier, shift, out_a, out_b);
            store_channel(p, oc + 1, s01, s11, bias, multiplier, shift, out_a, out_b);
        }
    }
    if (oc < out_c) {
        channel_single(p, w, depth, col, oc, bias, multiplier, shift, out_a, out_b);
    }
}
#endif

/* ---- Narrow inputs (EK_CONV_NARROW): one group, filter_in_c not a multiple of 4, few output channels -
 * First layers (1 to 3 input channels) spend most of their time building patches when the patch has to
 * be put in SXTB16 order (with many output channels the patch is amortized, and int16 weights would
 * cost more flash reads than they save). For them the generator widens the weights to int16 in tap order instead
 * (engine_ops.pack_conv_filter_narrow: per channel pair and per 2 taps, a word of each channel; an odd
 * last channel alone), so the patches stay in tap order: one row per pixel, in `scratch`, each window
 * row that lies inside the input widened as one run. */

#if EK_HAS_DSP && defined(__GNUC__)
/* Two taps of a channel pair against both rows: the two channels' words, the two rows' words, 4 SMLAD. */
#define EK_NARROW_STEP_ASM                                                                         \
    "ldr %[t0], [%[w]], #4\n\t"                                                                    \
    "ldr %[t1], [%[w]], #4\n\t"                                                                    \
    "ldr %[t2], [%[xa]], #4\n\t"                                                                   \
    "ldr %[t3], [%[xb]], #4\n\t"                                                                   \
    "smlad %[a0], %[t0], %[t2], %[a0]\n\t"                                                         \
    "smlad %[a1], %[t1], %[t2], %[a1]\n\t"                                                         \
    "smlad %[b0], %[t0], %[t3], %[b0]\n\t"                                                         \
    "smlad %[b1], %[t1], %[t3], %[b1]\n\t"
#endif

/* Sums of channels oc, oc + 1 (w: their words, interleaved) or of oc alone (single) over both rows. */
EK_INLINE void narrow_sums(const uint32_t *w, const uint32_t *xa, const uint32_t *xb, int32_t cols, int single,
                           int32_t *s00, int32_t *s01, int32_t *s10, int32_t *s11) {
    int32_t a0 = *s00, a1 = *s01, b0 = *s10, b1 = *s11;
    int32_t k;
    if (single) {
        for (k = 0; k < cols; k += 2) {
            const uint32_t w0 = *w++, pa = *xa++, pb = *xb++;
            a0 = ek_smlad(w0, pa, a0);
            b0 = ek_smlad(w0, pb, b0);
        }
    } else {
#if EK_HAS_DSP && defined(__GNUC__)
        uint32_t n = (uint32_t)(cols >> 2), t0, t1, t2, t3;
        /* Per 4 taps: the two channels' 2 words and the two rows' 2 words, 8 SMLAD. */
        __asm__ volatile(
            "1:\n\t"
            EK_NARROW_STEP_ASM
            EK_NARROW_STEP_ASM
            "subs %[n], %[n], #1\n\t"
            "bne 1b\n"
            : [w] "+r"(w), [xa] "+r"(xa), [xb] "+r"(xb), [n] "+r"(n), [a0] "+r"(a0), [a1] "+r"(a1),
              [b0] "+r"(b0), [b1] "+r"(b1), [t0] "=&r"(t0), [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3)
            :
            : "cc", "memory");
#else
        for (k = 0; k < cols; k += 2) {
            const uint32_t w0 = w[0], w1 = w[1], pa = *xa++, pb = *xb++;
            w += 2;
            a0 = ek_smlad(w0, pa, a0);
            a1 = ek_smlad(w1, pa, a1);
            b0 = ek_smlad(w0, pb, b0);
            b1 = ek_smlad(w1, pb, b1);
        }
#endif
    }
    *s00 = a0, *s01 = a1, *s10 = b0, *s11 = b1;
}

static void narrow_path(const ek_conv_params_t *p, const int8_t *input, const uint32_t *filter, const int32_t *bias,
                        const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t cols = EK_CONV_COLS(p->filter_h, p->filter_w, p->filter_in_c);
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t out_c = p->out_c;
    const int32_t table = p->requant_fast;
    const int fast = table == 1 && ek_full_range(p->act_min, p->act_max);
    int16_t *row_a = scratch, *row_b = scratch + cols;
    ek_pixel_t pa = ek_pixel_first(p), pb;
    int32_t i, oc;
    for (i = 0; i < pixels; i += 2) {
        const int pair = i + 1 < pixels;
        int8_t *out_a = output + (size_t)ek_pixel_index(p, &pa) * out_c;
        int8_t *out_b = NULL;
        const uint32_t *w = filter;
        pb = pa;
        if (pair) {
            ek_pixel_next(p, &pb);
            out_b = output + (size_t)ek_pixel_index(p, &pb) * out_c;
        }
        im2col_linear(p, input, &pa, 0, cols, row_a);
        im2col_linear(p, input, &pb, 0, cols, row_b);
        for (oc = 0; oc < out_c; oc += 2) {
            const int single = oc + 1 == out_c;
            int32_t s00 = rq_bias(table, bias, oc);
            int32_t s01 = single ? 0 : rq_bias(table, bias, oc + 1);
            int32_t s10 = s00, s11 = s01;
            narrow_sums(w, (const uint32_t *)(const void *)row_a, (const uint32_t *)(const void *)row_b, cols,
                        single, &s00, &s01, &s10, &s11);
            w += single ? cols / 2 : cols;
            if (fast && pair && !single) {
                store_pair_fast(bias + EK_RQ_AT(oc, 0), s00, s01, s10, s11, out_a + oc, out_b + oc);
                continue;
            }
            store_channel(p, oc, s00, s10, bias, multiplier, shift, out_a, out_b);
            if (!single) {
                store_channel(p, oc + 1, s01, s11, bias, multiplier, shift, out_a, out_b);
            }
        }
        pa = pb;
        ek_pixel_next(p, &pa);
    }
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t fc = p->filter_in_c;
    const int32_t groups = p->in_c / fc;
    const int32_t per_group = p->out_c / groups;
    const int32_t depth = p->filter_h * p->filter_w * fc;
    const int32_t cols = EK_CONV_COLS(p->filter_h, p->filter_w, fc);
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    /* Grouped convolutions go one pixel at a time: a pair would write the second pixel's first group
     * before the first pixel's next group is read, an order the planner's overlap does not allow. */
    const int pairs = groups == 1;
    const int whole_groups = pairs && (depth & 3) == 0;
    /* all_channels' fast loop: the offset folded into the table's rounding term, the int8 range. */
    const int fast = p->requant_fast == 1 && ek_full_range(p->act_min, p->act_max);
    int32_t i, g, oc, step;
    ek_pixel_t pa = ek_pixel_first(p), pb;

    (void)fast;
    (void)whole_groups;
    if (EK_CONV_NARROW(p)) {
        narrow_path(p, input, (const uint32_t *)(const void *)filter, bias, multiplier, shift, output, scratch);
        return;
    }
    for (i = 0; i < pixels; i += step) {
        const int pair = pairs && i + 1 < pixels;
        int8_t *out_a = output + (size_t)ek_pixel_index(p, &pa) * p->out_c;
        int8_t *out_b;
        pb = pa;
        if (pair) {
            ek_pixel_next(p, &pb);
        }
        out_b = pair ? output + (size_t)ek_pixel_index(p, &pb) * p->out_c : NULL;
        step = pair ? 2 : 1;
#if EK_HAS_DSP && defined(__GNUC__)
        if (whole_groups && pair) {
            im2col(p, input, &pa, 0, cols, 0, scratch);
            im2col(p, input, &pb, 0, cols, 1, scratch);
            all_channels(p, filter, depth, scratch, bias, multiplier, shift, out_a, out_b, fast);
            pa = pb;
            ek_pixel_next(p, &pa);
            continue;
        }
#endif
        for (g = 0; g < groups; g++) {
            const int32_t first = g * per_group;
            const int32_t last = first + per_group;
            /* A lone pixel fills both halves, so that the second accumulators read defined values. */
            im2col(p, input, &pa, g * fc, cols, 0, scratch);
            im2col(p, input, &pb, g * fc, cols, 1, scratch);
            /* Every input of the block is in the scratch now: the channel order no longer matters. */
            for (oc = first; oc + 1 < last; oc += 2) {
                channel_pair(p, filter + (size_t)oc * depth, depth, scratch, oc, bias, multiplier, shift, out_a,
                             out_b);
            }
            if (oc < last) {
                channel_single(p, filter + (size_t)oc * depth, depth, scratch, oc, bias, multiplier, shift, out_a,
                               out_b);
            }
        }
        pa = pb;
        ek_pixel_next(p, &pa);
    }
}
