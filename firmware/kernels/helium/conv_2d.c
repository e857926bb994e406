/* CONV_2D, int8, per-channel requantization: the Helium (MVE) version of reference/conv_2d.c, with the
 * same results bit for bit.
 *
 * One output pixel at a time, eight output channels per pass over its input patch (the pixel's
 * filter_h x filter_w x in_c window, in the order of a filter row). Each 16-byte patch load feeds eight
 * VMLADAVA (16 MACs each) against the eight channels' weights; the eight sums are requantized as two
 * vectors (ek_requant_out) and stored with narrowing stores, the last group of channels predicated.
 * The patch is read where it lies when every filter row is one run of input bytes of whole 16-byte
 * steps inside the image (1x1 filters with in_c % 16 == 0; 3x3 windows over 16, 32, 64 channels);
 * otherwise it is gathered into `scratch` with the input zero point where the window lies in the
 * padding (ek_helium.h: the bias arrives folded with the input offset, so a padding tap must cancel its
 * share), up to EK_HELIUM_CONV_CHUNK patches of a row at a time, so that one call computes them all.
 * `scratch` holds EK_HELIUM_CONV_SCRATCH(...) bytes (engine_pack_helium mirrors it); the signature's
 * int16_t type is the reference's.
 *
 * With groups == 1, `bias` is the generator's packed requantization table (ek_helium.h EK_RQ_GROUP:
 * multipliers, split shifts and folded biases per 8 channels; `multiplier` and `shift` are then unused)
 * and the weights come packed too (engine_pack_helium.pack_conv_filter_helium): per
 * group of 8 output channels (zero rows past out_c), per 16-byte step of the patch, the 8 channels'
 * 16 weights one after the other, each row zero-padded to a multiple of 16 (kp). One pointer walks
 * them with immediate offsets, and lanes past the patch's end multiply zero weights. Grouped
 * convolutions keep the reference layout and take a scalar loop with the same arithmetic.
 *
 * Write order: all inputs a pixel reads are read (or gathered) before any of its outputs is written,
 * pixels and channel groups follow the reference order (reversed when `reverse` is set), so the
 * in-place overlaps the planner computes for the reference stay safe. */
#include "ek_helium.h"
#include "ek_kernels.h"

/* n bytes (n <= 16) from src to dst: one predicated vector load and store. */
EK_INLINE void copy16(int8_t *dst, const int8_t *src, int32_t n) {
    const mve_pred16_t pr = vctp8q((uint32_t)n);
    vstrbq_p_s8(dst, vldrbq_z_s8(src, pr), pr);
}

EK_INLINE void copy_bytes(int8_t *dst, const int8_t *src, int32_t n) {
    for (; n > 16; n -= 16, dst += 16, src += 16) {
        vstrbq_s8(dst, vldrbq_s8(src));
    }
    copy16(dst, src, n);
}

EK_INLINE void fill_bytes(int8_t *dst, int8_t v, int32_t n) {
    const int8x16_t vv = vdupq_n_s8(v);
    for (; n > 16; n -= 16, dst += 16) {
        vstrbq_s8(dst, vv);
    }
    vstrbq_p_s8(dst, vv, vctp8q((uint32_t)n));
}

