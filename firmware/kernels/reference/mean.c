/* MEAN, int8 (TFLM's reference_ops::QuantizedMeanOrSum with compute_sum false). */
#include "ek_kernels.h"

void ek_mean_s8(const ek_mean_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t *kd = p->kept_dims;
    const int32_t *ks = p->kept_strides;
    const int32_t *rd = p->reduced_dims;
    const int32_t *rs = p->reduced_strides;
    int32_t o;
    for (o = 0; o < p->out_size; o++) {
        /* Kept coordinates of output o, last dimension fastest. */
        int32_t rest = o;
        int32_t base = 0;
        int32_t sum = 0;
        int32_t k, r0, r1, r2, r3, r4, r5;
        for (k = EK_MAX_DIMS - 1; k >= 0; k--) {
            base += (rest % kd[k]) * ks[k];
            rest /= kd[k];
        }
        for (r0 = 0; r0 < rd[0]; r0++) {
            for (r1 = 0; r1 < rd[1]; r1++) {
                for (r2 = 0; r2 < rd[2]; r2++) {
                    for (r3 = 0; r3 < rd[3]; r3++) {
                        for (r4 = 0; r4 < rd[4]; r4++) {
                            const int8_t *row = input + base + r0 * rs[0] + r1 * rs[1] + r2 * rs[2] + r3 * rs[3] +
                                                r4 * rs[4];
                            for (r5 = 0; r5 < rd[5]; r5++) {
                                sum += row[r5 * rs[5]];
                            }
                        }
                    }
                }
            }
        }
        sum = ek_mul_by_quantized_mul(sum - p->input_zero_point * p->count, p->multiplier, p->shift) +
              p->output_zero_point;
        output[o] = (int8_t)ek_clamp32(sum, -128, 127);
    }
}
