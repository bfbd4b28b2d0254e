/* suggest.c: the edit distance between two names, and the nearest of
 * several, for "did you mean ...?" in configuration errors. */
#include <string.h>

#include "suggest.h"

#define NAME_MAX_CMP 64

static size_t
min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;

    return m < c ? m : c;
}

/* Three rows of the usual table: the one two back is needed for a swap. */
size_t
nd_edit_distance(const char *a, const char *b)
{
    size_t rows[3][NAME_MAX_CMP + 1];
    size_t la = strnlen(a, NAME_MAX_CMP), lb = strnlen(b, NAME_MAX_CMP), i, j;
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2], *t;

    for (j = 0; j <= lb; j++)
        prev[j] = j;
    for (i = 1; i <= la; i++) {
        cur[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];

            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

void
nd_suggest_init(struct nd_suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->dist = ND_SUGGEST_MAX + 1;
}

void
nd_suggest_offer(struct nd_suggest *s, const char *candidate)
{
    size_t d = nd_edit_distance(s->word, candidate);

    if (d < s->dist && d < strlen(s->word) && d > 0) {
        s->best = candidate;
        s->dist = d;
    }
}