/* Gather the patch of the pixel whose window starts at (in_y0, in_x0) into col (groups == 1). */
static void gather(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0, int8_t *col) {
    const int32_t c = p->in_c;
    const int8_t zero_point = (int8_t)(-p->input_offset);
    const int32_t run = p->filter_w * c;
    int32_t fy, fx;
    if (run <= 16 && p->dilation_w == 1 && in_x0 >= 0 && in_x0 + p->filter_w <= p->in_w && in_y0 >= 0 &&
        in_y0 + p->dilation_h * (p->filter_h - 1) < p->in_h) {
        /* A window inside the image whose rows are short runs (first layers: few channels): one
         * predicated copy per row. */
        const mve_pred16_t pr = vctp8q((uint32_t)run);
        const int32_t row_stride = p->dilation_h * p->in_w * c;
        const int8_t *src = in_batch + ((size_t)in_y0 * p->in_w + in_x0) * c;
        for (fy = 0; fy < p->filter_h; fy++, src += row_stride, col += run) {
            vstrbq_p_s8(col, vldrbq_z_s8(src, pr), pr);
        }
        return;
    }
    if (run <= 16 && p->dilation_w == 1) {
        /* The same at the image's borders: per row, the taps inside the image's width copied over a
         * row of zero points (a row outside the image: zero points only). */
        const int32_t lo = (in_x0 < 0 ? -in_x0 : 0) * c;
        const int32_t hi = (in_x0 + p->filter_w > p->in_w ? p->in_w - in_x0 : p->filter_w) * c;
        const int inside_w = lo == 0 && hi == run;
        const mve_pred16_t all = vctp8q((uint32_t)run);
        const int8x16_t zeros = vdupq_n_s8(zero_point);
        for (fy = 0; fy < p->filter_h; fy++, col += run) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            if (in_y < 0 || in_y >= p->in_h || hi <= lo) {
                vstrbq_p_s8(col, zeros, all);
                continue;
            }
            {
                /* The row's start as an address: it may lie left of the image; only [lo, hi) is read. */
                const int8_t *src = (const int8_t *)((uintptr_t)in_batch +
                                                     (uintptr_t)(((intptr_t)in_y * p->in_w + in_x0) * c));
                if (!inside_w) {
                    vstrbq_p_s8(col, zeros, all);
                }
                /* bytes [lo, hi) of the row: a predicate over [0, hi) and not [0, lo) */
                {
                    const mve_pred16_t mid = (mve_pred16_t)(vctp8q((uint32_t)hi) & ~vctp8q((uint32_t)lo));
                    vstrbq_p_s8(col, vldrbq_z_s8(src, mid), mid);
                }
            }
        }
        return;
    }
    for (fy = 0; fy < p->filter_h; fy++) {
        const int32_t in_y = in_y0 + p->dilation_h * fy;
        const int row_inside = in_y >= 0 && in_y < p->in_h;
        if (row_inside && p->dilation_w == 1 && in_x0 >= 0 && in_x0 + p->filter_w <= p->in_w) {
            copy_bytes(col, in_batch + ((size_t)in_y * p->in_w + in_x0) * c, p->filter_w * c);
            col += p->filter_w * c;
            continue;
        }
        for (fx = 0; fx < p->filter_w; fx++) {
            const int32_t in_x = in_x0 + p->dilation_w * fx;
            if (row_inside && in_x >= 0 && in_x < p->in_w) {
                copy_bytes(col, in_batch + ((size_t)in_y * p->in_w + in_x) * c, c);
            } else {
                fill_bytes(col, zero_point, c);
            }
            col += c;
        }
    }
}

/* What every pixel of a layer shares. */
/* pixels() is compiled without instruction scheduling so that its loads and VMLADAVA stay in the
 * source's alternating order: the M55 overlaps a vector load with a neighbouring vector multiply (beat
 * overlap, Arm Cortex-M55 Software Optimization Guide), which gcc's scheduler, grouping the loads
 * first, gives away. */
typedef struct {
    const int8_t *filter; /* packed */
    const int32_t *rq;    /* packed requantization, EK_RQ_GROUP per group of 8 channels */
    ek_hout_t out;
    int32_t out_c, kp, reverse, out_offset;
    int quick; /* full int8 range, right shifts only: pointwise_run requantizes in assembly */
} layer_t;

/* A pixel's group of 8 channels from its sums (bias included) in even/odd lanes: requantized, stored in
 * channel order; count < 8 stores the first count. One vector store: the outputs of a group are
 * written together, after everything the pixel reads. */
EK_INLINE void store_group(const layer_t *l, int32x4_t even, int32x4_t odd, const int32_t *rq, int8_t *out,
                           int32_t count) {
    const int16x8_t n = ek_rq_even_odd(even, odd, rq, &l->out);
    if (count == 8) {
        vstrbq_s16(out, n);
    } else {
        vstrbq_p_s16(out, n, vctp16q((uint32_t)count));
    }
}

/* All output channels of `npix` pixels (patches x_step bytes apart, outputs out_step apart: negative
 * when reversed), 8 per pass over a patch: `rows` runs of `run` bytes, the runs `row_stride` apart (several runs: multiples of 16 each; a gathered patch is one run of kp bytes, its
 * bytes past k multiplying zero weights; one run read in place may end in a partial step). A function of its own: inlined into the pixel loop, gcc runs out of registers and
 * keeps the eight sums on the stack. */
