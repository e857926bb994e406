/*
 * edgekit Arm DSP kernels: the few SIMD intrinsics they use, and the fast requantization they share.
 *
 * On a core with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4, M7, M33 with DSP) each helper is one
 * ACLE intrinsic from arm_acle.h. Elsewhere a portable C version with the same result is used, so the
 * optimized kernels also compile (and can be tested) on the host; the generator only selects them for
 * cores that have the instructions.
 *
 * Semantics, from the Armv7-M Architecture Reference Manual:
 *   SXTB16 x        -> halfwords (int16)x[7:0], (int16)x[23:16]
 *   SXTAB16 a, x    -> halfwords a.lo + (int16)x[7:0], a.hi + (int16)x[23:16] (each modulo 2^16)
 *   SMLAD a, b, c   -> c + a.lo * b.lo + a.hi * b.hi (modulo 2^32; the Q flag is not used here)
 *   SMLABB / SMLATT -> c + a.lo * b.lo / c + a.hi * b.hi
 */
#ifndef EK_DSP_H
#define EK_DSP_H

#include <stdint.h>
#include <string.h>

#include "ek_kernels.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define EK_HAS_DSP 1
#else
#define EK_HAS_DSP 0
#endif

/* Paths for shapes the reference models do not have (fallbacks): gcc compiles a cold function for
 * size, which keeps the engine code small where speed does not pay. */
#if defined(__GNUC__)
#define EK_COLD __attribute__((cold, noinline))
#else
#define EK_COLD
#endif

/* An unaligned 32-bit load: the M4/M7/M33 do them in hardware (LDR), memcpy lets the compiler say so. */
EK_INLINE uint32_t ek_load32(const void *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

EK_INLINE void ek_store32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }

/* Rotation by 8: written as shifts so that gcc folds it into the SXTB16/SXTAB16 operand (ROR #8). */
EK_INLINE uint32_t ek_ror8(uint32_t x) { return (x >> 8) | (x << 24); }

#if EK_HAS_DSP
EK_INLINE uint32_t ek_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int8x4_t)x); }
EK_INLINE uint32_t ek_sxtab16(uint32_t a, uint32_t x) { return (uint32_t)__sxtab16((int16x2_t)a, (int8x4_t)x); }
EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t c) {
    return __smlad((int16x2_t)a, (int16x2_t)b, c);
}
EK_INLINE int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t c) { return __smlabb((int32_t)a, (int32_t)b, c); }
EK_INLINE int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t c) { return __smlatt((int32_t)a, (int32_t)b, c); }
#else
EK_INLINE int32_t ek_lo16(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x & 0xFFFFu); }
EK_INLINE int32_t ek_hi16(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x >> 16); }
EK_INLINE uint32_t ek_pack16(int32_t lo, int32_t hi) {
    return ((uint32_t)lo & 0xFFFFu) | (((uint32_t)hi & 0xFFFFu) << 16);
}
EK_INLINE uint32_t ek_sxtb16(uint32_t x) {
    return ek_pack16((int8_t)(uint8_t)(x & 0xFFu), (int8_t)(uint8_t)((x >> 16) & 0xFFu));
}
EK_INLINE uint32_t ek_sxtab16(uint32_t a, uint32_t x) {
    return ek_pack16(ek_lo16(a) + (int8_t)(uint8_t)(x & 0xFFu), ek_hi16(a) + (int8_t)(uint8_t)((x >> 16) & 0xFFu));
}
EK_INLINE int32_t ek_smlad(uint32_t a, uint32_t b, int32_t c) {
    return ek_wrap_add(c, ek_wrap_add(ek_lo16(a) * ek_lo16(b), ek_hi16(a) * ek_hi16(b)));
}
EK_INLINE int32_t ek_smlabb(uint32_t a, uint32_t b, int32_t c) { return ek_wrap_add(c, ek_lo16(a) * ek_lo16(b)); }
EK_INLINE int32_t ek_smlatt(uint32_t a, uint32_t b, int32_t c) { return ek_wrap_add(c, ek_hi16(a) * ek_hi16(b)); }
#endif

/* SXTB16 / SXTAB16 of x rotated right by 8 (the odd bytes). One instruction with the rotation in the
 * operand; gcc does not fold a separate rotate into it, hence the inline assembly. */
