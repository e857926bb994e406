/*
 * Vector table, reset handler and fault handlers, shared by every Cortex-M machine edgekit emulates.
 * The linker scripts in ../ld place `.vectors` where each machine's reset vector is fetched.
 */
#include <stdint.h>

#include "semihost.h"
#include "startup.h"

int main(void);

/* Provided by the linker script. */
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_limit[], __stack_top[];

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SCB_ICSR REG32(0xE000ED04u)
#define SCB_CPACR REG32(0xE000ED88u)
#define SCB_HFSR REG32(0xE000ED2Cu)
#define SCB_CFSR REG32(0xE000ED28u)
#define SCB_MMFAR REG32(0xE000ED34u)
#define SCB_BFAR REG32(0xE000ED38u)
#define SCB_SFSR REG32(0xE000EDE4u)
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)

/* Any value works; this one is unlikely to be a real saved register or local. */
#define STACK_PATTERN 0xC5A3E17Bu

#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define EK_HAS_CFSR 0 /* ARMv6-M and v8-M baseline have no configurable fault status registers */
#else
#define EK_HAS_CFSR 1
#endif

void ek_reset(void) __attribute__((noreturn));
void ek_hardfault(void);
void ek_default_handler(void);
void ek_systick(void);
void ek_report_fault(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn));

typedef void (*vector_t)(void);

/* 16 system exceptions; external interrupts are never enabled, so no IRQ entries are needed. */
__attribute__((section(".vectors"), used)) const vector_t ek_vectors[16] = {
    (vector_t)(uintptr_t)__stack_top,
    ek_reset,
    ek_default_handler, /* NMI */
    ek_hardfault,
    ek_hardfault, /* MemManage: disabled in SHCSR, escalates anyway */
    ek_hardfault, /* BusFault */
    ek_hardfault, /* UsageFault */
    ek_hardfault, /* SecureFault (v8-M) */
    0,
    0,
    0,
    ek_default_handler, /* SVCall */
    ek_default_handler, /* DebugMonitor */
    0,
    ek_default_handler, /* PendSV */
    ek_systick,
};

static inline void enable_fpu(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CP10/CP11 full access. Must precede any FP or Helium instruction, or the core takes a
     * NOCP UsageFault; QEMU then appears to hang, so it is done before anything else. */
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
}

/* Kept out of line so nothing the compiler emits for it (FP or vector code) precedes enable_fpu. */
__attribute__((noinline, noreturn)) static void start(void)
{
    for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0;
    }
    ek_stack_paint();
    ek_exit(main());
}

void ek_reset(void)
{
    enable_fpu();
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
    /* Stack overflow becomes a STKOF UsageFault with a clear report instead of silent corruption. */
    __asm__ volatile("msr msplim, %0" ::"r"(__stack_limit));
#endif
    start();
}

/* ---- stack measurement --------------------------------------------------------------------- */

uintptr_t ek_stack_pointer(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Naked, in assembly: the painted range must end exactly at the caller's stack pointer, and a C
 * body may push its own registers below the value it read (the compiler shrink-wraps prologues).
 * Thumb-1 instructions only, so the same code runs on ARMv6-M. */
__attribute__((naked)) void ek_stack_paint(void)
{
    __asm__ volatile(
        "ldr r0, =__stack_limit\n\t"
        "mov r1, sp\n\t"
        "ldr r2, =%c0\n\t"
        "1:\n\t"
        "cmp r0, r1\n\t"
        "bhs 2f\n\t"
        "stmia r0!, {r2}\n\t"
        "b 1b\n\t"
        "2:\n\t"
        "bx lr\n\t"
        ".ltorg\n\t" ::"i"(STACK_PATTERN));
}

static uintptr_t lowest_used(void)
{
    const volatile uint32_t *p = __stack_limit;
    while (p < (const volatile uint32_t *)__stack_top && *p == STACK_PATTERN) {
        p++;
    }
    return (uintptr_t)p;
}

uint32_t ek_stack_high_water(void)
{
    return (uint32_t)((uintptr_t)__stack_top - lowest_used());
}

uint32_t ek_stack_depth_below(uintptr_t sp)
{
    const uintptr_t low = lowest_used();
    return low < sp ? (uint32_t)(sp - low) : 0u;
}

/* ---- tick counter for the -icount fallback --------------------------------------------------- */

static volatile uint32_t systick_wraps;

void ek_systick(void)
{
    systick_wraps++;
}

void ek_ticks_start(void)
{
    systick_wraps = 0;
    SYST_RVR = 0x00FFFFFFu; /* SysTick is 24 bits wide */
    SYST_CVR = 0;
    SYST_CSR = 0x7u; /* core clock, interrupt on wrap, enabled */
}

uint64_t ek_ticks_now(void)
{
    uint32_t wraps, value;
    /* Re-read when a wrap lands between the two reads, so both describe the same instant. */
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return (uint64_t)wraps * 0x01000000u + (0x00FFFFFFu - value);
}

/* ---- faults ---------------------------------------------------------------------------------- */

/* The core stacked r0-r3, r12, lr, pc, xPSR at `frame` on entry. */
void ek_report_fault(const uint32_t *frame, uint32_t exc_return)
{
    ek_write("\nEDGEKIT FAULT HardFault pc=");
    ek_write_x32(frame[6]);
    ek_write(" lr=");
    ek_write_x32(frame[5]);
    ek_write(" exc_return=");
    ek_write_x32(exc_return);
#if EK_HAS_CFSR
    ek_write(" hfsr=");
    ek_write_x32(SCB_HFSR);
    ek_write(" cfsr=");
    ek_write_x32(SCB_CFSR);
    ek_write(" mmfar=");
    ek_write_x32(SCB_MMFAR);
    ek_write(" bfar=");
    ek_write_x32(SCB_BFAR);
#endif
#if defined(__ARM_FEATURE_CMSE)
    ek_write(" sfsr=");
    ek_write_x32(SCB_SFSR);
#endif
    ek_write("\n");
    ek_exit(EK_EXIT_FAULT);
}

/* Naked: the frame address must be read before a C prologue moves the stack pointer. Only MSP is
 * ever used (no RTOS, no threads), so there is no PSP case. On v8-M mainline the stack limit is
 * lifted first: after a stack overflow (STKOF) the reporter itself needs a little stack. */
__attribute__((naked)) void ek_hardfault(void)
{
    __asm__ volatile(
        "mrs r0, msp\n\t"
        "mov r1, lr\n\t"
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
        "movs r2, #0\n\t"
        "msr msplim, r2\n\t"
#endif
        "ldr r2, =ek_report_fault\n\t"
        "bx r2\n\t"
        ".ltorg\n\t");
}

void ek_default_handler(void)
{
    ek_write("\nEDGEKIT FAULT unexpected exception ");
    ek_write_u32(SCB_ICSR & 0x1FFu);
    ek_write("\n");
    ek_exit(EK_EXIT_EXCEPTION);
}