static __attribute__((noinline, optimize("no-schedule-insns", "no-schedule-insns2"))) void pixels(const layer_t *l, const int8_t *x, int32_t x_step, int32_t npix,
                                             int32_t rows, int32_t run, int32_t row_stride, int8_t *out,
                                             int32_t out_step) {
    const int32_t groups8 = (l->out_c + 7) / 8;
    /* Bytes past the whole 16-byte steps: only a single run has them (its row's read in place). */
    const int32_t tail = rows == 1 ? run & 15 : 0;
    int32_t ig, ip;
    for (ip = 0; ip < npix; ip++, x += x_step, out += out_step)
    for (ig = 0; ig < groups8; ig++) {
        const int32_t g = EK_REVERSE(ig, groups8, l->reverse) * 8;
        const int32_t count = l->out_c - g < 8 ? l->out_c - g : 8;
        const int8_t *w = l->filter + (size_t)g * l->kp;
        const int8_t *xr = x;
        const int8_t *xs = x;
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
        int32_t r, n;
        for (r = 0; r < rows; r++, xr += row_stride) {
            xs = xr;
            for (n = run >> 4; n > 0; n--) {
                const int8x16_t xv = vldrbq_s8(xs);
                a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
                a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + 16));
                a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 32));
                a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 48));
                a4 = vmladavaq_s8(a4, xv, vldrbq_s8(w + 64));
                a5 = vmladavaq_s8(a5, xv, vldrbq_s8(w + 80));
                a6 = vmladavaq_s8(a6, xv, vldrbq_s8(w + 96));
                a7 = vmladavaq_s8(a7, xv, vldrbq_s8(w + 112));
                xs += 16;
                w += 128;
            }
        }
        if (tail != 0) {
            /* A single run's last bytes (rows == 1): lanes past it load nothing, against zero weights. */
            const int8x16_t xv = vldrbq_z_s8(xs, vctp8q((uint32_t)tail));
            a0 = vmladavaq_s8(a0, xv, vldrbq_s8(w));
            a1 = vmladavaq_s8(a1, xv, vldrbq_s8(w + 16));
            a2 = vmladavaq_s8(a2, xv, vldrbq_s8(w + 32));
            a3 = vmladavaq_s8(a3, xv, vldrbq_s8(w + 48));
            a4 = vmladavaq_s8(a4, xv, vldrbq_s8(w + 64));
            a5 = vmladavaq_s8(a5, xv, vldrbq_s8(w + 80));
            a6 = vmladavaq_s8(a6, xv, vldrbq_s8(w + 96));
            a7 = vmladavaq_s8(a7, xv, vldrbq_s8(w + 112));
        }
        {
            const int32_t *rq = l->rq + (size_t)(g / 8) * EK_RQ_GROUP;
            store_group(l, vaddq_s32(ek_vec4(a0, a1, a2, a3), vldrwq_s32(rq + 24)),
                        vaddq_s32(ek_vec4(a4, a5, a6, a7), vldrwq_s32(rq + 28)), rq, out + g, count);
        }
    }
}

/* One 16-byte step of a patch against the 8 channels' weights: VMLADAVA into r0, r2, ..., r12, lr (its
 * accumulator must be an even register), loads and MACs alternating. */
#define EK_PW_STEP                                     \
    "vldrb.8 %q[xv], [%[xs]], #16\n\t"                 \
    EK_PW_WEIGHTS

/* The 8 channels' weights of a step against the patch bytes in xv. */
#define EK_PW_WEIGHTS                                  \
    "vldrb.8 %q[wv], [%[w]]\n\t"                       \
    "vmladava.s8 r0, %q[xv], %q[wv]\n\t"               \
    "vldrb.8 %q[wv], [%[w], #16]\n\t"                  \
    "vmladava.s8 r2, %q[xv], %q[wv]\n\t"               \
    "vldrb.8 %q[wv], [%[w], #32]\n\t"                  \
    "vmladava.s8 r4, %q[xv], %q[wv]\n\t"               \
    "vldrb.8 %q[wv], [%[w], #48]\n\t"                  \
    "vmladava.s8 r6, %q[xv], %q[wv]\n\t"               \
    "vldrb.8 %q[wv], [%[w], #64]\n\t"                  \
    "vmladava.s8 r8, %q[xv], %q[wv]\n\t"               \
    "vldrb.8 %q[wv], [%[w], #80]\n\t"                  \
    "vmladava.s8 r10, %q[xv], %q[wv]\n\t"              \
    "vldrb.8 %q[wv], [%[w], #96]\n\t"                  \
    "vmladava.s8 r12, %q[xv], %q[wv]\n\t"              \
    "vldrb.8 %q[wv], [%[w], #112]\n\t"                 \
    "vmladava.s8 lr, %q[xv], %q[wv]\n\t"               \
    "adds %[w], %[w], #128\n\t"

