/* PAD / PADV2, int8, constant padding (TFLM's reference_ops::Pad): the output is the input placed
 * `before` elements in along each dimension, everything else pad_value. */
#include "ek_kernels.h"

void ek_pad_s8(const ek_pad_params_t *p, const int8_t *input, int8_t *output) {
    const int32_t *n = p->out_dims;
    const int32_t *in = p->in_dims;
    const int32_t *b = p->before;
    const int8_t pad = (int8_t)p->pad_value;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < n[0]; i0++) {
        const int ok0 = i0 >= b[0] && i0 < b[0] + in[0];
        for (i1 = 0; i1 < n[1]; i1++) {
            const int ok1 = ok0 && i1 >= b[1] && i1 < b[1] + in[1];
            for (i2 = 0; i2 < n[2]; i2++) {
                const int ok2 = ok1 && i2 >= b[2] && i2 < b[2] + in[2];
                for (i3 = 0; i3 < n[3]; i3++) {
                    const int ok3 = ok2 && i3 >= b[3] && i3 < b[3] + in[3];
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const int ok4 = ok3 && i4 >= b[4] && i4 < b[4] + in[4];
                        const int8_t *row = input;
                        if (ok4) {
                            row = input + (((((size_t)(i0 - b[0]) * in[1] + (i1 - b[1])) * in[2] + (i2 - b[2])) * in[3] +
                                            (i3 - b[3])) * in[4] + (i4 - b[4])) * in[5];
                        }
                        for (i5 = 0; i5 < n[5]; i5++) {
                            *output++ = (ok4 && i5 >= b[5] && i5 < b[5] + in[5]) ? row[i5 - b[5]] : pad;
                        }
                    }
                }
            }
        }
    }
}
