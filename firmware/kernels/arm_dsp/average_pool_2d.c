/* AVERAGE_POOL_2D, int8: the Arm DSP version of reference/average_pool_2d.c, with the same results bit
 * for bit (window clipped to the image, sum divided by the elements inside, rounding half away from
 * zero).
 *
 * The reference sums one channel at a time, striding through the window. Here an output pixel's
 * channels go in chunks of EK_POOL_CHUNK: each window element adds a chunk's bytes four at a time with
 * SXTAB16 into int16 pairs (even and odd channels), so one 32-bit load serves four channels. int16 is
 * exact while a window holds at most 256 elements (|sum| <= 128 x 256); larger windows, and channel
 * counts that are not a multiple of 4, take the reference loop.
 *
 * Write order: a chunk's outputs are written after the whole chunk's window was read, ascending (or,
 * with `reverse`, descending); a chunk only reads its own channels, so the planner's in-place overlaps
 * for the reference order stay safe (every output is written no earlier than there). */
#include "ek_config.h"
#include "ek_dsp.h"
#include "ek_kernels.h"

#define EK_POOL_CHUNK 64

/* Channels [c0, c0 + n) (n % 4 == 0) of one output pixel whose window is rows [fy_start, fy_end) x
 * columns [fx_start, fx_end) from `corner`. */
static void chunk(const ek_pool_params_t *p, const int8_t *corner, int32_t fy_start, int32_t fy_end,
                  int32_t fx_start, int32_t fx_end, int32_t c0, int32_t n, int8_t *out) {
    const int32_t channels = p->channels;
    const int32_t count = (fy_end - fy_start) * (fx_end - fx_start);
    uint32_t even[EK_POOL_CHUNK / 4], odd[EK_POOL_CHUNK / 4]; /* (c, c + 2) and (c + 1, c + 3) per 4 */
    const int32_t groups = n / 4;
    int32_t fy, fx, k;
    for (k = 0; k < groups; k++) {
        even[k] = 0;
        odd[k] = 0;
    }
    for (fy = fy_start; fy < fy_end; fy++) {
        const int8_t *row = corner + ((size_t)fy * p->in_w + fx_start) * channels + c0;
        for (fx = fx_start; fx < fx_end; fx++, row += channels) {
            for (k = 0; k < groups; k++) {
                const uint32_t x = ek_load32(row + 4 * k);
                even[k] = ek_sxtab16(even[k], x);
                odd[k] = ek_sxtab16_ror8(odd[k], x);
            }
        }
    }
    for (k = 0; k < n; k++) {
        /* channel i: group i / 4; even lanes hold i % 4 = 0, 2, odd lanes 1, 3; the high half 2, 3 */
        const int32_t i = EK_REVERSE(k, n, p->reverse);
        const uint32_t pair = (i & 1) ? odd[i / 4] : even[i / 4];
        out[c0 + i] = ek_pool_average((int16_t)((i & 2) ? pair >> 16 : pair & 0xFFFFu), count, p->act_min, p->act_max);
    }
}

int ek_average_pool_2d_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t channels = p->channels;
    const int32_t rev = p->reverse;
    const int32_t chunks = (channels + EK_POOL_CHUNK - 1) / EK_POOL_CHUNK;
    int32_t ib, iy, ix, ik;
#if EK_POOL_OTHER_SHAPES
    if (p->filter_h * p->filter_w > 256 || channels % 4 != 0) {
        return ek_average_pool_2d_ref(p, input, output);
    }
#endif
    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * channels;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            const int32_t fy_start = ek_max32(0, -in_y0);
            const int32_t fy_end = ek_min32(p->filter_h, p->in_h - in_y0);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                const int32_t fx_start = ek_max32(0, -in_x0);
                const int32_t fx_end = ek_min32(p->filter_w, p->in_w - in_x0);
                /* The window's corner as an address (it may lie outside the image: only its inside is read). */
                const int8_t *corner =
                    (const int8_t *)((uintptr_t)in_batch + (uintptr_t)(((intptr_t)in_y0 * p->in_w + in_x0) * channels));
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * channels;
                if (fy_end <= fy_start || fx_end <= fx_start) {
                    return -1;
                }
                for (ik = 0; ik < chunks; ik++) {
                    const int32_t c0 = EK_REVERSE(ik, chunks, rev) * EK_POOL_CHUNK;
                    const int32_t n = channels - c0 < EK_POOL_CHUNK ? channels - c0 : EK_POOL_CHUNK;
                    chunk(p, corner, fy_start, fy_end, fx_start, fx_end, c0, n, out);
                }
            }
        }
    }
    return 0;
}
