/*
 * Run harness: calls the generated model on every embedded input vector and reports, through
 * semihosting, each output as one hex line plus the stack the call used. edgekit/emulate parses
 * the lines that start with "EDGEKIT "; everything else on the console is ignored.
 *
 * inputs.h is generated per build. It includes the model's header and defines
 *   EK_MODEL_NAME (string), EK_INVOKE (the NAME_invoke function), EK_INPUT_SIZE, EK_OUTPUT_SIZE,
 *   EK_N_INPUTS and `ek_inputs[EK_N_INPUTS][EK_INPUT_SIZE]`.
 */
#include <stdint.h>
#include <string.h>

#include "inputs.h"
#include "semihost.h"
#include "startup.h"

#if EK_N_INPUTS < 1
#error "inputs.h must embed at least one input vector"
#endif

/* The input is copied to RAM first, as an application would hand over a sensor buffer; reading it
 * from the flash-resident table would count as flash traffic the real device does not have. */
static int8_t ek_input[EK_INPUT_SIZE];
static int8_t ek_output[EK_OUTPUT_SIZE];

/* Ticks only in -icount runs: in a plugin run SysTick interrupts would follow host time and land
 * inside the counted region at random. The host asks for them with the argument "ticks". */
static int ticks_wanted(void)
{
    return strstr(ek_cmdline(), "ticks") != NULL;
}

/* Kept out of line and opaque to the optimiser so the call cannot be moved around the tick reads. */
__attribute__((noinline, noipa)) static int run_once(const int8_t *input, int8_t *output)
{
    return EK_INVOKE(input, output);
}

int main(void)
{
    const int ticks = ticks_wanted();
    uint32_t high_water = ek_stack_high_water();

    ek_write("EDGEKIT BEGIN model=" EK_MODEL_NAME " inputs=");
    ek_write_u32(EK_N_INPUTS);
    ek_write(" input_size=");
    ek_write_u32(EK_INPUT_SIZE);
    ek_write(" output_size=");
    ek_write_u32(EK_OUTPUT_SIZE);
    ek_write("\n");
    if (ticks) {
        ek_ticks_start();
    }

    for (uint32_t i = 0; i < EK_N_INPUTS; i++) {
        /* The output buffer starts equal each time, so a kernel that skips a byte shows up. */
        memset(ek_output, 0, sizeof ek_output);
        memcpy(ek_input, ek_inputs[i], sizeof ek_input);
        ek_stack_paint();
        const uintptr_t sp = ek_stack_pointer();
        const uint64_t t0 = ticks ? ek_ticks_now() : 0;
        const int rc = run_once(ek_input, ek_output);
        const uint64_t t1 = ticks ? ek_ticks_now() : 0;
        const uint32_t used = ek_stack_high_water();
        if (used > high_water) {
            high_water = used;
        }

        ek_write("EDGEKIT RUN ");
        ek_write_u32(i);
        ek_write(rc < 0 ? " rc=-" : " rc=");
        ek_write_u32(rc < 0 ? 0u - (uint32_t)rc : (uint32_t)rc);
        ek_write(" call_stack=");
        /* Bytes below this frame's stack pointer: what the model call itself needed. */
        ek_write_u32(ek_stack_depth_below(sp));
        ek_write(" ticks=");
        ek_write_u32((uint32_t)(t1 - t0));
        ek_write(" ticks_hi=");
        ek_write_u32((uint32_t)((t1 - t0) >> 32));
        ek_write("\n");

        ek_write("EDGEKIT OUT ");
        ek_write_u32(i);
        ek_write(" ");
        ek_write_hex((const uint8_t *)ek_output, sizeof ek_output);
        ek_write("\n");
    }

    const uint32_t tail = ek_stack_high_water();
    ek_write("EDGEKIT STACK high_water=");
    ek_write_u32(tail > high_water ? tail : high_water);
    ek_write("\nEDGEKIT END\n");
    return EK_EXIT_OK;
}
