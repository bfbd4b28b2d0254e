/* test_conf_key.c: nd_conf_set, a settings table (module.h) parsed into a
 * struct: each type with its storage, ranges, bad values and their
 * messages, unknown keys, strings replaced and freed, enum words; values in
 * a key's unit (nd_conf_format) and the hint for a comment after a value. */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf_key.h"
#include "nd/module.h"
#include "nd/util.h"

#include "fixtures.h"

struct conf {
    uint64_t count, size, wait, open_count, grace;
    int flag, level, color;
    char *dir;
};

static const char *const levels[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", NULL,
};
static const char *const colors[] = { "red", "green", "blue", NULL };

#define O(f) offsetof(struct conf, f)

static const struct nd_conf_key keys[] = {
    { "count",      ND_CONF_NUMBER,   O(count),      1, 1000, NULL },
    { "size",       ND_CONF_SIZE,     O(size),       1024, 1024 * 1024, NULL },
    { "wait",       ND_CONF_DURATION, O(wait),       0, 3600 * 1000, NULL },
    { "open_count", ND_CONF_NUMBER,   O(open_count), 0, 0, NULL },
    { "grace",      ND_CONF_DURATION, O(grace),      1500, 0, NULL },
    { "flag",       ND_CONF_BOOL,     O(flag),       0, 0, NULL },
    { "log_level",  ND_CONF_ENUM,     O(level),      3, 7, levels },
    { "color",      ND_CONF_ENUM,     O(color),      0, 0, colors },
    { "dir",        ND_CONF_STRING,   O(dir),        0, 0, NULL },
};

static int
set(struct conf *c, const char *key, const char *value, char *err, size_t errlen)
{
    return nd_conf_set(keys, ND_ARRAY_LEN(keys), c, key, value, err, errlen);
}

static void
good(struct conf *c, const char *key, const char *value)
{
    char err[256] = "";

    cr_assert_eq(set(c, key, value, err, sizeof(err)), 0, "%s = %s: %s", key, value, err);
}

/* The value is refused with exactly the message want; c is unchanged. */
static void
bad(const char *key, const char *value, const char *want)
{
    struct conf c, before;
    char err[256] = "";

    memset(&c, 0x5a, sizeof(c));
    c.dir = NULL;
    memcpy(&before, &c, sizeof(c));
    cr_assert_eq(set(&c, key, value, err, sizeof(err)), ND_CONF_BAD, "%s = %s", key, value);
    cr_assert_str_eq(err, want);
    cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0, "%s = %s changed the struct", key,
                 value);
}

Test(conf_key, number)
{
    struct conf c = { 0 };

    good(&c, "count", "1");
    cr_assert_eq(c.count, 1);
    good(&c, "count", "1000");
    cr_assert_eq(c.count, 1000);
    bad("count", "0", "count = 0 is out of range (1 to 1000)");
    bad("count", "1001", "count = 1001 is out of range (1 to 1000)");
    bad("count", "-1", "count: '-1' is not a number");
    bad("count", "1k", "count: '1k' is not a number");
    bad("count", "", "count: empty number");
}

Test(conf_key, number_without_upper_bound)
{
    struct conf c = { 0 };

    good(&c, "open_count", "0");
    good(&c, "open_count", "18446744073709551615");
    cr_assert_eq(c.open_count, UINT64_MAX);
    bad("open_count", "18446744073709551616", "open_count: '18446744073709551616' is too large");
}

Test(conf_key, size)
{
    struct conf c = { 0 };

    good(&c, "size", "64k");
    cr_assert_eq(c.size, 64 * 1024);
    good(&c, "size", "1m");
    cr_assert_eq(c.size, 1024 * 1024);
    good(&c, "size", "1024");
    cr_assert_eq(c.size, 1024);
    bad("size", "lots", "size: 'lots' is not a size");
    bad("size", "10", "size = 10 is out of range (1k to 1m)");
    bad("size", "1g", "size = 1g is out of range (1k to 1m)");
}