/* Every group of 8 output channels of one pixel in one block of assembly, for the commonest layers
 * (`quick`, out_c % 8 == 0): the groups' weights and requantization tables follow one another, so
 * their pointers move by fixed steps (backwards when reversed: the last group first), and the values
 * every group needs again (the patch's start, its steps, a 32-byte buffer for the sums, the output
 * offset; the three pointer steps) wait in the lanes of two vector registers, since all fourteen core
 * registers are taken. Per group: the sums from the bias (LDM), the
 * steps as in pointwise_run, the sums to two vectors, the short requantization, one store. */
EK_INLINE void pixel_groups(const int8_t *x, const int8_t *filter, const int32_t *rq_first, int8_t *out,
                            int8_t *out_end, int32x4_t keep, int32x4_t moves) {
    register const int8_t *xs __asm__("r1") = x;
    register const int8_t *w __asm__("r3") = filter;
    register const int32_t *rq __asm__("r7") = rq_first;
    register int8_t *o __asm__("r9") = out;
    register int8_t *end __asm__("r11") = out_end;
    keep = vsetq_lane_s32((int32_t)(uintptr_t)x, keep, 0);
    int32x4_t even, odd, t, u;
    int8x16_t xv, wv;
    __asm__ volatile(
        "1:\n\t"
        "add r5, %[rq], #96\n\t"
        "ldm r5, {r0, r2, r4, r6, r8, r10, r12, lr}\n\t"
        "vmov r1, %q[keep][0]\n\t"
        "vmov r5, %q[keep][1]\n\t"
        "tst r5, #1\n\t"
        "beq 2f\n\t"
        EK_PW_STEP
        "2:\n\t"
        "lsrs r5, r5, #1\n\t"
        "beq 4f\n"
        "3:\n\t"
        EK_PW_STEP
        EK_PW_STEP
        "subs r5, r5, #1\n\t"
        "bne 3b\n"
        "4:\n\t"
        /* A last partial step: lanes past the patch load zero (a predicated load zeroes them). */
        "vmov r5, %q[moves][3]\n\t"
        "cbz r5, 5f\n\t"
        "vctp.8 r5\n\t"
        "vpst\n\t"
        "vldrbt.8 %q[xv], [%[xs]]\n\t"
        EK_PW_WEIGHTS
        "5:\n\t"
        "vmov r1, %q[keep][2]\n\t"
        "stm r1, {r0, r2, r4, r6, r8, r10, r12, lr}\n\t"
        "vldrw.32 %q[e], [r1]\n\t"
        "vldrw.32 %q[o], [r1, #16]\n\t"
        "vldrw.32 %q[t], [%[rq]]\n\t"
        "vqrdmulh.s32 %q[e], %q[e], %q[t]\n\t"
        "vldrw.32 %q[t], [%[rq], #16]\n\t"
        "vqrdmulh.s32 %q[o], %q[o], %q[t]\n\t"
        "vldrw.32 %q[t], [%[rq], #64]\n\t"
        "vshr.s32 %q[u], %q[e], #31\n\t"
        "vqadd.s32 %q[e], %q[e], %q[u]\n\t"
        "vrshl.s32 %q[e], %q[e], %q[t]\n\t"
        "vldrw.32 %q[t], [%[rq], #80]\n\t"
        "vshr.s32 %q[u], %q[o], #31\n\t"
        "vqadd.s32 %q[o], %q[o], %q[u]\n\t"
        "vrshl.s32 %q[o], %q[o], %q[t]\n\t"
        "vmov r0, %q[keep][3]\n\t"
        "vadd.i32 %q[e], %q[e], r0\n\t"
        "vadd.i32 %q[o], %q[o], r0\n\t"
        "vqmovnb.s32 %q[u], %q[e]\n\t"
        "vqmovnt.s32 %q[u], %q[o]\n\t"
        "vqmovnb.s16 %q[t], %q[u]\n\t"
        "mov r2, %[o_]\n\t"
        "vstrb.16 %q[t], [r2]\n\t"
        "vmov r0, %q[moves][0]\n\t"
        "vmov r2, %q[moves][1]\n\t"
        "vmov r4, %q[moves][2]\n\t"
        "add %[w], %[w], r0\n\t"
        "add %[rq], %[rq], r2\n\t"
        "add %[o_], %[o_], r4\n\t"
        "cmp %[o_], %[end]\n\t"
        "bne 1b\n\t"
        : [xs] "+r"(xs), [w] "+r"(w), [rq] "+r"(rq), [o_] "+r"(o), [e] "=&w"(even), [o] "=&w"(odd), [t] "=&w"(t),
          [u] "=&w"(u), [xv] "=&w"(xv), [wv] "=&w"(wv)
        : [end] "r"(end), [keep] "w"(keep), [moves] "w"(moves)
        : "r0", "r2", "r4", "r5", "r6", "r8", "r10", "r12", "lr", "cc", "memory");
}