#if EK_HAS_DSP && defined(__GNUC__)
EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
EK_INLINE uint32_t ek_sxtab16_ror8(uint32_t a, uint32_t x) {
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}
#else
EK_INLINE uint32_t ek_sxtb16_ror8(uint32_t x) { return ek_sxtb16(ek_ror8(x)); }
EK_INLINE uint32_t ek_sxtab16_ror8(uint32_t a, uint32_t x) { return ek_sxtab16(a, ek_ror8(x)); }
#endif

/* int16 values per widened CONV_2D patch: filter_h * filter_w * filter_in_c rounded up to a group of 4.
 * The DSP CONV_2D needs 2 patches of scratch (edgekit/codegen/engine_ops.py mirrors this). */
#define EK_CONV_COLS(h, w, c) ((((h) * (w) * (c)) + 3) & ~3)

/* The Arm DSP CONV_2D's narrow-input path: one group, filter_in_c % 4 != 0, at most
 * EK_CONV_NARROW_MAX_OUT_C output channels (engine_ops._dsp_conv_narrow mirrors this). */
#define EK_CONV_NARROW_MAX_OUT_C 32
#define EK_CONV_NARROW(p) \
    ((p)->filter_in_c == (p)->in_c && ((p)->filter_in_c & 3) != 0 && (p)->out_c <= EK_CONV_NARROW_MAX_OUT_C)

/* The Arm DSP DEPTHWISE_CONV_2D's fast path: depth multiplier 1 or a multiple of 4, channels a multiple
 * of 4, at most EK_DW_MAX_TAPS filter taps. Its weights are packed by the generator (engine_ops
 * mirrors this) and its scratch holds in_c bytes of the input zero point. */
#define EK_DW_MAX_TAPS 25
/* The fast path works on tiles of consecutive output pixels (EK_DW_TILE for a filter of `taps` taps:
 * their tap pointers fill at most EK_DW_TILE_SLOTS slots), one group of 4 channels of every pixel of
 * the tile after the other, so that a group's weights and requantization are fetched once per tile.
 * engine_ops.dsp_depthwise_tile mirrors the size: the planner sees each output read the whole tile's
 * inputs. */
#define EK_DW_TILE_MAX 8
#define EK_DW_TILE_SLOTS 72
#define EK_DW_TILE(taps) (EK_DW_TILE_SLOTS / (taps) < EK_DW_TILE_MAX ? EK_DW_TILE_SLOTS / (taps) : EK_DW_TILE_MAX)
#define EK_DW_FAST(p)                                                                          \
    (((p)->depth_multiplier == 1 || ((p)->depth_multiplier & 3) == 0) && ((p)->out_c & 3) == 0 && \
     (p)->filter_h * (p)->filter_w <= EK_DW_MAX_TAPS)

EK_INLINE int32_t ek_pixel_index(const ek_conv_params_t *p, const ek_pixel_t *q) {
    return (q->b * p->out_h + q->y) * p->out_w + q->x;
}

/* Both halfwords set to v (for SXTAB16: adds the input offset while widening). */
EK_INLINE uint32_t ek_dup16(int32_t v) { return ((uint32_t)v & 0xFFFFu) * 0x10001u; }

/* ek_mul_by_quantized_mul, cheaper and with the same result for every multiplier the generator emits
 * (quantize_multiplier gives 0 or [2^30, 2^31), never INT32_MIN, so the saturating case of the
 * rounding doubling high multiply cannot occur). gemmlowp's nudge-and-truncate equals an arithmetic
 * shift of ab + 2^30: for ab < 0, -floor((-ab - 1 + 2^30) / 2^31) == floor((ab + 2^30) / 2^31). */
EK_INLINE int32_t ek_requant_fast(int32_t x, int32_t multiplier, int shift) {
    const int left = shift > 0 ? shift : 0;
    const int right = shift > 0 ? 0 : -shift;
    const int64_t ab = (int64_t)ek_wrap_shl(x, left) * multiplier;
    const int32_t high = (int32_t)((ab + (1LL << 30)) >> 31);
    /* ek_rounding_divide_by_pot in 32-bit arithmetic (its mask is built in 64 bits there). */
    const int32_t mask = (int32_t)((1u << right) - 1u);
    const int32_t threshold = (mask >> 1) + (int32_t)((uint32_t)high >> 31);
    return (high >> right) + ((high & mask) > threshold ? 1 : 0);
}

