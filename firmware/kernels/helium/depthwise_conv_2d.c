/* DEPTHWISE_CONV_2D, int8, per-channel requantization: the Helium (MVE) version of
 * reference/depthwise_conv_2d.c, with the same results bit for bit.
 *
 * Depth multiplier 1 (the MLPerf Tiny models) or a multiple of 8 (person_detect's first layer: then a
 * group of 8 output channels reads one input channel, broadcast), up to EK_HELIUM_DW_MAX_TAPS taps:
 * the output pixels go
 * in tiles of two consecutive pixels, [2k, 2k + 2) in flat order. For each pixel a table holds its taps'
 * input pointers; a tap in the padding points at a row of input zero points kept in `scratch`
 * (EK_HELIUM_DW_SCRATCH(in_c) bytes; ek_helium.h: the bias arrives folded with the input offset, so a
 * padding tap must cancel its share), so border pixels take the same code as the interior. Then each
 * group of 8 channels runs over both pixels of the tile (pair_group): per tap, one widening load of
 * weights (VLDRB.S16) serves both pixels' input loads, VMULLB + VMULLT and two VADD each (MVE has no
 * vector-by-vector VMLA); the group's requantization table is loaded once for both. The last group is
 * tail-predicated, and a tile of one pixel (odd pixel count) takes one_group. On this path `bias` is the
 * generator's packed requantization table (ek_helium.h EK_RQ_GROUP) with each group's lanes in the
 * accumulators' order [c0 c2 c4 c6 c1 c3 c5 c7] (engine_pack_helium.even_odd_order), and `multiplier` /
 * `shift` are unused; in channel order (the folded bias only) otherwise. Other depth multipliers, or
 * filters with more taps, take a scalar loop with the same arithmetic.
 *
 * Write order: a tile's outputs are written group by group (both pixels of a group together), after
 * every input of that group was read for both; the generator tells the planner that every output of a
 * tile reads the whole tile's window (engine_ops.tile_reads), so the in-place overlaps it plans stay
 * safe. Tiles and groups follow the reference order, last to first when `reverse` is set. */
#include <string.h>

#include "ek_helium.h"
#include "ek_kernels.h"

/* What the pixels of a layer share on the vector path. */
typedef struct {
    const int8_t *filter; /* packed: per group of 8 channels, each tap's 8 weights (zero past out_c) */
    const int32_t *rq;    /* packed requantization, EK_RQ_GROUP per 8 channels */
    int32_t oc, ntaps, out_offset, act_min, act_max;
    int left;       /* some channel shifts left */
    int full_range; /* [act_min, act_max] is all of int8: saturating narrowing clamps */
    int quick;      /* full range, no left shift, every right shift >= 1: pair_group's assembly requantizes */
    int dm8;        /* depth multiplier dm, a multiple of 8: a group of 8 channels reads input channel c / dm */
    int32_t dm;
} dw_t;

/* Sums of 4 lanes of two pixels: + folded bias, TFLM's double rounding (ek_helium.h), + output offset.
 * The table's values are loaded once for both pixels. */
EK_INLINE void requant_two(int32x4_t *a, int32x4_t *b, const int32_t *rq, int lane, const dw_t *d) {
    const int32x4_t bias = vldrwq_s32(rq + 24 + lane);
    int32x4_t x = vaddq_s32(*a, bias);
    int32x4_t y = vaddq_s32(*b, bias);
    int32x4_t r;
    if (d->left) {
        const int32x4_t left = vldrwq_s32(rq + 8 + lane);
        x = vshlq_s32(x, left);
        y = vshlq_s32(y, left);
    }
    {
        const int32x4_t mult = vldrwq_s32(rq + lane);
        x = vqrdmulhq_s32(x, mult);
        y = vqrdmulhq_s32(y, mult);
    }
    r = vldrwq_s32(rq + 16 + lane);
    x = vrshlq_s32(vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, r), 31)), r);
    y = vrshlq_s32(vqaddq_s32(y, vshrq_n_s32(vandq_s32(y, r), 31)), r);
    *a = vaddq_n_s32(x, d->out_offset);
    *b = vaddq_n_s32(y, d->out_offset);
}

