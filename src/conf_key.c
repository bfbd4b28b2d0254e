/* conf_key.c: nd_conf_set, one key of a settings table (module.h) parsed
 * into its struct: the same parser and the same messages for the core's
 * own keys (config.c) and for every module's. Ranges are written in the
 * key's unit, and a value with a comment after it says why it was refused.
 * Pure: addr.c's parsers only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_key.h"
#include "nd/addr.h"
#include "nd/module.h"

void
nd_conf_format(enum nd_conf_type t, uint64_t v, char *buf, size_t len)
{
    static const struct { char unit[3]; uint64_t n; } durations[] = {
        { "h", 3600 * 1000 }, { "m", 60 * 1000 }, { "s", 1000 },
    }, sizes[] = {
        { "g", 1ULL << 30 }, { "m", 1ULL << 20 }, { "k", 1ULL << 10 },
    };
    const char *unit = t == ND_CONF_DURATION ? "ms" : "";
    size_t i;

    if (v != 0 && (t == ND_CONF_DURATION || t == ND_CONF_SIZE)) {
        for (i = 0; i < 3; i++) {
            uint64_t n = t == ND_CONF_DURATION ? durations[i].n : sizes[i].n;

            if (v % n == 0) {
                snprintf(buf, len, "%llu%s", (unsigned long long)(v / n),
                         t == ND_CONF_DURATION ? durations[i].unit : sizes[i].unit);
                return;
            }
        }
    }
    snprintf(buf, len, "%llu%s", (unsigned long long)v, v == 0 ? "" : unit);
}

/* ini.c reads a comment only as a whole line: what follows a value is part
 * of it. */
const char *
nd_conf_comment_hint(const char *value)
{
    if (strstr(value, " ;") != NULL || strstr(value, "\t;") != NULL ||
        strstr(value, " #") != NULL || strstr(value, "\t#") != NULL)
        return " (comments are whole lines: a line whose first non-blank character "
               "is ';' or '#')";
    return "";
}

static void *
slot(void *conf, const struct nd_conf_key *k)
{
    return (char *)conf + k->offset;
}

/* "unknown level 'loud' (err, warning, notice, info or debug)": the noun is
 * the key's last word, the list the accepted words. */
static void
enum_error(const struct nd_conf_key *k, size_t first, size_t last, const char *value,
           char *err, size_t errlen)
{
    const char *noun = strrchr(k->name, '_');
    size_t used, i;
    int n;

    noun = noun != NULL && noun[1] != '\0' ? noun + 1 : "value";
    n = snprintf(err, errlen, "%s: unknown %s '%s' (", k->name, noun, value);
    used = n < 0 ? errlen : (size_t)n;
    for (i = first; i <= last && used < errlen; i++) {
        const char *sep = i == first ? "" : i == last ? " or " : ", ";

        n = snprintf(err + used, errlen - used, "%s%s", sep, k->words[i]);
        used = n < 0 ? errlen : used + (size_t)n;
    }
    if (used < errlen)
        snprintf(err + used, errlen - used, ")%s", nd_conf_comment_hint(value));
}

static int
set_enum(const struct nd_conf_key *k, void *conf, const char *value, char *err,
         size_t errlen)
{
    size_t nwords = 0, first = (size_t)k->min, last, i;

    while (k->words != NULL && k->words[nwords] != NULL)
        nwords++;
    last = k->max == 0 || k->max >= nwords ? nwords - 1 : (size_t)k->max;
    if (nwords == 0 || first > last) {
        snprintf(err, errlen, "%s: no value is accepted", k->name);
        return ND_CONF_BAD;
    }
    for (i = first; i <= last; i++) {
        if (strcmp(value, k->words[i]) == 0) {
            *(int *)slot(conf, k) = (int)i;
            return 0;
        }
    }
    enum_error(k, first, last, value, err, errlen);
    return ND_CONF_BAD;
}

static int
set_string(const struct nd_conf_key *k, void *conf, const char *value, char *err,
           size_t errlen)
{
    char **p = slot(conf, k), *s;

    if (value[0] == '\0') {
        snprintf(err, errlen, "%s: empty value", k->name);
        return ND_CONF_BAD;
    }
    s = strdup(value);
    if (s == NULL) {
        snprintf(err, errlen, "%s: out of memory", k->name);
        return ND_CONF_BAD;
    }
    free(*p);
    *p = s;
    return 0;
}

int
nd_conf_url_password(const char *s, size_t *off, size_t *len)
{
    const char *p = strstr(s, "://"), *end, *at, *colon;

    if (p == NULL || p == s)
        return 0;
    p += 3;
    end = p + strcspn(p, "/");
    at = memchr(p, '@', (size_t)(end - p));
    if (at == NULL)
        return 0;
    /* the last '@' of the authority ends the user part: a password may
     * hold one unescaped */
    while ((colon = memchr(at + 1, '@', (size_t)(end - at - 1))) != NULL)
        at = colon;
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL || colon + 1 == at)
        return 0;
    *off = (size_t)(colon + 1 - s);
    *len = (size_t)(at - colon - 1);
    return 1;
}

int
nd_conf_set(const struct nd_conf_key *keys, size_t n, void *conf, const char *key,
            const char *value, char *err, size_t errlen)
{
    const struct nd_conf_key *k = NULL;
    char why[256];
    uint64_t v = 0;
    size_t i;
    int rc, b;

    for (i = 0; i < n && k == NULL; i++)
        if (strcmp(keys[i].name, key) == 0)
            k = &keys[i];
    if (k == NULL)
        return ND_CONF_UNKNOWN;

    switch (k->type) {
    case ND_CONF_STRING:
    case ND_CONF_SECRET:
        return set_string(k, conf, value, err, errlen);
    case ND_CONF_ENUM:
        return set_enum(k, conf, value, err, errlen);
    case ND_CONF_BOOL:
        if (nd_parse_bool(value, &b, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: %s%s", k->name, why, nd_conf_comment_hint(value));
            return ND_CONF_BAD;
        }
        *(int *)slot(conf, k) = b;
        return 0;
    case ND_CONF_NUMBER:
    case ND_CONF_SIZE:
    case ND_CONF_DURATION:
        break;
    default:
        snprintf(err, errlen, "%s: bad key type", k->name);
        return ND_CONF_BAD;
    }
    rc = nd_parse_value(k->type == ND_CONF_NUMBER ? ND_VAL_COUNT :
                        k->type == ND_CONF_SIZE ? ND_VAL_SIZE : ND_VAL_DURATION,
                        value, k->min, k->max == 0 ? UINT64_MAX : k->max, &v, why,
                        sizeof(why));
    if (rc == -2) {
        /* "key = value is out of range (1k to 64m)", in the key's unit */
        char lo[32], hi[32];

        nd_conf_format(k->type, k->min, lo, sizeof(lo));
        nd_conf_format(k->type, k->max, hi, sizeof(hi));
        if (k->max == 0)
            snprintf(err, errlen, "%s = %s is out of range (at least %s)", k->name, value,
                     lo);
        else
            snprintf(err, errlen, "%s = %s is out of range (%s to %s)", k->name, value,
                     lo, hi);
        return ND_CONF_BAD;
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s%s", k->name, why, nd_conf_comment_hint(value));
        return ND_CONF_BAD;
    }
    *(uint64_t *)slot(conf, k) = v;
    return 0;
}
