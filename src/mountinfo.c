/* mountinfo.c: where a path really is. Under systemd's PrivateTmp= a unit's
 * /tmp is a directory of the host's bind-mounted over /tmp, so a socket the
 * unit creates as /tmp/x is, for everyone else, somewhere else. The log
 * says where, from /proc/self/mountinfo (proc(5)): the mount that holds
 * the path, and the directory of its filesystem mounted there. */
#include <stdio.h>
#include <string.h>

#include "mountinfo.h"

/* Copies a mountinfo path field, undoing its octal escapes (\040 for a
 * space), up to the next space. Returns the end of the field. */
static const char *
field(const char *p, const char *end, char *out, size_t outlen)
{
    size_t n = 0;

    while (p < end && *p != ' ' && *p != '\n') {
        char c = *p++;

        if (c == '\\' && end - p >= 3 && p[0] >= '0' && p[0] <= '3' &&
            p[1] >= '0' && p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
            c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
            p += 3;
        }
        if (n + 1 < outlen)
            out[n++] = c;
    }
    if (outlen > 0)
        out[n] = '\0';
    return p;
}

static const char *
skip(const char *p, const char *end, int fields)
{
    while (fields-- > 0) {
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        if (p < end && *p == ' ')
            p++;
    }
    return p;
}

/* Is mount point m a prefix of path, at a '/' boundary? */
static size_t
covers(const char *m, const char *path)
{
    size_t n = strlen(m);

    if (strcmp(m, "/") == 0)
        return 1;
    if (strncmp(m, path, n) == 0 && (path[n] == '/' || path[n] == '\0'))
        return n;
    return 0;
}

/* Reads the mount on the line at *p (its device, root and mount point)
 * and moves *p past the line. 0, or -1 at the end of the text. */
static int
next_mount(const char **p, const char *end, struct nd_mount *m)
{
    const char *q = *p, *eol;

    if (q >= end)
        return -1;
    eol = memchr(q, '\n', (size_t)(end - q));
    if (eol == NULL)
        eol = end;
    q = skip(q, eol, 2);
    q = field(q, eol, m->dev, sizeof(m->dev));
    q = skip(q, eol, 1);
    q = field(q, eol, m->root, sizeof(m->root));
    q = skip(q, eol, 1);
    field(q, eol, m->point, sizeof(m->point));
    *p = eol + 1;
    return 0;
}

int
nd_mount_find(const char *text, size_t len, const char *path, struct nd_mount *out)
{
    const char *p = text, *end = text + len;
    struct nd_mount m;
    size_t best = 0, n;

    while (next_mount(&p, end, &m) == 0) {
        /* A later mount on the same point hides an earlier one: >=. */
        if (m.point[0] == '/' && m.root[0] == '/' && (n = covers(m.point, path)) > 0 &&
            n >= best) {
            best = n;
            *out = m;
        }
    }
    return best > 0 ? 0 : -1;
}

int
nd_mount_outside(const char *text, size_t len, const char *path, char *out, size_t outlen)
{
    const char *p = text, *end = text + len;
    struct nd_mount m, w;
    const char *rest;

    if (path[0] != '/' || nd_mount_find(text, len, path, &m) < 0 ||
        strcmp(m.root, "/") == 0)
        return 0;
    rest = path + (strcmp(m.point, "/") == 0 ? 0 : strlen(m.point));
    /* The same filesystem mounted whole somewhere: the path from there. */
    while (next_mount(&p, end, &w) == 0) {
        if (strcmp(w.dev, m.dev) == 0 && strcmp(w.root, "/") == 0) {
            snprintf(out, outlen, "%s%s%s", strcmp(w.point, "/") == 0 ? "" : w.point,
                     m.root, rest);
            return 1;
        }
    }
    snprintf(out, outlen, "%s%s on device %s", m.root, rest, m.dev);
    return 1;
}
