/* test_ini.c: the INI reader fed from strings. Each event is recorded as one
 * line of text ("3 pair [sec] key=value"), so a case reads as the list of
 * events it must produce, in order, with their line numbers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "fixtures.h"

#define MAX_EVENTS 32

struct record {
    char *ev[MAX_EVENTS];
    size_t n;
    size_t stop_at;         /* return 7 from this event (1-based); 0 = never */
};

static int
on_event(void *ud, const struct nd_ini_event *ev)
{
    struct record *r = ud;
    const char *sec = ev->section && ev->section[0] ? ev->section : "-";
    char *s = NULL;
    int rc = -1;

    cr_assert_lt(r->n, MAX_EVENTS, "too many events");
    switch (ev->kind) {
    case ND_INI_SECTION:
        rc = asprintf(&s, "%d section [%s]", ev->line, ev->section);
        break;
    case ND_INI_PAIR:
        rc = asprintf(&s, "%d pair [%s] %s=%s", ev->line, sec, ev->key, ev->value);
        break;
    case ND_INI_ERROR:
        /* "error[h]": in a "[section]" line, whose keys are then orphans. */
        rc = asprintf(&s, "%d error%s %s", ev->line, ev->in_header ? "[h]" : "",
                      ev->value);
        break;
    }
    cr_assert_geq(rc, 0);
    r->ev[r->n++] = s;
    return r->stop_at == r->n ? 7 : 0;
}

static void
record_free(struct record *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        free(r->ev[i]);
    r->n = 0;
}

/* Parses text[0..len) and checks the events against want (NULL-terminated). */
static void
expect_len(const char *text, size_t len, const char *const *want)
{
    struct record r = { .n = 0 };
    size_t i, nwant = 0;

    while (want[nwant] != NULL)
        nwant++;
    cr_assert_eq(nd_ini_parse(text, len, on_event, &r), 0);
    for (i = 0; i < r.n && i < nwant; i++)
        cr_expect_str_eq(r.ev[i], want[i], "event %zu", i);
    for (; i < r.n; i++)
        cr_expect_fail("unexpected event %zu: %s", i, r.ev[i]);
    for (; i < nwant; i++)
        cr_expect_fail("missing event %zu: %s", i, want[i]);
    record_free(&r);
    nd_test_no_leaks();
}

static void
expect(const char *text, const char *const *want)
{
    expect_len(text, strlen(text), want);
}

#define EVENTS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_EVENTS ((const char *const[]){ NULL })

Test(ini, sections_and_pairs)
{
    expect("[alpha]\n"
           "a = 1\n"
           "b = two words\n"
           "[beta.2_x-y]\n"
           "c = 3\n",
           EVENTS("1 section [alpha]",
                  "2 pair [alpha] a=1",
                  "3 pair [alpha] b=two words",
                  "4 section [beta.2_x-y]",
                  "5 pair [beta.2_x-y] c=3"));
}

Test(ini, a_pair_before_any_section)
{
    expect("k = v\n[s]\n", EVENTS("1 pair [-] k=v", "2 section [s]"));
}

static int
section_is_null(void *ud, const struct nd_ini_event *ev)
{
    *(int *)ud = ev->section == NULL;
    return 0;
}

Test(ini, the_section_of_a_pair_outside_sections_is_null)
{
    int null = 0;

    cr_assert_eq(nd_ini_parse("k = v", 5, section_is_null, &null), 0);
    cr_assert(null);
}

Test(ini, names_and_values_are_trimmed)
{
    expect("  [ sec ]  \n"
           "\t key \t=\t value  with  inner  spaces \t\n"
           "empty =\n"
           "eq = a=b ; not a comment # either\n",
           EVENTS("1 section [sec]",
                  "2 pair [sec] key=value  with  inner  spaces",
                  "3 pair [sec] empty=",
                  "4 pair [sec] eq=a=b ; not a comment # either"));
}

Test(ini, comments_and_blank_lines_are_skipped_but_counted)
{
    expect("; semicolon comment\n"
           "# hash comment\n"
           "\n"
           "   ; indented comment\n"
           "\t# indented hash = not a pair\n"
           "   \t  \n"
           "[s]\n"
           "k = v\n",
           EVENTS("7 section [s]", "8 pair [s] k=v"));
}

Test(ini, crlf_line_endings)
{
    expect("[s]\r\n"
           "k = v\r\n"
           "\r\n"
           "; comment\r\n"
           "x=1\r\n",
           EVENTS("1 section [s]", "2 pair [s] k=v", "5 pair [s] x=1"));
}

Test(ini, last_line_without_newline)
{
    expect("[s]\nk = v", EVENTS("1 section [s]", "2 pair [s] k=v"));
    expect("[s]\r\nk = v\r", EVENTS("1 section [s]", "2 pair [s] k=v"));
    expect("[s]", EVENTS("1 section [s]"));
}

Test(ini, empty_input)
{
    expect("", NO_EVENTS);
    expect("\n\n\n", NO_EVENTS);
}

