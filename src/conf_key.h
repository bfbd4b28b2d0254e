/* conf_key.h: what the core's configuration reader shares with
 * nd_conf_set (module.h): values written in a key's own unit, and the hint
 * for a comment written after a value. */
#ifndef ND_CONF_KEY_H
#define ND_CONF_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "nd/module.h"

/* v in the unit of type t, as the file would say it: a DURATION (ms) in the
 * largest unit it is a whole number of (1500ms, 10s, 5m, 168h), a SIZE
 * likewise in g, m or k (64k, 1m) or in bytes, 0 and a NUMBER plain. */
void nd_conf_format(enum nd_conf_type t, uint64_t v, char *buf, size_t len);

/* For a value that was refused: when it holds " ;" or " #" (a comment after
 * the value, which INI does not have here), the words to add to the error,
 * starting with a space; "" otherwise. */
const char *nd_conf_comment_hint(const char *value);

/* What the configuration dump (-T) and messages print instead of a
 * password. */
#define ND_CONF_MASK "********"

/* When s is a URL with a password (SCHEME://USER:PASSWORD@HOST..., USER may
 * be empty), 1 with s[*off, *off + *len) the password; 0 otherwise. */
int nd_conf_url_password(const char *s, size_t *off, size_t *len);

#endif
