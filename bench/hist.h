/* hist.h: the load generators' latency histogram, in microseconds: 1 us
 * steps below 1024 us, then 512 steps per power of two (0.2% precision)
 * up to 2^31 us. Fixed size, so a run of any length takes no more memory.
 * Header-only: each bench program is one file. */
#ifndef ND_BENCH_HIST_H
#define ND_BENCH_HIST_H

#include <stddef.h>
#include <stdint.h>

#define HIST_SUB 512
#define HIST_SIZE (1024 + 22 * HIST_SUB)

static inline void
hist_add(uint64_t *h, uint64_t us)
{
    size_t idx;

    if (us < 1024) {
        idx = (size_t)us;
    } else {
        int e = 63 - __builtin_clzll(us);           /* 10.. */
        if (e > 31)
            e = 31, us = (1ull << 32) - 1;
        idx = 1024 + (size_t)(e - 10) * HIST_SUB + (size_t)((us >> (e - 9)) - HIST_SUB);
    }
    h[idx]++;
}

/* The lower bound of bucket idx, in us. */
static inline double
hist_value(size_t idx)
{
    if (idx < 1024)
        return (double)idx;
    size_t e = (idx - 1024) / HIST_SUB + 10, sub = (idx - 1024) % HIST_SUB + HIST_SUB;
    return (double)(sub << (e - 9));
}

/* The p quantile (0.5, 0.99) of total samples in h; 0 with none. */
static inline double
hist_pct(const uint64_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)((double)total * p + 0.999999), seen = 0;

    if (total == 0)
        return 0;
    for (size_t i = 0; i < HIST_SIZE; i++) {
        seen += h[i];
        if (seen >= want)
            return hist_value(i);
    }
    return hist_value(HIST_SIZE - 1);
}

#endif
