/* test_suggest.c: the edit distance of two names (insertions, deletions,
 * substitutions, swaps of neighbours) and the nearest of several. */
#include <criterion/criterion.h>
#include <string.h>

#include "suggest.h"

static void
distance(const char *a, const char *b, size_t want)
{
    cr_expect_eq(nd_edit_distance(a, b), want, "'%s' '%s': %zu, want %zu", a, b,
                 nd_edit_distance(a, b), want);
    cr_expect_eq(nd_edit_distance(b, a), want, "'%s' '%s' reversed", a, b);
}

Test(suggest, distance)
{
    distance("", "", 0);
    distance("module", "module", 0);
    distance("", "abc", 3);
    distance("modle", "module", 1);         /* a letter left out */
    distance("moudle", "module", 1);        /* two neighbours swapped */
    distance("modulee", "module", 1);       /* one too many */
    distance("nodule", "module", 1);        /* one wrong */
    distance("kitten", "sitting", 3);
    distance("ca", "abc", 3);               /* no swap of an edited pair */
    distance("idle_timout", "idle_timeout", 1);
    distance("bogus", "buffer_size", 9);
}

static const char *
nearest(const char *word, const char *const *names)
{
    struct nd_suggest s;

    nd_suggest_init(&s, word);
    for (; *names != NULL; names++)
        nd_suggest_offer(&s, *names);
    return s.best;
}

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })

Test(suggest, nearest_within_two)
{
    const char *const *keys = NAMES("module", "listen", "idle_timeout", "buffer_size",
                                    "reuseport", "max_connections");

    cr_assert_str_eq(nearest("modle", keys), "module");
    cr_assert_str_eq(nearest("lisen", keys), "listen");
    cr_assert_str_eq(nearest("reuse_port", keys), "reuseport");
    cr_assert_str_eq(nearest("buffersize", keys), "buffer_size");
    cr_assert_str_eq(nearest("max_conections", keys), "max_connections");
    cr_assert_null(nearest("bogus", keys));
    cr_assert_null(nearest("timeout", keys));           /* 5 edits */
    cr_assert_null(nearest("mdl", keys));               /* 3 edits */
}

Test(suggest, nearest_wins_then_first)
{
    cr_assert_str_eq(nearest("htp", NAMES("echo", "time", "http")), "http");
    /* "tima" is 1 edit from time, 2 from tiny; "ab" is 1 from both: the first */
    cr_assert_str_eq(nearest("tima", NAMES("tiny", "time")), "time");
    cr_assert_str_eq(nearest("ab", NAMES("ac", "bb")), "ac");
}

Test(suggest, short_words_get_no_wild_guess)
{
    /* one letter is one edit from every one-letter name, and two from most
     * short ones: a suggestion needs fewer edits than the word has letters */
    cr_assert_null(nearest("x", NAMES("s", "m", "k")));
    cr_assert_null(nearest("ab", NAMES("cd", "xy")));
    cr_assert_str_eq(nearest("ab", NAMES("cd", "abc")), "abc");
    cr_assert_null(nearest("", NAMES("a")));
}