/* Each error names its own line, and reading goes on with the next one. */
Test(ini, missing_closing_bracket)
{
    expect("[s]\n[oops\n[t]\n",
           EVENTS("1 section [s]",
                  "2 error[h] missing ']' after section name",
                  "3 section [t]"));
}

Test(ini, text_after_closing_bracket)
{
    expect("\n[s] x\n[t]]\n[u] ; comment\n",
           EVENTS("2 error[h] text after ']'",
                  "3 error[h] text after ']'",
                  "4 error[h] text after ']'"));
}

Test(ini, empty_section_name)
{
    expect("[]\n[   ]\n[\t]\n",
           EVENTS("1 error[h] empty section name",
                  "2 error[h] empty section name",
                  "3 error[h] empty section name"));
}

Test(ini, bad_characters_in_section_name)
{
    expect("[a b]\n[a/b]\n[a=b]\n[ok]\n",
           EVENTS("1 error[h] section names use only letters, digits, '_', '-' and '.'",
                  "2 error[h] section names use only letters, digits, '_', '-' and '.'",
                  "3 error[h] section names use only letters, digits, '_', '-' and '.'",
                  "4 section [ok]"));
}

Test(ini, bad_characters_in_key)
{
    expect("[s]\na b = 1\nk! = 2\nk:x = 3\nok = 4\n",
           EVENTS("1 section [s]",
                  "2 error keys use only letters, digits, '_', '-' and '.'",
                  "3 error keys use only letters, digits, '_', '-' and '.'",
                  "4 error keys use only letters, digits, '_', '-' and '.'",
                  "5 pair [s] ok=4"));
}

Test(ini, line_without_equals)
{
    expect("[s]\njust some words\nk = v\n",
           EVENTS("1 section [s]",
                  "2 error expected 'key = value', '[section]' or a comment",
                  "3 pair [s] k=v"));
}

Test(ini, missing_key)
{
    expect("[s]\n= v\n  \t= \n",
           EVENTS("1 section [s]",
                  "2 error missing key before '='",
                  "3 error missing key before '='"));
}

Test(ini, nul_byte_in_a_line)
{
    static const char text[] = "[s]\nk = v\0w\nz = 1\n";

    expect_len(text, sizeof(text) - 1,
               EVENTS("1 section [s]",
                      "2 error NUL byte in line",
                      "3 pair [s] z=1"));
}

Test(ini, nul_byte_on_the_last_line)
{
    static const char text[] = "[s]\n\0";

    expect_len(text, sizeof(text) - 1,
               EVENTS("1 section [s]", "2 error NUL byte in line"));
}

/* "[s]\n" + a line of n bytes ("k = " and padding) + "\n" + "z = 1\n". */
static char *
long_line_text(size_t n, const char *eol)
{
    size_t len = 4 + n + strlen(eol) + 6;
    char *t = malloc(len + 1);

    cr_assert_not_null(t);
    memcpy(t, "[s]\n", 4);
    memcpy(t + 4, "k = ", 4);
    memset(t + 8, 'x', n - 4);
    strcpy(t + 4 + n, eol);
    strcat(t, "z = 1\n");
    return t;
}

Test(ini, line_of_4096_bytes_is_accepted)
{
    char *t = long_line_text(4096, "\r\n");
    struct record r = { .n = 0 };

    cr_assert_eq(nd_ini_parse(t, strlen(t), on_event, &r), 0);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(strncmp(r.ev[1], "2 pair [s] k=xxx", 16), 0, "%.40s", r.ev[1]);
    cr_assert_eq(strlen(r.ev[1]), strlen("2 pair [s] k=") + 4092);
    cr_assert_str_eq(r.ev[2], "3 pair [s] z=1");
    record_free(&r);
    free(t);
}

Test(ini, line_longer_than_4096_bytes)
{
    char *t = long_line_text(4097, "\n");

    expect(t, EVENTS("1 section [s]",
                     "2 error line longer than 4096 bytes",
                     "3 pair [s] z=1"));
    free(t);
}

Test(ini, very_long_last_line)
{
    size_t n = 100000;
    char *t = malloc(n + 1);

    cr_assert_not_null(t);
    memset(t, 'a', n);
    t[n] = '\0';
    t[0] = '\n';
    expect(t, EVENTS("2 error line longer than 4096 bytes"));
    free(t);
}

Test(ini, a_callback_can_stop_the_reading)
{
    static const char text[] = "[s]\na = 1\nb = 2\nc = 3\n";
    struct record r = { .stop_at = 2 };

    cr_assert_eq(nd_ini_parse(text, sizeof(text) - 1, on_event, &r), 7);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.ev[1], "2 pair [s] a=1");
    record_free(&r);
}

Test(ini, a_callback_can_stop_at_an_error)
{
    static const char text[] = "[s]\n[bad\nb = 2\n";
    struct record r = { .stop_at = 2 };

    cr_assert_eq(nd_ini_parse(text, sizeof(text) - 1, on_event, &r), 7);
    cr_assert_eq(r.n, 2);
    record_free(&r);
}
