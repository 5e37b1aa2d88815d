/* Instruction-set detection and the worker pool. */
#define _GNU_SOURCE
#include "lk_internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#ifdef LK_X86
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- instruction sets ---- */

#ifdef LK_X86
static uint64_t lk_xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* bit 0: avx2, bit 1: avx512 (F, BW, VL, DQ), bit 2: avx512 VNNI. Never AMX. */
static int lk_x86_features(void) {
    static _Atomic int cached = -1;
    int f = atomic_load_explicit(&cached, memory_order_relaxed);
    if (f >= 0) return f;
    f = 0;
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
        if (osxsave && avx) {
            uint64_t xcr0 = lk_xgetbv0();
            int ymm_ok = (xcr0 & 0x6) == 0x6;
            int zmm_ok = (xcr0 & 0xE6) == 0xE6;
            if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
                int avx2 = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
                int f512 = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
                int vnni = (c >> 11) & 1;
                if (ymm_ok && avx2 && bmi2) f |= 1;
                if (ymm_ok && zmm_ok && (f & 1) && f512 && dq && bw && vl) f |= 2;
                if ((f & 2) && vnni) f |= 4;
            }
        }
    }
    atomic_store_explicit(&cached, f, memory_order_relaxed);
    return f;
}

int lk_cpu_has_avx512vnni(void) { return (lk_x86_features() & 4) != 0; }
#endif

int lk_cpu_has_avx512vnni_public(void) {
#ifdef LK_X86
    return lk_cpu_has_avx512vnni();
#else
    return 0;
#endif
}

int lk_isa_supported(int isa) {
    switch (isa) {
    case LK_ISA_SCALAR: return 1;
#ifdef LK_X86
    case LK_ISA_AVX2: return (lk_x86_features() & 1) != 0;
    case LK_ISA_AVX512: return (lk_x86_features() & 2) != 0;
#endif
#ifdef LK_ARM64
    case LK_ISA_NEON: return 1;
#endif
    default: return 0;
    }
}

int lk_isa_best(void) {
    if (lk_isa_supported(LK_ISA_AVX512)) return LK_ISA_AVX512;
    if (lk_isa_supported(LK_ISA_AVX2)) return LK_ISA_AVX2;
    if (lk_isa_supported(LK_ISA_NEON)) return LK_ISA_NEON;
    return LK_ISA_SCALAR;
}

static const char *const lk_isa_names[LK_ISA_COUNT] = {"scalar", "avx2", "avx512", "neon"};

const char *lk_isa_name(int isa) { return (isa >= 0 && isa < LK_ISA_COUNT) ? lk_isa_names[isa] : NULL; }

int lk_isa_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < LK_ISA_COUNT; i++) if (strcmp(name, lk_isa_names[i]) == 0) return i;
    return -1;
}

/* ---- pool ----
 *
 * Jobs are split into chunks that threads claim from a shared counter, so a worker that the OS
 * has descheduled (a busy machine, more threads than cores) costs nothing: the caller claims the
 * remaining chunks itself and waits only for chunks already being run. The counter carries the
 * job's generation in its high half, so a late worker can never claim a chunk of a finished job.
 * Which thread runs which chunk never changes a result: chunks write disjoint outputs.
 */

struct lk_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t run_lock;      /* one job at a time */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t state;        /* generation << 32 | next chunk */
    _Atomic uint32_t done;         /* chunks finished in the current job */
    _Atomic uint32_t total;        /* chunks in the current job */
    _Atomic(lk_task_fn) fn;
    _Atomic(void *) ctx;
    _Atomic int stop;
    _Atomic int sleepers;
};

static inline void lk_cpu_relax(void) {
#ifdef LK_X86
    _mm_pause();
#elif defined(LK_ARM64)
    __asm__ volatile("yield");
#endif
}