/* pixel_groups over `npix` pixels (patches x_step bytes apart, outputs out_step apart). */
static __attribute__((noinline)) void pixel_groups_run(const layer_t *l, const int8_t *x, int32_t x_step, int32_t npix,
                                                       int32_t steps, int32_t tail, int8_t *out, int32_t out_step) {
    const int32_t last = l->out_c / 8 - 1;
    const int8_t *f_last = l->filter + (size_t)last * 8 * l->kp;
    const int32_t *rq_last = l->rq + (size_t)last * EK_RQ_GROUP;
    const int32_t group_bytes = (steps + (tail != 0)) * 128;
    int32_t sums[8] __attribute__((aligned(16)));
    /* Lanes: the patch's start (set per pixel), its whole steps, the sums' buffer, the output offset;
     * after a group the weights (already one group on), table and output move; a last partial step. */
    const int32x4_t keep = ek_vec4(0, steps, (int32_t)(uintptr_t)sums, l->out_offset);
    const int32x4_t moves = l->reverse ? ek_vec4(-2 * group_bytes, -128, -8, tail) : ek_vec4(0, 128, 8, tail);
    int32_t ip;
    for (ip = 0; ip < npix; ip++, x += x_step, out += out_step) {
        /* Reversed: from the last group down to the first, ending one group below the output. */
        if (l->reverse) {
            pixel_groups(x, f_last, rq_last, out + last * 8, out - 8, keep, moves);
        } else {
            pixel_groups(x, l->filter, l->rq, out, out + l->out_c, keep, moves);
        }
    }
}

/* pixels() for the commonest cases, a single run of whole 16-byte steps per pixel (1x1 filters over
 * in_c % 16 == 0 channels, the pointwise layers of MobileNet-style models; gathered patches). In
 * assembly: the eight sums live in registers from the folded bias (one LDM) until they become two
 * vectors through 32 bytes of stack (STM, two vector loads; the two-lane VMOV from core registers
 * was tried, and QEMU filled its lanes in the other order than its syntax reads, so it is avoided),
 * and with `quick` the requantization follows in vector registers. */
