/*
 * edgekit's QEMU TCG plugin: exact executed-instruction counts per model layer and per inference.
 *
 * The host passes `regions=FILE,out=FILE`. FILE lists, one per line:
 *   I <hex>                the entry address of NAME_invoke: every execution starts a new inference
 *   R <id> <lo> <hi>       code [lo, hi) whose blocks switch attribution to region <id>; code outside
 *                          every range (kernels, libc) is charged to the region last switched to
 *   F <lo> <hi> <line> <n> the read-only image; data reads there are counted, and so are misses in
 *                          a fully associative LRU buffer of <n> lines of <line> bytes (the flash
 *                          accelerator of the wait-state model)
 * Region 0 is "not in the model" (start-up and harness), 1 the NAME_invoke glue, 2.. the layers.
 *
 * Counting is per translated block (one callback each time a block starts), so it is exact as long
 * as blocks run to their end; only a fault stops one midway, and then the run is reported as failed.
 * A block whose successor does not start at its end address ended in a taken branch.
 *
 * Output (text): "T id pc b1,b2,.." once per translated block, with each instruction's bytes in hex;
 * then for each segment "S k" (segment 0 is before the first inference, k >= 1 the k-th inference up
 * to the next one), "C tb region executions taken" lines and "M region flash_reads flash_misses";
 * last "L region pc": where execution was when QEMU stopped (names the spot of a hang).
 *
 * Only the few declarations of QEMU's public plugin API (version 1, QEMU 7.x) used here are written
 * out below: Debian ships no qemu-plugin.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the part of the QEMU plugin API this plugin uses ---------------------------------------- */
#define EK_EXPORT __attribute__((visibility("default")))
typedef uint64_t qemu_plugin_id_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union { /* anonymous in QEMU's header; named here to stay C99, same layout */
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    } u;
} qemu_info_t;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_mem_cb_t)(unsigned int vcpu_index, qemu_plugin_meminfo_t info,
                                          uint64_t vaddr, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb, qemu_plugin_vcpu_udata_cb_t cb,
                                          enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_mem_cb_t cb,
                                      enum qemu_plugin_cb_flags flags, enum qemu_plugin_mem_rw rw,
                                      void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
bool qemu_plugin_mem_is_store(qemu_plugin_meminfo_t info);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

EK_EXPORT int qemu_plugin_version = 1;
EK_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

/* ---- state --------------------------------------------------------------------------------- */

#define MAX_RANGES 4096

typedef struct {
    uint64_t lo, hi;
    int region;
} range_t;

typedef struct block {
    struct block *next;
    uint64_t id, pc, end;
    int region;     /* region this block switches to, or -1 to keep the current one */
    bool inference; /* first block of NAME_invoke */
    uint64_t *exec; /* [n_regions] */
    uint64_t *taken;
} block_t;

static range_t ranges[MAX_RANGES];
static int n_ranges;
static int n_regions = 2;
static uint64_t invoke_entry = UINT64_MAX;
#define MAX_LINES 64
static uint64_t flash_lo, flash_hi, line_bytes = 16;
static uint64_t lru[MAX_LINES]; /* most recent first */
static int n_lines = 8, lines_used;
static bool thumb = true; /* M-profile (qemu-system-arm); false for AArch64 (qemu-aarch64 user mode) */

static FILE *out;
static block_t *blocks, **blocks_tail = &blocks;
static uint64_t n_blocks;
static block_t *last_block;
static int last_region;
static int current;
static uint64_t segment;
static uint64_t *flash_reads, *flash_misses; /* [n_regions] */

static void fail(const char *why)
{
    char msg[512];
    snprintf(msg, sizeof msg, "edgekit_count: %s\n", why);
    qemu_plugin_outs(msg);
}

static void *zalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (p == NULL) {
        fail("out of memory");
        exit(99);
    }
    return p;
}

/* ---- callbacks ------------------------------------------------------------------------------ */

static void flush_segment(void)
{
    fprintf(out, "S %" PRIu64 "\n", segment);
    for (block_t *b = blocks; b != NULL; b = b->next) {
        for (int r = 0; r < n_regions; r++) {
            if (b->exec[r] != 0 || b->taken[r] != 0) {
                fprintf(out, "C %" PRIu64 " %d %" PRIu64 " %" PRIu64 "\n", b->id, r, b->exec[r], b->taken[r]);
                b->exec[r] = 0;
                b->taken[r] = 0;
            }
        }
    }
    for (int r = 0; r < n_regions; r++) {
        if (flash_reads[r] != 0) {
            fprintf(out, "M %d %" PRIu64 " %" PRIu64 "\n", r, flash_reads[r], flash_misses[r]);
            flash_reads[r] = 0;
            flash_misses[r] = 0;
        }
    }
}

static void on_block(unsigned int vcpu, void *userdata)
{
    block_t *b = userdata;
    (void)vcpu;
    if (last_block != NULL && last_block->end != b->pc) {
        last_block->taken[last_region]++;
    }
    if (b->inference) {
        flush_segment();
        segment++;
    }
    if (b->region >= 0) {
        current = b->region;
    }
    b->exec[current]++;
    last_block = b;
    last_region = current;
}

