/* mod_daytime.c: the daytime service (RFC 867). A stream gets the local
 * date and time as one line, then the connection closes; a datagram is
 * answered with the same line. The format is xinetd's,
 * "%d %b %Y %H:%M:%S %Z" and CRLF: "05 Mar 2025 14:07:09 CET". */
#include <time.h>

#include "nd/buf.h"
#include "nd/module.h"

static size_t
daytime_line(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;

    if (localtime_r(&now, &tm) == NULL)
        return 0;
    return strftime(buf, size, "%d %b %Y %H:%M:%S %Z\r\n", &tm);
}

static enum nd_verdict
daytime_open(struct nd_conn *c)
{
    char line[128];
    size_t n = daytime_line(line, sizeof(line));

    if (n == 0 || nd_conn_write(c, line, n) < 0)
        return ND_ABORT;
    return ND_FINISH;
}

/* Not called (the connection finishes in open), but the core reads with it. */
static enum nd_verdict
daytime_input(struct nd_conn *c, struct nd_buf *in)
{
    (void)c;
    nd_buf_consume(in, nd_buf_len(in));
    return ND_KEEP;
}

static void
daytime_datagram(const struct nd_dgram *d)
{
    char line[128];
    size_t n = daytime_line(line, sizeof(line));

    if (n > 0)
        nd_dgram_reply(d, line, n);
}

const struct nd_module nd_mod_daytime = {
    .name = "daytime",
    .transports = ND_MOD_STREAM | ND_MOD_DGRAM,
    .open = daytime_open,
    .input = daytime_input,
    .datagram = daytime_datagram,
};
