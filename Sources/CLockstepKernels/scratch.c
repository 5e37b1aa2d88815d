/*
 * Per-thread scratch buffers, reused from call to call.
 *
 * The batched products and attention need working memory on every call (per-token tables,
 * unpacked weight panels, per-task attention arrays). Allocating and freeing it each time costs
 * page faults: glibc returns large blocks to the system, and the next call touches fresh pages
 * again (a replay of 140 tokens made about 6,000 such faults, some 3% of its time). Each thread
 * therefore keeps one buffer per slot; it grows to the largest request and is freed when the
 * thread exits. A buffer above LK_SCRATCH_KEEP bytes is freed on release instead, so that one
 * long prefill does not pin its tables for the life of the thread.
 *
 * The same per-thread record holds the thread's RoPE angle table (rope_table.c): one key, one
 * destructor for everything a thread keeps.
 */
#include "lk_internal.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define LK_SCRATCH_KEEP ((size_t)16 << 20)

typedef struct {
    void *buffer[LK_SCRATCH_SLOTS];
    size_t bytes[LK_SCRATCH_SLOTS];
    lk_rope_table *rope;
} lk_scratch_set;

static pthread_key_t lk_scratch_key;
static pthread_once_t lk_scratch_once = PTHREAD_ONCE_INIT;

static void lk_scratch_destroy(void *p) {
    lk_scratch_set *s = p;
    for (int i = 0; i < LK_SCRATCH_SLOTS; i++) free(s->buffer[i]);
    lk_rope_table_free(s->rope);
    free(s);
}

static void lk_scratch_init(void) {
    if (pthread_key_create(&lk_scratch_key, lk_scratch_destroy) != 0) {
        fputs("lockstep kernels: cannot create the scratch key\n", stderr);
        abort();
    }
}

static _Noreturn void lk_scratch_oom(size_t bytes) {
    fprintf(stderr, "lockstep kernels: out of memory (scratch of %zu bytes)\n", bytes);
    abort();
}

/* This thread's record, made on first use. */
static lk_scratch_set *lk_scratch_thread(void) {
    pthread_once(&lk_scratch_once, lk_scratch_init);
    lk_scratch_set *s = pthread_getspecific(lk_scratch_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(lk_scratch_key, s) != 0) lk_scratch_oom(sizeof *s);
    }
    return s;
}

lk_rope_table **lk_thread_rope_table(void) { return &lk_scratch_thread()->rope; }

void *lk_scratch_acquire(int slot, size_t bytes) {
    lk_scratch_set *s = lk_scratch_thread();
    if (bytes == 0) bytes = 64;
    if (s->bytes[slot] < bytes) {
        free(s->buffer[slot]);
        const size_t rounded = (bytes + 63) / 64 * 64;
        s->buffer[slot] = aligned_alloc(64, rounded);
        s->bytes[slot] = s->buffer[slot] ? rounded : 0;
        if (!s->buffer[slot]) lk_scratch_oom(rounded);
    }
    return s->buffer[slot];
}

void lk_scratch_release(int slot) {
    lk_scratch_set *s = pthread_getspecific(lk_scratch_key);
    if (!s || s->bytes[slot] <= LK_SCRATCH_KEEP) return;
    free(s->buffer[slot]);
    s->buffer[slot] = NULL;
    s->bytes[slot] = 0;
}
