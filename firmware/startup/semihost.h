/*
 * Arm semihosting: the only channel between the firmware and the host when it runs in QEMU
 * (-semihosting-config enable=on,target=native). Text written here arrives on QEMU's stderr.
 */
#ifndef EDGEKIT_SEMIHOST_H
#define EDGEKIT_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

/* Exit codes the host recognises (edgekit/emulate/qemu.py keeps the same numbers). */
#define EK_EXIT_OK 0
#define EK_EXIT_HARNESS 3       /* the harness itself found a problem and said why */
#define EK_EXIT_FAULT 70        /* HardFault (or a fault escalated to it) */
#define EK_EXIT_EXCEPTION 71    /* an exception with no handler of ours: NMI, SVC, IRQ ... */

/* Write a NUL-terminated string to the debug console. */
void ek_write(const char *text);

/* Write `len` bytes as lowercase hex, no separators. */
void ek_write_hex(const uint8_t *bytes, size_t len);

/* Write an unsigned number in decimal. */
void ek_write_u32(uint32_t value);

/* Write a 32-bit value as 0x%08x. */
void ek_write_x32(uint32_t value);

/* The command line QEMU passes (-append), or "" when there is none. */
const char *ek_cmdline(void);

/* Stop the emulator with this exit status (SYS_EXIT_EXTENDED), never returns. */
void ek_exit(int code) __attribute__((noreturn));

#endif
