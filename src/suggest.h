/* suggest.h: "did you mean ...?" for a mistyped name: the nearest of a
 * set of known names by edit distance. Pure. */
#ifndef ND_SUGGEST_H
#define ND_SUGGEST_H

#include <stddef.h>

/* The farthest a known name may be from the typed one to be suggested. */
#define ND_SUGGEST_MAX 2

/* The number of single-character insertions, deletions, substitutions and
 * swaps of two neighbours that turn a into b (the optimal string alignment
 * form of the Damerau-Levenshtein distance). Names longer than 64 bytes are
 * compared on their first 64. */
size_t nd_edit_distance(const char *a, const char *b);

/* The nearest candidate seen so far: init with the typed word, offer each
 * known name, then best is the one to suggest, or NULL. A candidate is
 * taken within ND_SUGGEST_MAX edits, and only when fewer edits than the
 * typed word has characters (so "x" suggests nothing); on a tie the first
 * offered stays. */
struct nd_suggest {
    const char *word;
    const char *best;
    size_t dist;
};

void nd_suggest_init(struct nd_suggest *s, const char *word);
void nd_suggest_offer(struct nd_suggest *s, const char *candidate);

#endif
