/* mountinfo.h: which mount holds a path, from the text of
 * /proc/self/mountinfo (proc(5)); pure, for the log's "where is this
 * socket really" (a unit's private /tmp). */
#ifndef ND_MOUNTINFO_H
#define ND_MOUNTINFO_H

#include <stddef.h>

struct nd_mount {
    char dev[32];       /* "8:1": major:minor of its filesystem */
    char root[256];     /* the directory of that filesystem mounted here */
    char point[256];    /* where it is mounted, in this mount namespace */
};

/* The mount holding the absolute path: the longest mount point above it
 * (the last one, where mounts are stacked). 0, or -1 if none. */
int nd_mount_find(const char *text, size_t len, const char *path, struct nd_mount *m);

/* If path lies in a mount of a subdirectory (root not "/"), writes where
 * the file is for processes outside this mount namespace, and returns 1:
 * through a whole mount of the same filesystem ("/tmp/systemd-private-
 * ...-netdemo@echo.service-.../tmp/x"), else "ROOT/REST on device M:N".
 * Returns 0 when the path is where it says. */
int nd_mount_outside(const char *text, size_t len, const char *path, char *out,
                     size_t outlen);

#endif