/* Even and odd lanes (requantized) back in channel order, clamped, as 8 int8 in the low byte of each
 * 16-bit lane (what VSTRB.16 stores). Full range: two saturating narrowings, no bounds in registers. */
EK_INLINE int16x8_t narrow_clamp(int32x4_t even, int32x4_t odd, const dw_t *d) {
    /* Every lane of `n` is written by the two narrowings; the odd bytes of the last one are not stored. */
    int16x8_t n = vuninitializedq_s16();
    if (d->full_range) {
        n = vqmovnbq_s32(n, even);
        n = vqmovntq_s32(n, odd);
        return vreinterpretq_s16_s8(vqmovnbq_s16(vuninitializedq_s8(), n));
    }
    even = vminq_s32(vmaxq_s32(even, vdupq_n_s32(d->act_min)), vdupq_n_s32(d->act_max));
    odd = vminq_s32(vmaxq_s32(odd, vdupq_n_s32(d->act_min)), vdupq_n_s32(d->act_max));
    n = vmovnbq_s32(n, even);
    return vmovntq_s32(n, odd);
}

/* An output pixel of a tile: tap t of channel c reads (const int8_t *)(base + c + table[t]). An
 * interior pixel has its window's corner as base and the layer's tap offsets as table; a border pixel
 * base 0 and a table of its taps' addresses (a tap in the padding: the row of zero points). */
typedef struct {
    uint32_t base;
    const int32_t *table;
    int8_t *out;
} pix_t;

EK_INLINE const int8_t *tap_ptr(uint32_t base, const int32_t *table, int32_t t) {
    return (const int8_t *)(uintptr_t)(base + (uint32_t)table[t]);
}

/* The taps of a pixel pair for one group of 8 channels (pair_group). XL(r) loads the 8 inputs at
 * address r into x as int16: the next 8 bytes (depth multiplier 1), or one byte broadcast to every
 * lane (depth multiplier 8k: the group's 8 output channels read one input channel). */
#define EK_DW_X_VEC(r) "vldrb.s16 %q[x], [%[" #r "]]\n\t"
#define EK_DW_X_DUP(r) "ldrsb %[" #r "], [%[" #r "]]\n\tvdup.16 %q[x], %[" #r "]\n\t"
/* The taps of both pixels, after the first tap's weights (k) and pixel a's inputs (x) are loaded:
 * STEPS (taps - 1) in a register, then the last tap. Both loops below run it. */
#define EK_DW_TAPS(XL, STEPS)                        \
    "wls lr, " STEPS ", 2f\n\t"                     \
    "3:\n\t"                                     \
    "ldr %[ra], [%[pa], #4]!\n\t"                \
    "ldr %[rb], [%[pb]], #4\n\t"                 \
    "add %[ra], %[ra], %[ba]\n\t"                \
    "add %[rb], %[rb], %[bb]\n\t"                \
    "vmullb.s16 %q[lo], %q[x], %q[k]\n\t"        \
    "vmullt.s16 %q[hi], %q[x], %q[k]\n\t"        \
    XL(rb)                                       \
    "vadd.i32 %q[ea], %q[ea], %q[lo]\n\t"        \
    "vmullb.s16 %q[lo], %q[x], %q[k]\n\t"        \
    "vadd.i32 %q[oa], %q[oa], %q[hi]\n\t"        \
    "vmullt.s16 %q[hi], %q[x], %q[k]\n\t"        \
    "vldrb.s16 %q[k], [%[w], #8]!\n\t"           \
    "vadd.i32 %q[eb], %q[eb], %q[lo]\n\t"        \
    XL(ra)                                       \
    "vadd.i32 %q[ob], %q[ob], %q[hi]\n\t"        \
    "le lr, 3b\n\t"                              \
    "2:\n\t"                                     \
    "ldr %[rb], [%[pb]]\n\t"                     \
    "add %[rb], %[rb], %[bb]\n\t"                \
    "vmullb.s16 %q[lo], %q[x], %q[k]\n\t"        \
    "vmullt.s16 %q[hi], %q[x], %q[k]\n\t"        \
    XL(rb)                                       \
    "vadd.i32 %q[ea], %q[ea], %q[lo]\n\t"        \
    "vmullb.s16 %q[lo], %q[x], %q[k]\n\t"        \
    "vadd.i32 %q[oa], %q[oa], %q[hi]\n\t"        \
    "vmullt.s16 %q[hi], %q[x], %q[k]\n\t"        \
    "vadd.i32 %q[eb], %q[eb], %q[lo]\n\t"        \
    "vadd.i32 %q[ob], %q[ob], %q[hi]\n\t"
