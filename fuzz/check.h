/* check.h: what the fuzz targets assert. An invariant that fails aborts,
 * which libFuzzer reports as a crash with the input that caused it. */
#ifndef ND_FUZZ_CHECK_H
#define ND_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define check(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__,  \
                    __LINE__);                                                  \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
