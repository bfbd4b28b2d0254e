/* ini.h: a small INI reader. It reports each section header, each
 * key = value line and each syntax error, with its line number, to a
 * callback; it keeps no state between calls and can read a string, so tests
 * need no files. Meaning (known keys, duplicates) is the caller's business. */
#ifndef ND_INI_H
#define ND_INI_H

#include <stddef.h>

enum nd_ini_kind {
    ND_INI_SECTION,     /* section holds the new name */
    ND_INI_PAIR,        /* key and value, trimmed; section is the current one or NULL */
    ND_INI_ERROR,       /* value holds a reason */
};

struct nd_ini_event {
    enum nd_ini_kind kind;
    int line;
    const char *section;
    const char *key;
    const char *value;
    int in_header;      /* an ND_INI_ERROR in a "[section]" line */
};

/* Return non-zero from the callback to stop reading; nd_ini_parse returns it. */
typedef int nd_ini_fn(void *ud, const struct nd_ini_event *ev);

int nd_ini_parse(const char *text, size_t len, nd_ini_fn *fn, void *ud);

#endif