static void on_read(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *userdata)
{
    (void)vcpu;
    (void)userdata;
    if (vaddr >= flash_lo && vaddr < flash_hi && !qemu_plugin_mem_is_store(info)) {
        const uint64_t line = vaddr / line_bytes;
        int i = 0;
        flash_reads[current]++;
        while (i < lines_used && lru[i] != line) {
            i++;
        }
        if (i == lines_used) {
            flash_misses[current]++;
            if (lines_used < n_lines) {
                lines_used++;
            }
            i = lines_used - 1; /* evict the least recent */
        }
        memmove(&lru[1], &lru[0], (size_t)i * sizeof lru[0]);
        lru[0] = line;
    }
}

static int region_of(uint64_t pc)
{
    for (int i = 0; i < n_ranges; i++) {
        if (pc >= ranges[i].lo && pc < ranges[i].hi) {
            return ranges[i].region;
        }
    }
    return -1;
}

/* M-profile cores only run Thumb: a halfword below 0xE800 is a whole 16-bit instruction.
 * AArch64 instructions are always 4 bytes. */
static size_t thumb_size(const uint8_t *bytes, size_t size)
{
    if (thumb && size == 4 && ((unsigned)(bytes[0] | bytes[1] << 8) >> 11) < 0x1Du) {
        return 2;
    }
    return size;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    if (n == 0) {
        return;
    }
    block_t *b = zalloc(1, sizeof *b);
    b->id = n_blocks++;
    b->pc = qemu_plugin_tb_vaddr(tb);
    b->region = region_of(b->pc);
    b->inference = b->pc == invoke_entry;
    b->exec = zalloc((size_t)n_regions, sizeof *b->exec);
    b->taken = zalloc((size_t)n_regions, sizeof *b->taken);

    fprintf(out, "T %" PRIu64 " %" PRIx64 " ", b->id, b->pc);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *bytes = qemu_plugin_insn_data(insn);
        size_t size = thumb_size(bytes, qemu_plugin_insn_size(insn));
        const uint64_t vaddr = qemu_plugin_insn_vaddr(insn);
        if (i + 1 < n) {
            /* QEMU 7.2 reports 4 bytes for a 16-bit Thumb instruction at the end of a page (it
             * peeks at the next halfword); the next instruction's address gives the true size. */
            const uint64_t next = qemu_plugin_insn_vaddr(qemu_plugin_tb_get_insn(tb, i + 1));
            if (next > vaddr && next - vaddr < size) {
                size = (size_t)(next - vaddr);
            }
        } else {
            b->end = vaddr + size;
        }
        if (i > 0) {
            fputc(',', out);
        }
        for (size_t k = 0; k < size; k++) {
            fprintf(out, "%02x", bytes[k]);
        }
        if (flash_hi > flash_lo) {
            /* QEMU 7.2 filters by access kind inconsistently (asking for reads delivered the
             * stores), so take every access and look at it here. */
            qemu_plugin_register_vcpu_mem_cb(insn, on_read, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, NULL);
        }
    }
    fputc('\n', out);

    *blocks_tail = b;
    blocks_tail = &b->next;
    qemu_plugin_register_vcpu_tb_exec_cb(tb, on_block, QEMU_PLUGIN_CB_NO_REGS, b);
}

static void on_atexit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    flush_segment();
    fprintf(out, "L %d %" PRIx64 "\n", current, last_block != NULL ? last_block->pc : 0);
    fprintf(out, "E %" PRIu64 "\n", segment);
    fclose(out);
    out = NULL;
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int read_regions(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail("cannot open the regions file");
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
        uint64_t a, b, c;
        int region;
        if (sscanf(line, "I %" SCNx64, &a) == 1) {
            invoke_entry = a;
        } else if (sscanf(line, "R %d %" SCNx64 " %" SCNx64, &region, &a, &b) == 3) {
            if (n_ranges == MAX_RANGES || region < 0) {
                fclose(f);
                fail("too many or bad region lines");
                return -1;
            }
            ranges[n_ranges++] = (range_t){a, b, region};
            if (region + 1 > n_regions) {
                n_regions = region + 1;
            }
        } else if (sscanf(line, "F %" SCNx64 " %" SCNx64 " %" SCNu64 " %d", &a, &b, &c, &region) == 4) {
            flash_lo = a;
            flash_hi = b;
            line_bytes = c > 0 ? c : 16;
            n_lines = region > 0 && region <= MAX_LINES ? region : 8;
        }
    }
    fclose(f);
    return 0;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *regions = NULL, *out_path = NULL;
    thumb = info == NULL || info->target_name == NULL || strcmp(info->target_name, "aarch64") != 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "regions=", 8) == 0) {
            regions = argv[i] + 8;
        } else if (strncmp(argv[i], "out=", 4) == 0) {
            out_path = argv[i] + 4;
        } else {
            fail("unknown argument (expected regions=FILE,out=FILE)");
            return -1;
        }
    }
    if (regions == NULL || out_path == NULL) {
        fail("needs regions=FILE,out=FILE");
        return -1;
    }
    if (read_regions(regions) != 0) {
        return -1;
    }
    out = fopen(out_path, "w");
    if (out == NULL) {
        fail("cannot create the output file");
        return -1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    flash_reads = zalloc((size_t)n_regions, sizeof *flash_reads);
    flash_misses = zalloc((size_t)n_regions, sizeof *flash_misses);
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_atexit, NULL);
    return 0;
}