#define EK_DW_PAIR_ASM(XL)                       \
    "vldrw.32 %q[ea], [%[rq], #96]\n\t"          \
    "ldr %[ra], [%[pa]]\n\t"                     \
    "vldrw.32 %q[oa], [%[rq], #112]\n\t"         \
    "add %[ra], %[ra], %[ba]\n\t"                \
    "vldrw.32 %q[eb], [%[rq], #96]\n\t"          \
    "vldrw.32 %q[ob], [%[rq], #112]\n\t"         \
    "vldrb.s16 %q[k], [%[w]]\n\t"                \
    XL(ra)                                       \
    EK_DW_TAPS(XL, "%[steps]")
#define EK_DW_PAIR_OUT                                                                                         \
    [ea] "=&w"(ea), [oa] "=&w"(oa), [eb] "=&w"(eb), [ob] "=&w"(ob), [lo] "=&w"(lo), [hi] "=&w"(hi), [x] "=&w"(x), \
        [k] "=&w"(k), [pa] "+r"(pa), [pb] "+r"(pb), [w] "+l"(w), [ra] "=&l"(ra), [rb] "=&l"(rb)
#define EK_DW_PAIR_IN [steps] "r"(steps), [ba] "r"(ba), [bb] "r"(bb), [rq] "r"(rq)
#define EK_DW_TILE_OUT                                                                                         \
    [ea] "=&w"(ea), [oa] "=&w"(oa), [eb] "=&w"(eb), [ob] "=&w"(ob), [lo] "=&w"(lo), [hi] "=&w"(hi), [x] "=&w"(x), \
        [k] "=&w"(k), [px] "+r"(px), [pa] "=&r"(pa), [pb] "=&r"(pb), [w] "=&l"(w), [ra] "=&l"(ra), [rb] "=&l"(rb), \
        [ba] "=&r"(ba), [bb] "=&r"(bb)

/* TFLM's double rounding of both pixels' sums (bias already in): VQRDMULH, then the rounding right
 * shift with ties away from zero (minus 1 for negative values first: every shift is >= 1), + offset;
 * VQMOVN twice saturates to int8, VSTRB.16 stores the low bytes. RQ: the group's table, OFF: the
 * output offset, OA/OB: the two outputs (low registers). */
