/* access_fmt.h: the access log's lines, formatted (pure: no clock, no fd).
 * log.c adds the prefix (journal priority or timestamp) and writes them. */
#ifndef ND_ACCESS_FMT_H
#define ND_ACCESS_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "nd/log.h"

/* The longest line the formatters write, newline included: every field is
 * cut to its own bound (a cut field ends in "..."). */
#define ND_ACCESS_LINE_MAX 6144

/* Escapes s[0..n) into dst[0..cap) and returns the bytes written. Bytes
 * from '!' to '~' are kept, except '"' and '\\'; those two, controls, DEL,
 * bytes >= 0x80 and (unless in_quotes) the space become \xHH (lower-case
 * hex), so a field can neither split a line nor end its quotes or field
 * early. When the whole does not fit, as many whole characters as leave
 * room for "..." are written, then "...". cap must be at least 3. */
size_t nd_access_escape(char *dst, size_t cap, const char *s, size_t n, int in_quotes);

/* "2026-12-02T23:10:05.123Z" (24 bytes, no NUL) into dst, UTC. */
void nd_access_iso8601(char dst[24], time_t sec, unsigned ms);

/* One line each, ending in '\n', into dst[0..ND_ACCESS_LINE_MAX); returns
 * its length:
 *   http SERVICE CLIENT "METHOD TARGET" STATUS BYTES DURATION_US REQID
 *   KIND SERVICE PEER in=N out=N duration_us=N
 * An absent string (NULL) and a status of 0 are written "-"; without a
 * method, the quotes hold the target alone (a malformed request's line). */
size_t nd_access_format_http(char *dst, const struct nd_access_http *r);
size_t nd_access_format_conn(char *dst, const struct nd_access_conn *r);

#endif