Test(conf_key, duration)
{
    struct conf c = { 0 };

    good(&c, "wait", "1500ms");
    cr_assert_eq(c.wait, 1500);
    good(&c, "wait", "5");
    cr_assert_eq(c.wait, 5000);
    good(&c, "wait", "1h");
    cr_assert_eq(c.wait, 3600 * 1000);
    good(&c, "wait", "0");
    cr_assert_eq(c.wait, 0);
    bad("wait", "soon", "wait: 'soon' is not a duration");
    bad("wait", "2h", "wait = 2h is out of range (0 to 1h)");
}

Test(conf_key, bool)
{
    struct conf c = { 0 };

    good(&c, "flag", "on");
    cr_assert_eq(c.flag, 1);
    good(&c, "flag", "no");
    cr_assert_eq(c.flag, 0);
    good(&c, "flag", "true");
    cr_assert_eq(c.flag, 1);
    good(&c, "flag", "0");
    cr_assert_eq(c.flag, 0);
    bad("flag", "maybe", "flag: 'maybe' is not a boolean (on/off, yes/no, true/false, 1/0)");
    bad("flag", "", "flag: '' is not a boolean (on/off, yes/no, true/false, 1/0)");
}

Test(conf_key, enum_index_is_the_word_position)
{
    struct conf c = { 0 };

    good(&c, "log_level", "err");
    cr_assert_eq(c.level, 3);
    good(&c, "log_level", "debug");
    cr_assert_eq(c.level, 7);
    good(&c, "color", "red");
    cr_assert_eq(c.color, 0);
    good(&c, "color", "blue");
    cr_assert_eq(c.color, 2);
}

Test(conf_key, enum_refuses_words_outside_its_range)
{
    bad("log_level", "crit", "log_level: unknown level 'crit' "
        "(err, warning, notice, info or debug)");
    bad("log_level", "emerg", "log_level: unknown level 'emerg' "
        "(err, warning, notice, info or debug)");
    bad("log_level", "loud", "log_level: unknown level 'loud' "
        "(err, warning, notice, info or debug)");
    bad("log_level", "DEBUG", "log_level: unknown level 'DEBUG' "
        "(err, warning, notice, info or debug)");
    /* a key without '_' names its values "value" */
    bad("color", "pink", "color: unknown value 'pink' (red, green or blue)");
    bad("color", "", "color: unknown value '' (red, green or blue)");
}

Test(conf_key, enum_message_is_cut_to_the_buffer)
{
    struct conf c = { 0 };
    char err[16];

    memset(err, 'x', sizeof(err));
    cr_assert_eq(set(&c, "color", "pink", err, sizeof(err)), ND_CONF_BAD);
    cr_assert_str_eq(err, "color: unknown ");
}

Test(conf_key, string_replaced_and_freed)
{
    struct conf c = { 0 };
    char value[] = "/srv/www";

    good(&c, "dir", value);
    cr_assert_str_eq(c.dir, "/srv/www");
    cr_assert_neq(c.dir, value, "the value is copied");
    value[1] = 'X';
    cr_assert_str_eq(c.dir, "/srv/www");
    good(&c, "dir", "/var/www");    /* the first copy is freed (ASan would see a leak) */
    cr_assert_str_eq(c.dir, "/var/www");
    free(c.dir);
    nd_test_no_leaks();
}

Test(conf_key, empty_string_is_refused_and_keeps_the_old_value)
{
    struct conf c = { 0 };
    char err[256] = "";

    good(&c, "dir", "/srv");
    cr_assert_eq(set(&c, "dir", "", err, sizeof(err)), ND_CONF_BAD);
    cr_assert_str_eq(err, "dir: empty value");
    cr_assert_str_eq(c.dir, "/srv");
    free(c.dir);
    nd_test_no_leaks();
}

Test(conf_key, unknown_key)
{
    struct conf c = { 0 };
    char err[256] = "untouched";

    cr_assert_eq(set(&c, "colour", "red", err, sizeof(err)), ND_CONF_UNKNOWN);
    cr_assert_eq(set(&c, "", "red", err, sizeof(err)), ND_CONF_UNKNOWN);
    cr_assert_eq(set(&c, "Count", "1", err, sizeof(err)), ND_CONF_UNKNOWN);
    cr_assert_str_eq(err, "untouched");
    cr_assert_eq(nd_conf_set(NULL, 0, &c, "count", "1", err, sizeof(err)),
                 ND_CONF_UNKNOWN);
}