#define EK_DW_RQ_ASM(RQ, OFF, OA, OB)                  \
    "vldrw.32 %q[lo], [" RQ "]\n\t"                    \
    "vqrdmulh.s32 %q[ea], %q[ea], %q[lo]\n\t"          \
    "vqrdmulh.s32 %q[eb], %q[eb], %q[lo]\n\t"          \
    "vldrw.32 %q[lo], [" RQ ", #16]\n\t"               \
    "vqrdmulh.s32 %q[oa], %q[oa], %q[lo]\n\t"          \
    "vqrdmulh.s32 %q[ob], %q[ob], %q[lo]\n\t"          \
    "vldrw.32 %q[lo], [" RQ ", #64]\n\t"               \
    "vshr.s32 %q[hi], %q[ea], #31\n\t"                 \
    "vqadd.s32 %q[ea], %q[ea], %q[hi]\n\t"             \
    "vshr.s32 %q[hi], %q[eb], #31\n\t"                 \
    "vqadd.s32 %q[eb], %q[eb], %q[hi]\n\t"             \
    "vrshl.s32 %q[ea], %q[ea], %q[lo]\n\t"             \
    "vrshl.s32 %q[eb], %q[eb], %q[lo]\n\t"             \
    "vldrw.32 %q[lo], [" RQ ", #80]\n\t"               \
    "vshr.s32 %q[hi], %q[oa], #31\n\t"                 \
    "vqadd.s32 %q[oa], %q[oa], %q[hi]\n\t"             \
    "vshr.s32 %q[hi], %q[ob], #31\n\t"                 \
    "vqadd.s32 %q[ob], %q[ob], %q[hi]\n\t"             \
    "vrshl.s32 %q[oa], %q[oa], %q[lo]\n\t"             \
    "vrshl.s32 %q[ob], %q[ob], %q[lo]\n\t"             \
    "vadd.i32 %q[ea], %q[ea], " OFF "\n\t"             \
    "vadd.i32 %q[oa], %q[oa], " OFF "\n\t"             \
    "vadd.i32 %q[eb], %q[eb], " OFF "\n\t"             \
    "vadd.i32 %q[ob], %q[ob], " OFF "\n\t"             \
    "vqmovnb.s32 %q[hi], %q[ea]\n\t"                   \
    "vqmovnt.s32 %q[hi], %q[oa]\n\t"                   \
    "vqmovnb.s16 %q[lo], %q[hi]\n\t"                   \
    "vstrb.16 %q[lo], [" OA "]\n\t"                    \
    "vqmovnb.s32 %q[hi], %q[eb]\n\t"                   \
    "vqmovnt.s32 %q[hi], %q[ob]\n\t"                   \
    "vqmovnb.s16 %q[lo], %q[hi]\n\t"                   \
    "vstrb.16 %q[lo], [" OB "]\n\t"

/* pair_group when the layer is `quick`, every pair in one block of assembly. The values each pair
 * needs again wait in `ctx` (all core registers but four are taken): [0] the group's weights, [1] the
 * taps - 1, [2] its requantization table, [3] the output offset, [4] the input channel it reads first,
 * [5] its first output channel, [6] the end of the pairs (px + 2 pairs). Per pair, from its two pix_t
 * (base, table, out: 12 bytes each): the bases, tables and outputs. */
#define EK_DW_TILE_ASM(XL)                            \
    "1:\n\t"                                          \
    "ldr %[ra], [%[ctx], #16]\n\t"                    \
    "ldr %[ba], [%[px]]\n\t"                          \
    "ldr %[pa], [%[px], #4]\n\t"                      \
    "ldr %[bb], [%[px], #12]\n\t"                     \
    "ldr %[pb], [%[px], #16]\n\t"                     \
    "ldr %[w], [%[ctx]]\n\t"                          \
    "ldr %[rb], [%[ctx], #8]\n\t"                     \
    "add %[ba], %[ba], %[ra]\n\t"                     \
    "add %[bb], %[bb], %[ra]\n\t"                     \
    "vldrw.32 %q[ea], [%[rb], #96]\n\t"               \
    "ldr %[ra], [%[pa]]\n\t"                          \
    "vldrw.32 %q[oa], [%[rb], #112]\n\t"              \
    "add %[ra], %[ra], %[ba]\n\t"                     \
    "vldrw.32 %q[eb], [%[rb], #96]\n\t"               \
    "vldrw.32 %q[ob], [%[rb], #112]\n\t"              \
    "vldrb.s16 %q[k], [%[w]]\n\t"                     \
    XL(ra)                                            \
    "ldr %[rb], [%[ctx], #4]\n\t"                     \
    EK_DW_TAPS(XL, "%[rb]")                           \
    "ldr %[w], [%[ctx], #8]\n\t"                      \
    "ldr %[pa], [%[ctx], #12]\n\t"                    \
    "ldr %[pb], [%[ctx], #20]\n\t"                    \
    "ldr %[ra], [%[px], #8]\n\t"                      \
    "ldr %[rb], [%[px], #20]\n\t"                     \
    "add %[ra], %[ra], %[pb]\n\t"                     \
    "add %[rb], %[rb], %[pb]\n\t"                     \
    EK_DW_RQ_ASM("%[w]", "%[pa]", "%[ra]", "%[rb]")   \
    "adds %[px], %[px], #24\n\t"                      \
    "ldr %[ra], [%[ctx], #24]\n\t"                    \
    "cmp %[px], %[ra]\n\t"                            \
    "bne 1b\n\t"

