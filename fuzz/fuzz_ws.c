/* fuzz_ws.c: libFuzzer target for the WebSocket codec (ws.c). Frame
 * headers are parsed from arbitrary bytes, at every prefix, and what parses
 * is written back with nd_ws_put_header and must parse the same. The
 * incremental UTF-8 validator, fed the input split at a point the input
 * chooses, must agree with json.c's independent validator. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd/json.h"
#include "ws.h"

#include "check.h"


static int
whole_valid(const uint8_t *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        if ((k = nd_utf8_valid(s + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    struct ws_frame f, g;
    struct ws_utf8 u = { 0 };
    uint8_t h[16], copy[64];
    size_t i, cut;
    int rc, ok;
    char out[29];

    rc = nd_ws_parse_header(in, size, &f);
    check(rc == 0 || rc == 1 || rc == WS_CLOSE_PROTOCOL);
    if (rc == 1) {
        check(f.header_len == 6 || f.header_len == 8 || f.header_len == 14);
        check(f.header_len <= size && f.masked);
        check(f.opcode <= WS_BINARY || (f.opcode >= WS_CLOSE && f.opcode <= WS_PONG));
        check(f.opcode < WS_CLOSE || (f.fin && f.len <= 125));
        /* Every shorter prefix is "need more", never a different verdict. */
        for (i = 0; i < f.header_len; i++)
            check(nd_ws_parse_header(in, i, &g) == 0 || nd_ws_parse_header(in, i, &g) == rc);
        /* Written back, it parses the same. */
        i = nd_ws_put_header(h, f.fin, f.opcode, f.len);
        h[1] |= 0x80;
        memcpy(h + i, f.mask, 4);
        check(nd_ws_parse_header(h, i + 4, &g) == 1);
        check(g.fin == f.fin && g.opcode == f.opcode && g.len == f.len &&
              g.header_len == f.header_len && memcmp(g.mask, f.mask, 4) == 0);
        /* Unmasking twice at any split gives the bytes back. */
        cut = size - f.header_len < sizeof(copy) ? size - f.header_len : sizeof(copy);
        memcpy(copy, in + f.header_len, cut);
        nd_ws_unmask(copy, cut / 2, f.mask, 0);
        nd_ws_unmask(copy + cut / 2, cut - cut / 2, f.mask, cut / 2);
        nd_ws_unmask(copy, cut, f.mask, 0);
        check(memcmp(copy, in + f.header_len, cut) == 0);
    }

    /* UTF-8: split where the first byte says; agree with json.c. */
    cut = size ? in[0] % (size + 1) : 0;
    ok = nd_ws_utf8_feed(&u, in, cut) == 0 && nd_ws_utf8_feed(&u, in + cut, size - cut) == 0 &&
         nd_ws_utf8_complete(&u);
    check(ok == whole_valid(in, size));

    if (size == 24)
        (void)nd_ws_accept_key((const char *)in, size, out);
    return 0;
}
