/* STRIDED_SLICE (TFLM's reference_ops::StridedSlice): the generator resolves begin/end/strides and the
 * masks into a start offset and per-dimension input strides (negative for negative slice strides). */
#include <string.h>

#include "ek_kernels.h"

void ek_strided_slice(const ek_gather_params_t *p, const void *input, void *output) {
    const int32_t *n = p->out_dims;
    const int32_t *s = p->in_strides;
    const size_t size = (size_t)p->elem_bytes;
    const uint8_t *in = (const uint8_t *)input;
    uint8_t *out = (uint8_t *)output;
    int32_t i0, i1, i2, i3, i4, i5;
    for (i0 = 0; i0 < n[0]; i0++) {
        for (i1 = 0; i1 < n[1]; i1++) {
            for (i2 = 0; i2 < n[2]; i2++) {
                for (i3 = 0; i3 < n[3]; i3++) {
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const int32_t base = p->offset + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] + i4 * s[4];
                        for (i5 = 0; i5 < n[5]; i5++) {
                            memcpy(out, in + (ptrdiff_t)(base + i5 * s[5]) * (ptrdiff_t)size, size);
                            out += size;
                        }
                    }
                }
            }
        }
    }
}
