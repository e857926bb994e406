/*
 * Host twin of main.c: the same generated inputs.h and model, compiled with the host's gcc, printing
 * the same "EDGEKIT" lines on stdout. Its outputs are the reference the emulated firmware must equal.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "inputs.h"

static int8_t ek_input[EK_INPUT_SIZE];
static int8_t ek_output[EK_OUTPUT_SIZE];

int main(void)
{
    printf("EDGEKIT BEGIN model=%s inputs=%d input_size=%d output_size=%d\n", EK_MODEL_NAME, (int)EK_N_INPUTS,
           (int)EK_INPUT_SIZE, (int)EK_OUTPUT_SIZE);
    for (unsigned i = 0; i < (unsigned)EK_N_INPUTS; i++) {
        memset(ek_output, 0, sizeof ek_output);
        memcpy(ek_input, ek_inputs[i], sizeof ek_input);
        const int rc = EK_INVOKE(ek_input, ek_output);
        printf("EDGEKIT RUN %u rc=%d\n", i, rc);
        printf("EDGEKIT OUT %u ", i);
        for (size_t k = 0; k < sizeof ek_output; k++) {
            printf("%02x", (unsigned)(uint8_t)ek_output[k]);
        }
        printf("\n");
    }
    printf("EDGEKIT END\n");
    return 0;
}
