/* Start-up services the harness uses: stack measurement and the optional tick counter. */
#ifndef EDGEKIT_STARTUP_H
#define EDGEKIT_STARTUP_H

#include <stdint.h>

/* Paint the free stack (from the stack limit up to the caller's stack pointer) with a pattern. */
void ek_stack_paint(void);

/* Bytes of stack in use at the deepest point since the last paint, counted from the stack top. */
uint32_t ek_stack_high_water(void);

/* Bytes of stack in use below `sp` at the deepest point since the last paint. */
uint32_t ek_stack_depth_below(uintptr_t sp);

/* The current stack pointer. */
uintptr_t ek_stack_pointer(void);

/* Enable SysTick at the core clock, counting wraps in an interrupt (only for -icount runs). */
void ek_ticks_start(void);

/* Core-clock ticks since ek_ticks_start(): a 64-bit count built from SysTick and its wraps. */
uint64_t ek_ticks_now(void);

#endif