/* Channels [8g, 8g + 8) of `pairs` pixel pairs (px[2j], px[2j + 1]). Per tap, in assembly so that the
 * order stays as written: the two pixels' input addresses (scalar), then vector memory and arithmetic
 * instructions alternating (beat overlap); the weights stream with a pre-incremented load (8 per tap,
 * packed on the host). Registers: the weights, one input, two products and four accumulators are all
 * eight Q registers. */
static __attribute__((noinline)) void pair_group(const dw_t *d, const pix_t *px, int32_t pairs, int32_t g) {
    const int32_t steps = d->ntaps - 1;
    const int32_t c = g * 8;
    const int32_t ic = d->dm8 ? c / d->dm : c; /* the input channel the group reads first */
    const int32_t *rq = d->rq + (size_t)g * EK_RQ_GROUP;
    int32_t j;
    for (j = 0; j < pairs; j++, px += 2) {
        const int8_t *w = d->filter + (size_t)g * d->ntaps * 8;
        const uint32_t ba = px[0].base + (uint32_t)ic;
        const uint32_t bb = px[1].base + (uint32_t)ic;
        const int32_t *pa = px[0].table;
        const int32_t *pb = px[1].table;
        const int8_t *ra, *rb;
        int32x4_t ea, oa, eb, ob, lo, hi;
        int16x8_t k, x;
        /* The sums start from the folded bias: four loads instead of zeroing and adding. */
        if (d->dm8) {
            __asm__ volatile(EK_DW_PAIR_ASM(EK_DW_X_DUP) : EK_DW_PAIR_OUT : EK_DW_PAIR_IN : "lr", "memory");
        } else {
            __asm__ volatile(EK_DW_PAIR_ASM(EK_DW_X_VEC) : EK_DW_PAIR_OUT : EK_DW_PAIR_IN : "lr", "memory");
        }
        ea = vsubq_s32(ea, vldrwq_s32(rq + 24)); /* requant_two adds the bias */
        eb = vsubq_s32(eb, vldrwq_s32(rq + 24));
        oa = vsubq_s32(oa, vldrwq_s32(rq + 28));
        ob = vsubq_s32(ob, vldrwq_s32(rq + 28));
        requant_two(&ea, &eb, rq, 0, d);
        requant_two(&oa, &ob, rq, 4, d);
        vstrbq_s16(px[0].out + c, narrow_clamp(ea, oa, d));
        vstrbq_s16(px[1].out + c, narrow_clamp(eb, ob, d));
    }
}

static void one_group(const dw_t *d, const pix_t *px, int32_t c, int32_t count);

/* Every whole group of a tile, in the reference order (last to first when `rev`): per group its pairs
 * (a `quick` layer: in one block of assembly, so that the registers it takes are saved once per tile,
 * not once per group; otherwise pair_group), then the tile's odd pixel. */
