/* http_path.h: from a request target to a clean path. Pure. */
#ifndef ND_HTTP_PATH_H
#define ND_HTTP_PATH_H

#include <stddef.h>

/* Takes the path of a request target (origin-form "/a/b?q" or absolute-form
 * "http://host/a/b?q"), percent-decodes it and removes dot segments
 * (RFC 3986 5.2.4) into out (size outlen, NUL-terminated; the result always
 * starts with '/'). Refuses, returning -1 with *why set: malformed
 * percent-encoding, an encoded NUL or '/', control bytes, a path that climbs
 * above '/', userinfo in an absolute-form target, a target of any other
 * form, a result that does not fit.
 * On success returns the length, and *query points after '?' in target (or
 * is NULL). */
int nd_http_path_clean(const char *target, size_t len, char *out, size_t outlen,
                    const char **query, const char **why);

/* True when t[0..len) is an authority-form target (RFC 9112 3.2.3): a host
 * (reg-name, IPv4 or a bracketed IPv6 literal), ':' and a port of one to
 * five digits; no userinfo, path or query. */
int nd_http_authority_form(const char *t, size_t len);

/* Finds the index-th (0-based) parameter called name in a query string
 * ("a=1&b=2&a=3"), percent-decoding its value ('+' is a space) into out,
 * NUL-terminated. Returns the value's length, -1 if there is no such
 * parameter, -2 if its encoding is malformed or it does not fit. */
int nd_http_query_get(const char *query, size_t len, const char *name, size_t index,
                   char *out, size_t outlen);

#endif