/* ek_requant_fast split in two: the per-channel part (shifts, rounding mask) once per output channel,
 * the per-value part branch-free (SMLAL, shifts, one conditional add), for kernels that requantize
 * several outputs of the same channel in a row. Same results as ek_requant_fast. */
typedef struct {
    int32_t multiplier;
    int32_t left, right; /* shift split into its left (> 0) and right (< 0) parts, both >= 0 */
    int32_t mask, half;  /* 2^right - 1 and mask >> 1 */
} ek_requant_t;

EK_INLINE ek_requant_t ek_requant_setup(int32_t multiplier, int32_t shift) {
    ek_requant_t q;
    q.multiplier = multiplier;
    q.left = shift & ~(shift >> 31);
    q.right = (-shift) & ~((-shift) >> 31);
    q.mask = (int32_t)((1u << q.right) - 1u);
    q.half = q.mask >> 1;
    return q;
}

EK_INLINE int32_t ek_requant_apply(const ek_requant_t *q, int32_t x) {
    const int64_t ab = (int64_t)ek_wrap_shl(x, q->left) * q->multiplier;
    const int32_t high = (int32_t)((ab + (1LL << 30)) >> 31);
    const int32_t threshold = q->half + (int32_t)((uint32_t)high >> 31);
    return (high >> q->right) + ((high & q->mask) > threshold ? 1 : 0);
}

