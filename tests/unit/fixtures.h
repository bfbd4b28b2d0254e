/* fixtures.h: what more than one unit test file uses.
 *
 * A leak as a test failure. LeakSanitizer reports leaks when
 * a process exits, but by then Criterion has counted the test as passed (a
 * report, or even a crash, in .fini does not change that either). So tests
 * call nd_test_no_leaks() in their body once they have freed what they
 * allocated: anything no longer reachable then fails the test. Without
 * -fsanitize=address the LeakSanitizer entry point is absent and this does
 * nothing. */
#ifndef ND_TEST_FIXTURES_H
#define ND_TEST_FIXTURES_H

#include <criterion/criterion.h>

/* From <sanitizer/lsan_interface.h>, declared weak so the plain build links. */
int __lsan_do_recoverable_leak_check(void) __attribute__((weak));

static inline void
nd_test_no_leaks(void)
{
    if (__lsan_do_recoverable_leak_check != NULL)
        cr_assert_eq(__lsan_do_recoverable_leak_check(), 0,
                     "memory leaked: see the LeakSanitizer report above");
}

#endif
