/* ADD, int8, with broadcasting: the Helium (MVE) version of reference/add.c, with the same results bit
 * for bit.
 *
 * Same-shape inputs (the residual ADDs of ResNet-style models) four elements per vector: widening
 * loads (VLDRB.S32), the input offsets and left shift, the three requantizations of TFLM's AddFunc as
 * ek_helium.h's four-lane double rounding, one narrowing store; the last vector tail-predicated.
 * Broadcasting shapes keep the reference's loops, element by element.
 *
 * Write order: each vector's inputs are read before its outputs are written, and vectors go first to
 * last (last to first when `reverse` is set), so the planner's element-wise in-place overlaps hold. */
#include "ek_helium.h"
#include "ek_kernels.h"

static int8_t add_one(const ek_add_params_t *p, int8_t x, int8_t y) {
    const int32_t shifted1 = ek_wrap_shl(p->input1_offset + x, p->left_shift);
    const int32_t shifted2 = ek_wrap_shl(p->input2_offset + y, p->left_shift);
    const int32_t scaled1 = ek_mul_by_quantized_mul(shifted1, p->input1_multiplier, p->input1_shift);
    const int32_t scaled2 = ek_mul_by_quantized_mul(shifted2, p->input2_multiplier, p->input2_shift);
    const int32_t raw = ek_mul_by_quantized_mul(ek_wrap_add(scaled1, scaled2), p->output_multiplier, p->output_shift) +
                        p->output_offset;
    return (int8_t)ek_clamp32(raw, p->act_min, p->act_max);
}

/* ek_mul_by_quantized_mul on 4 lanes (ek_requant_out without the output offset and clamp). */
EK_INLINE int32x4_t rescale(int32x4_t x, const ek_hq_t *q) {
    x = vshlq_s32(x, q->left);
    x = vqrdmulhq_s32(x, q->mult);
    x = vqaddq_s32(x, vshrq_n_s32(vandq_s32(x, q->neg_right), 31));
    return vrshlq_s32(x, q->neg_right);
}

static void add_flat(const ek_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    const int32_t size = p->shape.size;
    const ek_hq_t q1 = ek_hq_dup(p->input1_multiplier, p->input1_shift);
    const ek_hq_t q2 = ek_hq_dup(p->input2_multiplier, p->input2_shift);
    const ek_hq_t qo = ek_hq_dup(p->output_multiplier, p->output_shift);
    const ek_hout_t o = ek_hout(p->output_offset, p->act_min, p->act_max);
    const int32_t left = p->left_shift;
    const int32_t off1 = p->input1_offset, off2 = p->input2_offset;
    const int32_t steps = (size + 3) / 4;
    int32_t is;
    for (is = 0; is < steps; is++) {
        const int32_t i = EK_REVERSE(is, steps, p->shape.reverse) * 4;
        const mve_pred16_t pr = vctp32q((uint32_t)(size - i));
        const int32x4_t x = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(input1 + i, pr), off1), left);
        const int32x4_t y = vshlq_r_s32(vaddq_n_s32(vldrbq_z_s32(input2 + i, pr), off2), left);
        const int32x4_t sum = vaddq_s32(rescale(x, &q1), rescale(y, &q2));
        vstrbq_p_s32(output + i, ek_requant_out(sum, &qo, &o), pr);
    }
}

void ek_add_s8(const ek_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    const ek_broadcast_t *s = &p->shape;
    const int32_t rev = s->reverse;
    const int32_t *n = s->out_dims;
    const int32_t *s1 = s->in1_strides;
    const int32_t *s2 = s->in2_strides;
    int32_t i0, i1, i2, i3, i4, i5;
    if (!s->broadcast) {
        add_flat(p, input1, input2, output);
        return;
    }
    for (i0 = 0; i0 < n[0]; i0++) {
        const int32_t d0 = EK_REVERSE(i0, n[0], rev);
        for (i1 = 0; i1 < n[1]; i1++) {
            const int32_t d1 = EK_REVERSE(i1, n[1], rev);
            for (i2 = 0; i2 < n[2]; i2++) {
                const int32_t d2 = EK_REVERSE(i2, n[2], rev);
                for (i3 = 0; i3 < n[3]; i3++) {
                    const int32_t d3 = EK_REVERSE(i3, n[3], rev);
                    for (i4 = 0; i4 < n[4]; i4++) {
                        const int32_t d4 = EK_REVERSE(i4, n[4], rev);
                        const int8_t *a = input1 + d0 * s1[0] + d1 * s1[1] + d2 * s1[2] + d3 * s1[3] + d4 * s1[4];
                        const int8_t *b = input2 + d0 * s2[0] + d1 * s2[1] + d2 * s2[2] + d3 * s2[3] + d4 * s2[4];
                        int8_t *out = output + ((((d0 * n[1] + d1) * n[2] + d2) * n[3] + d3) * n[4] + d4) * n[5];
                        for (i5 = 0; i5 < n[5]; i5++) {
                            const int32_t d5 = EK_REVERSE(i5, n[5], rev);
                            out[d5] = add_one(p, a[d5 * s1[5]], b[d5 * s2[5]]);
                        }
                    }
                }
            }
        }
    }
}
