/* ADD, int8, with broadcasting: the Arm DSP family's version of reference/add.c, with the same results
 * bit for bit. Same loops (and so the same write order); the three requantizations per element use
 * ek_dsp.h's split requantization, whose per-multiplier part is computed once per call instead of
 * per element, and whose per-value part has no 64-bit shifts. */
#include "ek_dsp.h"
#include "ek_kernels.h"

typedef struct {
    const ek_add_params_t *p;
    ek_requant_t in1, in2, out;
} add_t;

/* TFLM's AddFunc: both inputs shifted left by left_shift, rescaled to a common scale, summed, then
 * rescaled to the output scale. */
EK_INLINE int8_t add_one(const add_t *q, int8_t x, int8_t y) {
    const ek_add_params_t *p = q->p;
    const int32_t shifted1 = ek_wrap_shl(p->input1_offset + x, p->left_shift);
    const int32_t shifted2 = ek_wrap_shl(p->input2_offset + y, p->left_shift);
    const int32_t scaled1 = ek_requant_apply(&q->in1, shifted1);
    const int32_t scaled2 = ek_requant_apply(&q->in2, shifted2);
    const int32_t raw = ek_requant_apply(&q->out, ek_wrap_add(scaled1, scaled2)) + p->output_offset;
    return ek_clamp_s8(raw, p->act_min, p->act_max);
}

void ek_add_s8(const ek_add_params_t *p, const int8_t *input1, const int8_t *input2, int8_t *output) {
    const ek_broadcast_t *s = &p->shape;
    const int32_t rev = s->reverse;
    const int32_t *n = s->out_dims;
    const int32_t *s1 = s->in1_strides;
    const int32_t *s2 = s->in2_strides;
    int32_t i0, i1, i2, i3, i4, i5;
    add_t q;
    q.p = p;
    q.in1 = ek_requant_setup(p->input1_multiplier, p->input1_shift);
    q.in2 = ek_requant_setup(p->input2_multiplier, p->input2_shift);
    q.out = ek_requant_setup(p->output_multiplier, p->output_shift);
    if (!s->broadcast) {
        for (i0 = 0; i0 < s->size; i0++) {
            const int32_t i = EK_REVERSE(i0, s->size, rev);
            output[i] = add_one(&q, input1[i], input2[i]);
        }
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
                            out[d5] = add_one(&q, a[d5 * s1[5]], b[d5 * s2[5]]);
                        }
                    }
                }
            }
        }
    }
}