static double lk_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Claims and runs chunks of the current job until none is left. */
static void lk_pool_drain(lk_pool *p) {
    for (;;) {
        uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
        uint32_t idx = (uint32_t)s;
        uint32_t total = atomic_load_explicit(&p->total, memory_order_relaxed);
        lk_task_fn fn = atomic_load_explicit(&p->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&p->ctx, memory_order_relaxed);
        if (idx >= total) return;
        if (!atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel, memory_order_relaxed))
            continue;
        fn(ctx, (int)idx, (int)total);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

static void *lk_worker_main(void *arg) {
    lk_pool *p = arg;
    uint64_t seen = 0;
    for (;;) {
        /* Wait for work: spin a while (jobs come in bursts), then sleep. */
        double start = lk_now();
        int spins = 0, slept = 0;
        for (;;) {
            if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return NULL;
            uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
            if ((s >> 32) != seen && (uint32_t)s < atomic_load_explicit(&p->total, memory_order_relaxed)) break;
            if ((s >> 32) != seen) seen = s >> 32;   /* a job we missed entirely */
            if (!slept) {
                lk_cpu_relax();
                if (++spins == 256) {
                    spins = 0;
                    if (lk_now() - start > 2e-4) slept = 1;
                }
            } else {
                pthread_mutex_lock(&p->mu);
                atomic_fetch_add(&p->sleepers, 1);
                uint64_t s2 = atomic_load(&p->state);
                if ((s2 >> 32) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv, &p->mu);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mu);
            }
        }
        seen = atomic_load_explicit(&p->state, memory_order_acquire) >> 32;
        lk_pool_drain(p);
    }
}

lk_pool *lk_pool_create(int threads) {
    if (threads < 1) threads = 1;
    lk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->run_lock, NULL);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tids = calloc((size_t)threads, sizeof(pthread_t));
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&p->tids[i], NULL, lk_worker_main, p) != 0) {
            p->threads = i;   /* run with the workers we have */
            break;
        }
    }
    return p;
}

void lk_pool_destroy(lk_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->threads; i++) pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->run_lock);
    free(p->tids);
    free(p);
}

int lk_pool_threads(const lk_pool *p) { return p ? p->threads : 1; }

void lk_pool_run(lk_pool *p, int chunks, lk_task_fn fn, void *ctx) {
    if (!p || p->threads <= 1 || chunks <= 1) {
        for (int i = 0; i < chunks; i++) fn(ctx, i, chunks);
        return;
    }
    pthread_mutex_lock(&p->run_lock);
    atomic_store_explicit(&p->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&p->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&p->total, (uint32_t)chunks, memory_order_relaxed);
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    uint64_t gen = (atomic_load_explicit(&p->state, memory_order_relaxed) >> 32) + 1;
    atomic_store_explicit(&p->state, gen << 32, memory_order_release);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    lk_pool_drain(p);
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) != (uint32_t)chunks) {
        lk_cpu_relax();
        if (++spins > 2048) sched_yield();
    }
    pthread_mutex_unlock(&p->run_lock);
}

typedef struct {
    lk_range_fn fn;
    const void *args;
    int64_t rows, align;
} lk_ranges_job;

static void lk_ranges_worker(void *p, int w, int n) {
    const lk_ranges_job *job = p;
    const int64_t units = (job->rows + job->align - 1) / job->align;
    int64_t r0 = units * w / n * job->align, r1 = units * (w + 1) / n * job->align;
    if (r1 > job->rows) r1 = job->rows;
    if (r0 < r1) job->fn(job->args, r0, r1);
}

void lk_pool_run_ranges(lk_pool *pool, int64_t rows, int64_t align, int split, lk_range_fn fn, const void *args) {
    int64_t chunks = split ? (rows + align - 1) / align : 1;
    if (chunks > lk_pool_threads(pool)) chunks = lk_pool_threads(pool);
    if (chunks <= 1) {
        fn(args, 0, rows);
        return;
    }
    lk_ranges_job job = {fn, args, rows, align};
    lk_pool_run(pool, (int)chunks, lk_ranges_worker, &job);
}
