/*
 * A per-thread table of RoPE angles by position.
 *
 * A forward pass rotates the same positions in every layer, twice (queries and keys), and each
 * row's angles cost `pairs` evaluations of the contract's sinCos (§3.4, §3.7.5): 60 rotations of
 * the same 140 positions in a replay of SmolLM2-135M, about 1% of its time. Each thread keeps the
 * angles of the positions it has rotated, for one set of inverse frequencies (compared bit for
 * bit on every call; another set starts the table afresh), so a position's angles are computed
 * once per thread. The stored values are the very floats `lk_rope_angles` writes. The table is
 * kept in the thread's scratch record (scratch.c), which frees it when the thread exits.
 */
#include "lk_internal.h"
#include <stdlib.h>

/* The most bytes of angles one thread keeps (positions beyond are computed on each call). */
#define LK_ROPE_TABLE_BYTES ((int64_t)8 << 20)
#define LK_ROPE_TABLE_MAX_PAIRS 256

struct lk_rope_table {
    int64_t pairs;                         /* 0: empty */
    double inv_freq[LK_ROPE_TABLE_MAX_PAIRS];
    int64_t capacity;                      /* positions 0 … capacity − 1 */
    float *angles;                         /* capacity × 2·pairs: cos, then sin */
    uint8_t *have;                         /* capacity: whether the position's angles are in */
};

void lk_rope_table_free(lk_rope_table *t) {
    if (!t) return;
    free(t->angles);
    free(t->have);
    free(t);
}

/* This thread's table for these frequencies, holding at least `position` + 1 positions; NULL when
   it cannot (too many pairs, too far a position, no memory): the caller computes the angles. */
static lk_rope_table *lk_rope_table_for(const double *inv_freq, int64_t pairs, int64_t position) {
    if (pairs <= 0 || pairs > LK_ROPE_TABLE_MAX_PAIRS || position < 0) return NULL;
    const int64_t most = LK_ROPE_TABLE_BYTES / (8 * pairs);
    if (position >= most) return NULL;
    lk_rope_table **slot = lk_thread_rope_table();
    if (!*slot && !(*slot = calloc(1, sizeof **slot))) return NULL;
    lk_rope_table *t = *slot;
    if (t->pairs != pairs || memcmp(t->inv_freq, inv_freq, (size_t)pairs * sizeof(double)) != 0) {
        t->pairs = pairs;
        memcpy(t->inv_freq, inv_freq, (size_t)pairs * sizeof(double));
        free(t->angles);
        free(t->have);
        t->angles = NULL;
        t->have = NULL;
        t->capacity = 0;
    }
    if (position >= t->capacity) {
        int64_t capacity = t->capacity * 2 > position + 1 ? t->capacity * 2 : position + 1;
        if (capacity < 256) capacity = 256;
        if (capacity > most) capacity = most;
        float *angles = realloc(t->angles, (size_t)(capacity * 2 * pairs) * sizeof(float));
        if (!angles) return NULL;
        t->angles = angles;
        uint8_t *have = realloc(t->have, (size_t)capacity);
        if (!have) return NULL;
        memset(have + t->capacity, 0, (size_t)(capacity - t->capacity));
        t->have = have;
        t->capacity = capacity;
    }
    return t;
}

const float *lk_rope_row_angles(const double *inv_freq, int64_t pairs, int64_t position, float *buffer) {
    lk_rope_table *t = lk_rope_table_for(inv_freq, pairs, position);
    if (!t) {
        lk_rope_angles(inv_freq, pairs, position, buffer, buffer + pairs);
        return buffer;
    }
    float *row = t->angles + position * 2 * pairs;
    if (!t->have[position]) {
        lk_rope_angles(inv_freq, pairs, position, row, row + pairs);
        t->have[position] = 1;
    }
    return row;
}
