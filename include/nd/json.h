/* json.h: writing JSON strings from arbitrary bytes, and base64. Pure.
 * Invalid UTF-8 is written as U+FFFD, one replacement per invalid byte, so
 * the output is always valid JSON (and valid UTF-8). */
#ifndef ND_JSON_H
#define ND_JSON_H

#include <stddef.h>

struct nd_buf;

/* Appends s[0..n) as a quoted JSON string. 0 or -ENOMEM. */
int nd_json_string(struct nd_buf **b, const char *s, size_t n);

/* Appends s[0..n) as standard base64 (with padding). 0 or -ENOMEM. */
int nd_base64(struct nd_buf **b, const char *s, size_t n);

/* The length of the valid UTF-8 sequence at s (1 to 4), or 0 if the bytes
 * at s do not start one (overlong forms and surrogates are invalid). */
size_t nd_utf8_valid(const unsigned char *s, size_t n);

#endif
