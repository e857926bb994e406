/*
 * Semihosting calls. On M-profile cores the trap is `BKPT 0xAB` with the operation in r0 and a
 * pointer to its argument block in r1; the result comes back in r0.
 */
#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026u

static uintptr_t semihost_call(uintptr_t op, const void *arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    /* "memory": the host reads (and for GET_CMDLINE writes) the argument block behind our back. */
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void ek_write(const char *text)
{
    semihost_call(SYS_WRITE0, text);
}

/* One trap per chunk rather than per character: each trap is a full exit from the emulated CPU. */
#define HEX_CHUNK 128

void ek_write_hex(const uint8_t *bytes, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char buf[2 * HEX_CHUNK + 1];
    while (len > 0) {
        size_t n = len < HEX_CHUNK ? len : HEX_CHUNK;
        for (size_t i = 0; i < n; i++) {
            buf[2 * i] = digits[bytes[i] >> 4];
            buf[2 * i + 1] = digits[bytes[i] & 0xF];
        }
        buf[2 * n] = '\0';
        ek_write(buf);
        bytes += n;
        len -= n;
    }
}

void ek_write_u32(uint32_t value)
{
    char buf[11];
    char *p = buf + sizeof buf - 1;
    *p = '\0';
    do {
        /* Division by 10 is a libgcc call on ARMv6-M; that is fine outside the measured region. */
        *--p = (char)('0' + value % 10u);
        value /= 10u;
    } while (value != 0);
    ek_write(p);
}

void ek_write_x32(uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char buf[11] = "0x";
    for (int i = 0; i < 8; i++) {
        buf[2 + i] = digits[(value >> (28 - 4 * i)) & 0xF];
    }
    buf[10] = '\0';
    ek_write(buf);
}

const char *ek_cmdline(void)
{
    static char line[128];
    struct {
        char *buf;
        uintptr_t len;
    } block = {line, sizeof line};
    if (semihost_call(SYS_GET_CMDLINE, &block) != 0) {
        line[0] = '\0';
    }
    return line;
}

void ek_exit(int code)
{
    const uintptr_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, (uintptr_t)code};
    semihost_call(SYS_EXIT_EXTENDED, block);
    /* Only reached when no debugger/emulator listens: park the core rather than run off. */
    for (;;) {
        __asm__ volatile("wfi");
    }
}