static __attribute__((noinline)) void tile_groups(const dw_t *d, const pix_t *tile_px, int32_t npix, int32_t whole,
                                                  int32_t rev) {
    const int32_t pairs = npix / 2;
    int32_t ctx[7];
    const int8_t *w, *ra, *rb;
    const int32_t *pa, *pb;
    uint32_t ba, bb;
    int32x4_t ea, oa, eb, ob, lo, hi;
    int16x8_t k, x;
    int32_t ig;
    ctx[1] = d->ntaps - 1;
    ctx[3] = d->out_offset;
    ctx[6] = (int32_t)(uintptr_t)(tile_px + 2 * pairs);
    for (ig = 0; ig < whole; ig++) {
        const int32_t g = EK_REVERSE(ig, whole, rev);
        const int32_t c = g * 8;
        const pix_t *px = tile_px; /* the assembly walks it to ctx[6] */
        if (pairs > 0 && !d->quick) {
            pair_group(d, tile_px, pairs, g);
        } else if (pairs > 0) {
            ctx[0] = (int32_t)(uintptr_t)(d->filter + (size_t)g * d->ntaps * 8);
            ctx[2] = (int32_t)(uintptr_t)(d->rq + (size_t)g * EK_RQ_GROUP);
            ctx[4] = d->dm8 ? c / d->dm : c;
            ctx[5] = c;
            if (d->dm8) {
                __asm__ volatile(EK_DW_TILE_ASM(EK_DW_X_DUP) : EK_DW_TILE_OUT : [ctx] "r"(ctx) : "lr", "cc", "memory");
            } else {
                __asm__ volatile(EK_DW_TILE_ASM(EK_DW_X_VEC) : EK_DW_TILE_OUT : [ctx] "r"(ctx) : "lr", "cc", "memory");
            }
        }
        if (npix % 2) {
            one_group(d, &tile_px[npix - 1], c, 8);
        }
    }
}

/* Channels [c, c + count) (count 1..8) of one pixel; lanes past count load nothing. */
static void one_group(const dw_t *d, const pix_t *px, int32_t c, int32_t count) {
    const mve_pred16_t pred = vctp16q((uint32_t)count);
    const int8_t *w = d->filter + (size_t)(c / 8) * d->ntaps * 8;
    const int32_t *rq = d->rq + (size_t)(c / 8) * EK_RQ_GROUP;
    const uint32_t base = px->base + (uint32_t)(d->dm8 ? c / d->dm : c);
    int32x4_t even = vdupq_n_s32(0), odd = vdupq_n_s32(0);
    int32x4_t even2 = vdupq_n_s32(0), odd2 = vdupq_n_s32(0);
    int32_t t;
    for (t = 0; t < d->ntaps; t++, w += 8) {
        const int16x8_t x = d->dm8 ? vdupq_n_s16(*tap_ptr(base, px->table, t))
                                   : vldrbq_z_s16(tap_ptr(base, px->table, t), pred);
        const int16x8_t k = vldrbq_s16(w);
        even = vaddq_s32(even, vmullbq_int_s16(x, k));
        odd = vaddq_s32(odd, vmulltq_int_s16(x, k));
    }
    requant_two(&even, &even2, rq, 0, d);
    requant_two(&odd, &odd2, rq, 4, d);
    vstrbq_p_s16(px->out + c, narrow_clamp(even, odd, d), pred);
}