/* (a * b + 2^31) >> 32: SMMULR, the rounded most significant word of the product. */
#if EK_HAS_DSP && defined(__GNUC__)
EK_INLINE int32_t ek_smmulr(int32_t a, int32_t b) {
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
#else
EK_INLINE int32_t ek_smmulr(int32_t a, int32_t b) { return (int32_t)(((int64_t)a * b + (1LL << 31)) >> 32); }
#endif

/* The short requantization, for layers whose `requant_fast` the generator set (engine_ops.requant_fast_ok
 * proves the conditions from the weights, bias and zero points): every channel with a non-zero
 * multiplier shifts right by 1 to 31, and neither 2 x acc nor the rounded sum below leaves int32.
 * Then TFLM's two roundings are
 *   high = SRDHM(acc, M) = (acc * M + 2^30) >> 31 = (2acc * M + 2^31) >> 32   one SMMULR
 *   RDBP(high, r)        = (high + 2^(r-1) - (high < 0)) >> r                 (ties away from zero)
 * five instructions per output against a 64-bit multiply-add and a masked compare. With
 * requant_fast == 1 the output offset joins the rounding term as offset x 2^r before the shift (floor
 * division by 2^r of t + k 2^r is floor(t / 2^r) + k), so `after` is 0; with 2 (large right shifts,
 * where offset x 2^r would overflow) it is added after the shift. A zero multiplier (a channel TFLM
 * flushed) gives high = 0 whatever its shift: the generator gives it a shift of -1 in the Arm DSP
 * layers' shift array (engine_ops.adapt_for_family), where it yields the offset as 0 does. */
typedef struct {
    int32_t multiplier, right, round;
} ek_rq_fast_t;

/* `folded`: the output offset with requant_fast 1, else 0 (the caller adds ek_rq_after once). */
EK_INLINE ek_rq_fast_t ek_rq_fast_setup(int32_t multiplier, int32_t shift, int32_t folded) {
    ek_rq_fast_t q;
    q.multiplier = multiplier;
    q.right = -shift;
    q.round = (int32_t)((1u << (q.right - 1)) + ((uint32_t)folded << q.right));
    return q;
}

/* The Arm DSP CONV_2D's requantization table. In a layer with requant_fast != 0 the generator passes,
 * in place of `bias` (and with NULL multiplier and shift: the kernel's signature stays the reference
 * one), EK_RQ_WORDS int32 words per output channel, {bias, multiplier', round, right}
 * (engine_ops.pack_requant_dsp; bias 0 when the layer has none):
 *   multiplier' = 2 M - 2^32 (wrapped), so that SMMLAR(acc, multiplier', acc) = (2 acc M + 2^31) >> 32 is
 *                 ek_rq_fast's SMMULR(2 acc, M) without the doubling (ek_rq_table);
 *   round, right  as ek_rq_fast_setup computes them (round wraps as uint32).
 * The words are grouped per channel pair (oc even, oc + 1), each field's two words side by side:
 *   {bias oc, bias oc+1, mult oc, mult oc+1, round oc, round oc+1, right oc, right oc+1}
 * (EK_RQ_AT); an odd out_c gets a padding channel {0, 0, 1, 1}. Why: the pair loop loads a pair's two
 * biases with one LDM and its six requantization words with another, into registers in the order the
 * SMMLAR / ADD / ASR sequence uses them, instead of copying fields one by one.
 * A flushed channel (M = 0) has no such multiplier' (SMMLAR by 0 gives acc): the generator zeroes its
 * weights in the packed filter and its bias in the table, so its sum is 0, high is 0 and the output is
 * the folded offset (right 1, round 1 + 2 x offset).
 * Why a table at all: the requantization of a channel pair otherwise costs as much as a quarter of a
 * 1x1 layer's MAC loop, in three scattered array loads per channel, the shift arithmetic of
 * ek_rq_fast_setup and the spills they cause; from the table it is a few sequential loads (LDM).
 * Every path of the kernel reads the table when requant_fast is set, never multiplier or shift. */
#define EK_RQ_WORDS 4
#define EK_RQ_BIAS 0
#define EK_RQ_MULT 1
#define EK_RQ_ROUND 2
#define EK_RQ_RIGHT 3
/* The index of `field` (EK_RQ_BIAS ...) of output channel oc in the table. */
#define EK_RQ_AT(oc, field) (EK_RQ_WORDS * ((oc) & ~1) + 2 * (field) + ((oc) & 1))

/* The offset folded into the rounding term (level 1) and the one added after the shift (level 2). */
EK_INLINE int32_t ek_rq_folded(const ek_conv_params_t *p) { return p->requant_fast == 1 ? p->output_offset : 0; }
EK_INLINE int32_t ek_rq_after(const ek_conv_params_t *p) { return p->requant_fast == 1 ? 0 : p->output_offset; }

/* The requantized value, the output offset added when folded (level 1), before the clamp. */
EK_INLINE int32_t ek_rq_fast(int32_t acc, int32_t multiplier, int32_t right, int32_t round) {
    const int32_t high = ek_smmulr(ek_wrap_shl(acc, 1), multiplier);
    return (high + round + (high >> 31)) >> right;
}

/* (acc * 2^32 + acc * m + 2^31) >> 32: SMMLAR with the accumulator as its addend. */
#if EK_HAS_DSP && defined(__GNUC__)
EK_INLINE int32_t ek_smmlar_self(int32_t acc, int32_t m) {
    int32_t r;
    __asm__("smmlar %0, %1, %2, %1" : "=r"(r) : "r"(acc), "r"(m));
    return r;
}
#else
EK_INLINE int32_t ek_smmlar_self(int32_t acc, int32_t m) {
    return (int32_t)(((int64_t)acc * ((int64_t)m + 4294967296LL) + (1LL << 31)) >> 32);
}
#endif

/* ek_rq_fast from a requantization table entry (multiplier' = 2 M - 2^32): the same value. */
EK_INLINE int32_t ek_rq_table(int32_t acc, int32_t multiplier2, int32_t right, int32_t round) {
    const int32_t high = ek_smmlar_self(acc, multiplier2);
    return (high + round + (high >> 31)) >> right;
}

/* Clamp written as two selects, so that gcc emits conditional moves rather than a branch. */
EK_INLINE int8_t ek_clamp_s8(int32_t v, int32_t lo, int32_t hi) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

/* The clamp for the usual activation range [-128, 127] (no activation, or RELU with zero point -128):
 * one SSAT instead of two compares and two conditional moves. Kernels test the range once per call. */
EK_INLINE int8_t ek_sat_s8(int32_t v) {
#if EK_HAS_DSP
    return (int8_t)__ssat(v, 8);
#else
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
#endif
}

EK_INLINE int ek_full_range(int32_t act_min, int32_t act_max) { return act_min == -128 && act_max == 127; }

#endif /* EK_DSP_H */
