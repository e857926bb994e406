/* CONCATENATION (TFLM's reference_ops::Concatenation): rows of each input's chunk, one after another.
 * Inputs and output share one quantization (TFLM requires it for int8), so this is a byte copy. */
#include <string.h>

#include "ek_kernels.h"

void ek_concatenation(const ek_concat_params_t *p, const void *const *inputs, void *output) {
    uint8_t *out = (uint8_t *)output;
    int32_t row, i;
    for (row = 0; row < p->outer; row++) {
        for (i = 0; i < p->num_inputs; i++) {
            const size_t chunk = (size_t)p->chunk_bytes[i];
            memmove(out, (const uint8_t *)inputs[i] + (size_t)row * chunk, chunk);
            out += chunk;
        }
    }
}