/* Pixel `q` of the tile: base and table (a border pixel's table built in `slots`), and its output. */
static void pixel_taps(const ek_conv_params_t *p, const int8_t *input, int8_t *output, const ek_pixel_t *q,
                       const int32_t *offsets, const int8_t *pad_row, int32_t *slots, pix_t *px) {
    const int32_t in_y0 = q->y * p->stride_h - p->pad_h;
    const int32_t in_x0 = q->x * p->stride_w - p->pad_w;
    const int8_t *in_batch = input + (size_t)q->b * p->in_h * p->in_w * p->in_c;
    int32_t fy, fx, t = 0;
    px->out = output + (((size_t)q->b * p->out_h + q->y) * p->out_w + q->x) * p->out_c;
    if (in_y0 >= 0 && in_y0 + p->dilation_h * (p->filter_h - 1) < p->in_h && in_x0 >= 0 &&
        in_x0 + p->dilation_w * (p->filter_w - 1) < p->in_w) {
        px->base = (uint32_t)(uintptr_t)(in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c);
        px->table = offsets;
        return;
    }
    {
        /* The filter columns inside the image are one run [fx_lo, fx_lo + span) (in_x grows with fx),
         * found once per pixel; then per tap one test. The corner's address may lie outside the
         * tensor: only inside taps use it. */
        const uint32_t corner = (uint32_t)(uintptr_t)in_batch + (uint32_t)((in_y0 * p->in_w + in_x0) * p->in_c);
        const uint32_t pad = (uint32_t)(uintptr_t)pad_row;
        int32_t fx_lo = 0, fx_hi = p->filter_w;
        while (fx_lo < fx_hi && in_x0 + p->dilation_w * fx_lo < 0) {
            fx_lo++;
        }
        while (fx_hi > fx_lo && in_x0 + p->dilation_w * (fx_hi - 1) >= p->in_w) {
            fx_hi--;
        }
        for (fy = 0; fy < p->filter_h; fy++) {
            const int inside = (uint32_t)(in_y0 + p->dilation_h * fy) < (uint32_t)p->in_h;
            const uint32_t span = inside ? (uint32_t)(fx_hi - fx_lo) : 0;
            for (fx = 0; fx < p->filter_w; fx++, t++) {
                slots[t] = (int32_t)((uint32_t)(fx - fx_lo) < span ? corner + (uint32_t)offsets[t] : pad);
            }
        }
    }
    px->base = 0;
    px->table = slots;
}

/* Any depth multiplier: the reference loop over every tap, padding taps reading the zero point. */
static void scalar_pixel(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                         const int8_t *filter, const int32_t *bias, const int32_t *multiplier, const int8_t *shift,
                         int8_t *out) {
    const int32_t oc_n = p->out_c;
    int32_t ioc, fy, fx;
    for (ioc = 0; ioc < oc_n; ioc++) {
        const int32_t oc = EK_REVERSE(ioc, oc_n, p->reverse);
        const int32_t ic = oc / p->depth_multiplier;
        int32_t acc = bias[oc];
        for (fy = 0; fy < p->filter_h; fy++) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            for (fx = 0; fx < p->filter_w; fx++) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                const int32_t x = inside ? (int32_t)in_batch[((size_t)in_y * p->in_w + in_x) * p->in_c + ic]
                                         : -p->input_offset;
                acc += (int32_t)filter[((size_t)fy * p->filter_w + fx) * oc_n + oc] * x;
            }
        }
        acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]) + p->output_offset;
        out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
    }
}

static void scalar_path(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                        const int32_t *multiplier, const int8_t *shift, int8_t *output) {
    int32_t ib, iy, ix;
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, p->reverse);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, p->reverse);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, p->reverse);
                scalar_pixel(p, in_batch, oy * p->stride_h - p->pad_h, ox * p->stride_w - p->pad_w, filter, bias,
                             multiplier, shift, output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c);
            }
        }
    }
}