/* ---- ranges in the key's own unit, and comments after a value ---- */

static void
formats(enum nd_conf_type t, uint64_t v, const char *want)
{
    char buf[32];

    nd_conf_format(t, v, buf, sizeof(buf));
    cr_expect_str_eq(buf, want, "%llu", (unsigned long long)v);
}

Test(conf_key, format_in_the_largest_exact_unit)
{
    formats(ND_CONF_DURATION, 0, "0");
    formats(ND_CONF_DURATION, 1, "1ms");
    formats(ND_CONF_DURATION, 1500, "1500ms");
    formats(ND_CONF_DURATION, 90 * 1000, "90s");
    formats(ND_CONF_DURATION, 5 * 60 * 1000, "5m");
    formats(ND_CONF_DURATION, 3600 * 1000, "1h");
    formats(ND_CONF_DURATION, 7 * 24 * 3600 * 1000ULL, "168h");
    formats(ND_CONF_SIZE, 0, "0");
    formats(ND_CONF_SIZE, 1000, "1000");
    formats(ND_CONF_SIZE, 1536, "1536");
    formats(ND_CONF_SIZE, 1024, "1k");
    formats(ND_CONF_SIZE, 64 * 1024 * 1024, "64m");
    formats(ND_CONF_SIZE, 3ULL << 30, "3g");
    formats(ND_CONF_NUMBER, 1000000, "1000000");
    formats(ND_CONF_NUMBER, 0, "0");
}

Test(conf_key, range_without_maximum)
{
    struct conf c = { 0 };

    good(&c, "grace", "2h");
    cr_assert_eq(c.grace, 2 * 3600 * 1000);
    bad("grace", "1s", "grace = 1s is out of range (at least 1500ms)");
}

#define HINT " (comments are whole lines: a line whose first non-blank character is ';' or '#')"

Test(conf_key, comment_after_a_value)
{
    bad("count", "8 ; eight", "count: '8 ; eight' is not a number" HINT);
    bad("size", "64k # small", "size: '64k # small': a size takes k, m or g" HINT);
    bad("wait", "5m\t; five", "wait: '5m\t; five': a duration takes ms, s, m or h" HINT);
    bad("flag", "on ; yes", "flag: 'on ; yes' is not a boolean "
        "(on/off, yes/no, true/false, 1/0)" HINT);
    bad("color", "red # warm", "color: unknown value 'red # warm' (red, green or blue)" HINT);
    /* no space before it: not a comment that was meant */
    bad("count", "8;", "count: '8;' is not a number");
    bad("count", "#8", "count: '#8' is not a number");
    cr_assert_str_eq(nd_conf_comment_hint("/srv/www ; docs"), HINT);
    cr_assert_str_eq(nd_conf_comment_hint("/srv/www;docs"), "");
}

/* The password of a URL, which -T and the messages mask. */
static void
url_password(const char *s, const char *want)
{
    size_t off = 0, len = 0;
    int found = nd_conf_url_password(s, &off, &len);

    if (want == NULL) {
        cr_assert_eq(found, 0, "%s: a password found", s);
        return;
    }
    cr_assert_eq(found, 1, "%s: no password found", s);
    cr_assert_eq(len, strlen(want), "%s: %zu bytes, wanted '%s'", s, len, want);
    cr_assert(strncmp(s + off, want, len) == 0, "%s: '%.*s', wanted '%s'", s, (int)len,
              s + off, want);
}

Test(conf_key, url_password)
{
    url_password("redis://app:s3cret@10.0.0.5:6379/2", "s3cret");
    url_password("redis://:pw@[::1]", "pw");
    url_password("redis://u:p%40ss@h", "p%40ss");
    url_password("redis://u:p@ss@h/0", "p@ss");         /* the last '@' ends it */
    url_password("redis://u:p?#x@h", "p?#x");           /* as redis_url.c reads it */
    url_password("redis://10.0.0.5:6379/0", NULL);      /* a port, not a password */
    url_password("redis://user@h", NULL);
    url_password("redis://u:@h", NULL);
    url_password("redis://h/a:b@c", NULL);              /* past the authority */
    url_password("redis+unix:/run/redis.sock", NULL);
    url_password("/srv/www", NULL);
    url_password("://u:p@h", NULL);
}
