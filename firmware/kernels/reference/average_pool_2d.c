/* AVERAGE_POOL_2D, int8 (TFLM's reference_integer_ops::AveragePool): the window is clipped to the
 * image, and the sum is divided by the number of elements inside, rounding half away from zero. The
 * loop is ek_average_pool_2d_ref in ek_kernels.h, where the optimized families reach it too. */
#include "ek_kernels.h"

int ek_average_pool_2d_s8(const ek_pool_params_t *p, const int8_t *input, int8_t *output) {
    return ek_average_pool_2d_ref(p, input, output);
}