static __attribute__((noinline)) void pointwise_run(const layer_t *l, const int8_t *x, int32_t x_step, int32_t npix,
                                                    int32_t steps, int32_t tail, int8_t *out, int32_t out_step) {
    const int32_t groups8 = (l->out_c + 7) / 8;
    const int32_t full8 = l->out_c / 8; /* groups without a channel tail */
    const int32_t group_bytes = 8 * l->kp;
    int32_t ip;
    if (l->quick && full8 == groups8) {
        pixel_groups_run(l, x, x_step, npix, steps, tail, out, out_step);
        return;
    }
    (void)tail; /* callers give a tail only when pixel_groups_run takes the layer (tail_ok) */
    for (ip = 0; ip < npix; ip++, x += x_step, out += out_step) {
        int32_t ig;
        for (ig = 0; ig < groups8; ig++) {
            const int32_t gi = l->reverse ? groups8 - 1 - ig : ig;
            const int8_t *w = l->filter + (size_t)gi * group_bytes;
            const int8_t *xs = x;
            const int32_t *rq = l->rq + (size_t)gi * EK_RQ_GROUP;
            int8_t *o = out + gi * 8;
            uint32_t n = (uint32_t)steps;
            int32x4_t even, odd;
            int8x16_t xv, wv;
            int32_t sums[8] __attribute__((aligned(16))); /* the sums on their way to two vectors */
            __asm__ volatile(
                "ldm %[bias], {r0, r2, r4, r6, r8, r10, r12, lr}\n\t"
                "tst %[n], #1\n\t"
                "beq 2f\n\t"
                EK_PW_STEP
                "2:\n\t"
                "lsrs %[n], %[n], #1\n\t"
                "beq 3f\n"
                "1:\n\t"
                EK_PW_STEP
                EK_PW_STEP
                "subs %[n], %[n], #1\n\t"
                "bne 1b\n"
                "3:\n\t"
                "stm %[sums], {r0, r2, r4, r6, r8, r10, r12, lr}\n\t"
                "vldrw.32 %q[even], [%[sums]]\n\t"
                "vldrw.32 %q[odd], [%[sums], #16]\n\t"
                : [even] "=&w"(even), [odd] "=&w"(odd), [xv] "=&w"(xv), [wv] "=&w"(wv), [xs] "+r"(xs), [w] "+r"(w),
                  [n] "+r"(n)
                : [bias] "r"(rq + 24), [sums] "r"(sums)
                : "r0", "r2", "r4", "r6", "r8", "r10", "r12", "lr", "cc", "memory");
            if (l->quick && gi < full8) {
                /* TFLM's double rounding: VQRDMULH, then the rounding right shift with ties away from
                 * zero (minus 1 for negative values first: every shift is >= 1), + offset; VQMOVN twice
                 * saturates to int8, VSTRB.16 stores the low bytes. */
                int32x4_t t, u;
                __asm__ volatile(
                    "vldrw.32 %q[t], [%[rq]]\n\t"
                    "vqrdmulh.s32 %q[e], %q[e], %q[t]\n\t"
                    "vldrw.32 %q[t], [%[rq], #16]\n\t"
                    "vqrdmulh.s32 %q[o], %q[o], %q[t]\n\t"
                    "vldrw.32 %q[t], [%[rq], #64]\n\t"
                    "vshr.s32 %q[u], %q[e], #31\n\t"
                    "vqadd.s32 %q[e], %q[e], %q[u]\n\t"
                    "vrshl.s32 %q[e], %q[e], %q[t]\n\t"
                    "vldrw.32 %q[t], [%[rq], #80]\n\t"
                    "vshr.s32 %q[u], %q[o], #31\n\t"
                    "vqadd.s32 %q[o], %q[o], %q[u]\n\t"
                    "vrshl.s32 %q[o], %q[o], %q[t]\n\t"
                    "vadd.i32 %q[e], %q[e], %[off]\n\t"
                    "vadd.i32 %q[o], %q[o], %[off]\n\t"
                    "vqmovnb.s32 %q[u], %q[e]\n\t"
                    "vqmovnt.s32 %q[u], %q[o]\n\t"
                    "vqmovnb.s16 %q[t], %q[u]\n\t"
                    "vstrb.16 %q[t], [%[out]]\n\t"
                    : [e] "+w"(even), [o] "+w"(odd), [t] "=&w"(t), [u] "=&w"(u)
                    : [rq] "r"(rq), [off] "r"(l->out_offset), [out] "l"(o)
                    : "memory");
            } else {
                store_group(l, even, odd, rq, o, gi < full8 ? 8 : l->out_c - gi * 8);
            }
        }
    }
}

/* The reference loop for grouped convolutions (weights in the reference layout), padding taps reading
 * the zero point against the folded bias. */