void ek_depthwise_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter,
                             const int32_t *bias, const int32_t *multiplier, const int8_t *shift, int8_t *output,
                             int8_t *scratch) {
    const int32_t oc = p->out_c;
    const int32_t ntaps = p->filter_h * p->filter_w;
    const int32_t rev = p->reverse;
    const int32_t pixels = p->batches * p->out_h * p->out_w;
    const int32_t tile = EK_HELIUM_DW_TILE(ntaps);
    const int32_t tiles = (pixels + tile - 1) / tile;
    const int32_t whole = oc / 8;
    const int32_t tail = oc % 8;
    int32_t slots[EK_HELIUM_DW_SLOTS]; /* the border pixels' tap tables */
    pix_t px[8];
    int32_t ox_lo, ox_hi;
    int32_t offsets[EK_HELIUM_DW_MAX_TAPS]; /* each tap's input offset from the window's corner */
    dw_t d;
    ek_pixel_t q;
    int32_t it, fy, fx, n = 0;

    if ((p->depth_multiplier != 1 && p->depth_multiplier % 8 != 0) || ntaps > EK_HELIUM_DW_MAX_TAPS) {
        scalar_path(p, input, filter, bias, multiplier, shift, output);
        return;
    }
    d.filter = filter;
    d.rq = bias;
    d.oc = oc;
    d.ntaps = ntaps;
    d.out_offset = p->output_offset;
    d.dm = p->depth_multiplier;
    d.dm8 = p->depth_multiplier != 1;
    d.act_min = p->act_min;
    d.act_max = p->act_max;
    d.full_range = p->act_min == -128 && p->act_max == 127;
    d.left = 0;
    for (n = 0; n < oc; n++) {
        d.left |= bias[(size_t)(n / 8) * EK_RQ_GROUP + 8 + (n % 2) * 4 + (n % 8) / 2] != 0;
    }
    d.quick = d.full_range && ek_rq_right_only(bias, oc);
    memset(scratch, (int8_t)(-p->input_offset), (size_t)p->in_c);
    n = 0;
    for (fy = 0; fy < p->filter_h; fy++) {
        for (fx = 0; fx < p->filter_w; fx++, n++) {
            offsets[n] = (fy * p->dilation_h * p->in_w + fx * p->dilation_w) * p->in_c;
        }
    }
    /* Output columns whose windows lie inside the image's width: [ox_lo, ox_hi). */
    {
        const int32_t last_x = p->in_w - 1 - p->dilation_w * (p->filter_w - 1) + p->pad_w;
        ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
        ox_hi = last_x < 0 ? 0 : (last_x / p->stride_w + 1 < p->out_w ? last_x / p->stride_w + 1 : p->out_w);
    }
    /* The first tile's first pixel; each next tile's is `tile` pixels on (back when reversed). */
    {
        const int32_t first = rev ? (tiles - 1) * tile : 0;
        q.x = first % p->out_w;
        q.y = (first / p->out_w) % p->out_h;
        q.b = first / (p->out_w * p->out_h);
    }
    for (it = 0; it < tiles; it++) {
        const int32_t first = EK_REVERSE(it, tiles, rev) * tile;
        const int32_t npix = pixels - first < tile ? pixels - first : tile;
        ek_pixel_t qj = q;
        int32_t j;
        const int32_t in_y0 = q.y * p->stride_h - p->pad_h;
        if (q.x >= ox_lo && q.x + npix <= ox_hi && in_y0 >= 0 &&
            in_y0 + p->dilation_h * (p->filter_h - 1) < p->in_h) {
            /* A tile inside one row, every window inside the image: corners and outputs a fixed step
             * apart, no table. */
            const uint32_t step = (uint32_t)(p->stride_w * p->in_c);
            uint32_t base = (uint32_t)(uintptr_t)(input + (((size_t)q.b * p->in_h + in_y0) * p->in_w +
                                                           (q.x * p->stride_w - p->pad_w)) * p->in_c);
            int8_t *out = output + (((size_t)q.b * p->out_h + q.y) * p->out_w + q.x) * oc;
            for (j = 0; j < npix; j++, base += step, out += oc) {
                px[j].base = base;
                px[j].table = offsets;
                px[j].out = out;
            }
        } else {
            for (j = 0; j < npix; j++) {
                pixel_taps(p, input, output, &qj, offsets, scratch, slots + (size_t)j * ntaps, &px[j]);
                ek_pixel_step(p, &qj, 0);
            }
        }
        if (tail != 0 && rev) {
            for (j = 0; j < npix; j++) {
                one_group(&d, &px[j], whole * 8, tail);
            }
        }
        tile_groups(&d, px, npix, whole, rev);
        if (tail != 0 && !rev) {
            for (j = 0; j < npix; j++) {
                one_group(&d, &px[j], whole * 8, tail);
            }
        }
        if (it + 1 < tiles) {
            if (!rev && q.x + tile < p->out_w) {
                q.x += tile;
            } else if (rev && q.x >= tile) {
                q.x -= tile;
            } else {
                for (j = 0; j < tile; j++) {
                    ek_pixel_step(p, &q, rev);
                }
            }
        }
    }
}
