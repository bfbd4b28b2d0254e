/* ini.c: the INI syntax, one line at a time. A line is blank, a comment
 * (first non-blank character ';' or '#'), "[name]" or "key = value".
 * Anything else is an error for that line, and reading goes on so that one
 * pass reports every mistake in the file. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"

#define LINE_MAX_LEN 4096

static int
is_name_char(int c)
{
    return isalnum(c) || c == '_' || c == '-' || c == '.';
}

static char *
trim(char *s, char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    return s;
}

static int
emit_error(nd_ini_fn *fn, void *ud, int line, const char *section,
           const char *reason)
{
    struct nd_ini_event ev = { ND_INI_ERROR, line, section, NULL, reason, 0 };

    return fn(ud, &ev);
}

static int
header_error(nd_ini_fn *fn, void *ud, int line, const char *section,
             const char *reason)
{
    struct nd_ini_event ev = { ND_INI_ERROR, line, section, NULL, reason, 1 };

    return fn(ud, &ev);
}

/* One line, NUL-terminated, without its newline. */
static int
parse_line(char *s, int line, char *section, nd_ini_fn *fn, void *ud)
{
    char *p, *eq, *key, *value, *send;
    struct nd_ini_event ev;

    s = trim(s, s + strlen(s));
    send = s + strlen(s);
    if (*s == '\0' || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        char *close = strchr(s, ']');
        char *name;

        if (close == NULL)
            return header_error(fn, ud, line, section, "missing ']' after section name");
        if (close[1] != '\0')
            return header_error(fn, ud, line, section, "text after ']'");
        name = trim(s + 1, close);
        if (*name == '\0')
            return header_error(fn, ud, line, section, "empty section name");
        for (p = name; *p; p++)
            if (!is_name_char((unsigned char)*p))
                return header_error(fn, ud, line, section,
                    "section names use only letters, digits, '_', '-' and '.'");
        if (strlen(name) > 64)
            return header_error(fn, ud, line, section,
                                "section names are at most 64 characters");
        strcpy(section, name);
        ev = (struct nd_ini_event){ ND_INI_SECTION, line, section, NULL, NULL, 0 };
        return fn(ud, &ev);
    }
    eq = strchr(s, '=');
    if (eq == NULL)
        return emit_error(fn, ud, line, section[0] ? section : NULL,
                          "expected 'key = value', '[section]' or a comment");
    value = trim(eq + 1, send);
    key = trim(s, eq);
    if (*key == '\0')
        return emit_error(fn, ud, line, section[0] ? section : NULL, "missing key before '='");
    for (p = key; *p; p++)
        if (!is_name_char((unsigned char)*p))
            return emit_error(fn, ud, line, section[0] ? section : NULL,
                "keys use only letters, digits, '_', '-' and '.'");
    ev = (struct nd_ini_event){ ND_INI_PAIR, line, section[0] ? section : NULL,
                                key, value, 0 };
    return fn(ud, &ev);
}

int
nd_ini_parse(const char *text, size_t len, nd_ini_fn *fn, void *ud)
{
    char buf[LINE_MAX_LEN + 1];
    char section[LINE_MAX_LEN + 1] = "";
    size_t i = 0;
    int line = 0, rc;

    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;

        line++;
        if (n > 0 && text[i + n - 1] == '\r')
            n--;
        if (n > LINE_MAX_LEN) {
            rc = emit_error(fn, ud, line, section[0] ? section : NULL,
                            "line longer than 4096 bytes");
        } else if (memchr(text + i, '\0', n) != NULL) {
            rc = emit_error(fn, ud, line, section[0] ? section : NULL,
                            "NUL byte in line");
        } else {
            memcpy(buf, text + i, n);
            buf[n] = '\0';
            rc = parse_line(buf, line, section, fn, ud);
        }
        if (rc != 0)
            return rc;
        i = nl ? (size_t)(nl - text) + 1 : len;
    }
    return 0;
}