static void grouped_pixel(const ek_conv_params_t *p, const int8_t *in_batch, int32_t in_y0, int32_t in_x0,
                          const int8_t *filter, const int32_t *bias, const int32_t *multiplier,
                          const int8_t *shift, int8_t *out) {
    const int32_t fc = p->filter_in_c;
    const int32_t per_group = p->out_c / (p->in_c / fc);
    const int32_t k = p->filter_h * p->filter_w * fc;
    int32_t ioc, fy, fx, ic;
    for (ioc = 0; ioc < p->out_c; ioc++) {
        const int32_t oc = EK_REVERSE(ioc, p->out_c, p->reverse);
        const int32_t base = (oc / per_group) * fc;
        const int8_t *f = filter + (size_t)oc * k;
        int32_t acc = bias[oc];
        for (fy = 0; fy < p->filter_h; fy++) {
            const int32_t in_y = in_y0 + p->dilation_h * fy;
            for (fx = 0; fx < p->filter_w; fx++, f += fc) {
                const int32_t in_x = in_x0 + p->dilation_w * fx;
                const int inside = in_y >= 0 && in_y < p->in_h && in_x >= 0 && in_x < p->in_w;
                const int8_t *px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + base;
                for (ic = 0; ic < fc; ic++) {
                    acc += (int32_t)f[ic] * (inside ? (int32_t)px[ic] : -p->input_offset);
                }
            }
        }
        acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]) + p->output_offset;
        out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
    }
}

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t oc_n = p->out_c;
    const int32_t k = p->filter_h * p->filter_w * p->in_c;
    const int32_t kp = (k + 15) & ~15;
    const int32_t run = p->filter_w * p->in_c;
    const int32_t rev = p->reverse;
    const int grouped = p->filter_in_c != p->in_c;
    /* Filter rows read in place: one run of bytes per row, whole 16-byte steps unless there is one row. */
    const int rows_in_place = p->dilation_w == 1 && ((run & 15) == 0 || p->filter_h == 1);
    /* Output columns whose windows lie inside the image's width: [ox_lo, ox_hi). */
    const int32_t ox_lo = (p->pad_w + p->stride_w - 1) / p->stride_w;
    const int32_t ox_hi_raw = (p->in_w - p->filter_w + p->pad_w) / p->stride_w + 1;
    const int32_t ox_hi = p->in_w - p->filter_w + p->pad_w < 0 ? 0 : (ox_hi_raw < p->out_w ? ox_hi_raw : p->out_w);
    const int32_t chunk = EK_HELIUM_CONV_CHUNK(kp, p->out_w);
    layer_t l;
    int tail_ok;
    int8_t *col = (int8_t *)(void *)scratch;
    int32_t ib, iy, ix;

    l.filter = filter;
    l.rq = bias;
    l.out = ek_hout(p->output_offset, p->act_min, p->act_max);
    l.out_c = oc_n;
    l.kp = kp;
    l.reverse = rev;
    l.out_offset = p->output_offset;
    l.quick = !grouped && p->act_min == -128 && p->act_max == 127 && ek_rq_right_only(bias, oc_n);
    /* One filter row of any length read in place: pixel_groups_run takes its last partial step. */
    tail_ok = l.quick && oc_n % 8 == 0;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int rows_inside = in_y0 >= 0 && in_y0 + p->dilation_h * (p->filter_h - 1) < p->in_h;
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * oc_n;
                if (grouped) {
                    grouped_pixel(p, in_batch, in_y0, in_x0, filter, bias, multiplier, shift, out);
                } else if (rows_in_place && rows_inside && ox >= ox_lo && ox < ox_hi) {
                    /* The run of pixels whose windows are inside, in the order of the loop, in one call. */
                    const int32_t npix = rev ? ox - ox_lo + 1 : ox_hi - ox;
                    if (p->filter_h == 1 && ((run & 15) == 0 || tail_ok)) {
                        pointwise_run(&l, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c,
                                      (rev ? -1 : 1) * p->stride_w * p->in_c, npix, run >> 4, run & 15, out,
                                      (rev ? -1 : 1) * oc_n);
                    } else {
                        pixels(&l, in_batch + ((size_t)in_y0 * p->in_w + in_x0) * p->in_c,
                               (rev ? -1 : 1) * p->stride_w * p->in_c, npix, p->filter_h, run,
                               p->dilation_h * p->in_w * p->in_c, out, (rev ? -1 : 1) * oc_n);
                    }
                    ix += npix - 1;
                } else {
                    /* Up to `chunk` pixels in a row that need their patch gathered, in the loop's order:
                     * all their inputs are read before any of their outputs is written. */
                    int32_t n = 0;
                    for (;;) {
                        const int32_t gx = EK_REVERSE(ix, p->out_w, rev);
                        gather(p, in_batch, in_y0, gx * p->stride_w - p->pad_w, col + (size_t)n * kp);
                        n++;
                        if (n == chunk || ix + 1 >= p->out_w) {
                            break;
                        }
                        {
                            const int32_t nx = EK_REVERSE(ix + 1, p->out_w, rev);
                            if (rows_in_place && rows_inside && nx >= ox_lo && nx < ox_hi) {
                                break;
                            }
                        }
                        ix++;
                    }
                    pointwise_run(&l, col, kp, n, kp >> 4, 0, out, (rev ? -1 : 1) * oc_n);
                }
            }
        }
    }
}
