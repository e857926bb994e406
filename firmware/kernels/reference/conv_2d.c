/* CONV_2D, int8 activations and weights, int32 bias, per-channel requantization (TFLM's
 * reference_integer_ops::ConvPerChannel; per-tensor weights arrive with the multiplier repeated). */
#include "ek_kernels.h"

void ek_conv_2d_s8(const ek_conv_params_t *p, const int8_t *input, const int8_t *filter, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int8_t *output, int16_t *scratch) {
    const int32_t filter_in_c = p->filter_in_c;
    const int32_t filters_per_group = p->out_c / (p->in_c / filter_in_c);
    const int32_t filter_size = p->filter_h * p->filter_w * filter_in_c;
    const int32_t input_offset = p->input_offset;
    const int32_t rev = p->reverse;
    int32_t ib, iy, ix, ioc, fy, fx, ic;
    (void)scratch;

    for (ib = 0; ib < p->batches; ib++) {
        const int32_t b = EK_REVERSE(ib, p->batches, rev);
        const int8_t *in_batch = input + (size_t)b * p->in_h * p->in_w * p->in_c;
        for (iy = 0; iy < p->out_h; iy++) {
            const int32_t oy = EK_REVERSE(iy, p->out_h, rev);
            const int32_t in_y0 = oy * p->stride_h - p->pad_h;
            int32_t fy_start, fy_end;
            ek_tap_range(in_y0, p->dilation_h, p->filter_h, p->in_h, &fy_start, &fy_end);
            for (ix = 0; ix < p->out_w; ix++) {
                const int32_t ox = EK_REVERSE(ix, p->out_w, rev);
                const int32_t in_x0 = ox * p->stride_w - p->pad_w;
                int8_t *out = output + (((size_t)b * p->out_h + oy) * p->out_w + ox) * p->out_c;
                int32_t fx_start, fx_end;
                ek_tap_range(in_x0, p->dilation_w, p->filter_w, p->in_w, &fx_start, &fx_end);
                for (ioc = 0; ioc < p->out_c; ioc++) {
                    const int32_t oc = EK_REVERSE(ioc, p->out_c, rev);
                    const int32_t group_base = (oc / filters_per_group) * filter_in_c;
                    const int8_t *f_oc = filter + (size_t)oc * filter_size;
                    int32_t acc = 0;
                    for (fy = fy_start; fy < fy_end; fy++) {
                        const int32_t in_y = in_y0 + p->dilation_h * fy;
                        for (fx = fx_start; fx < fx_end; fx++) {
                            const int32_t in_x = in_x0 + p->dilation_w * fx;
                            const int8_t *in_px = in_batch + ((size_t)in_y * p->in_w + in_x) * p->in_c + group_base;
                            const int8_t *f_px = f_oc + ((size_t)fy * p->filter_w + fx) * filter_in_c;
                            for (ic = 0; ic < filter_in_c; ic++) {
                                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + input_offset);
                            }
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[oc];
                    }
                    acc = ek_mul_by_quantized_mul(acc, multiplier[oc], shift[oc]);
                    acc += p->output_offset;
                    out[oc] = (int8_t)ek_clamp32(acc, p->act_min, p->act_max);
                }
            }
        }
    }
}
