/* MAX_POOL_2D, int8 (TFLM's reference_integer_ops::MaxPool): the window is clipped to the image. */
#include "ek_kernels.h"

void ek_max_pool_2d_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t channels = p->channels;
    const int32_t rev = p->reverse;
    int32_t ib, iy, ix, ic, fy, fx;
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
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * channels;
                for (ic = 0; ic < channels; ic++) {
                    const int32_t c = EK_REVERSE(ic, channels, rev);
                    int32_t max = -128;
                    for (fy = fy_start; fy < fy_end; fy++) {
                        const int8_t *in_row = in_batch + ((size_t)(in_y0 + fy) * p->in_w + in_x0) * channels + c;
                        for (fx = fx_start; fx < fx_end; fx++) {
                            max = ek_max32(max, in_row[(size_t)fx * channels]);
                        }
                    }
                    out[c] = (int8_t)ek_clamp32(max, p->act_min, p->act_max);
                }
            }
        }
    }
}
