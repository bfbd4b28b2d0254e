/* ws.h: the WebSocket wire format (RFC 6455) as a pure codec: frame
 * headers in and out, unmasking, UTF-8 validation that can be fed a message
 * in pieces, and the handshake's accept key. No fds, no allocation. */
#ifndef ND_WS_H
#define ND_WS_H

#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
    WS_CONT = 0x0,
    WS_TEXT = 0x1,
    WS_BINARY = 0x2,
    WS_CLOSE = 0x8,
    WS_PING = 0x9,
    WS_PONG = 0xa,
};

/* Close codes netdemo sends. */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_TRY_LATER 1013

struct ws_frame {
    int fin;
    int opcode;
    int masked;
    uint8_t mask[4];
    uint64_t len;               /* payload length */
    size_t header_len;          /* bytes of header before the payload */
};

/* Parses the frame header at buf[0..len), as sent by a client (which must
 * mask). Returns 1 when the header is complete, 0 when more bytes are
 * needed, or WS_CLOSE_PROTOCOL for a header RFC 6455 forbids: reserved bits
 * (no extension is negotiated), an unknown opcode, an unmasked frame, a
 * control frame that is fragmented or longer than 125 bytes, a length not
 * in its shortest form or with the top bit set. */
int nd_ws_parse_header(const uint8_t *buf, size_t len, struct ws_frame *f);

/* XORs data with the mask, data being the payload bytes from offset on. */
void nd_ws_unmask(uint8_t *data, size_t n, const uint8_t mask[4], uint64_t offset);

/* Writes an unmasked server frame header for a payload of len bytes into
 * out (at least 10 bytes). Returns the header's length. */
size_t nd_ws_put_header(uint8_t *out, int fin, int opcode, uint64_t len);

/* Incremental UTF-8 validation: zero it, feed it the pieces of a message,
 * then ask whether it ended on a character boundary. */
struct ws_utf8 {
    uint32_t need;              /* continuation bytes still expected */
    uint32_t cp;                /* the code point so far */
    uint32_t min;               /* smallest code point for this length */
};

/* Returns 0, or -1 at the first byte that makes the text invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
int nd_ws_utf8_feed(struct ws_utf8 *u, const uint8_t *s, size_t n);

/* True when the bytes fed so far end on a whole character. */
int nd_ws_utf8_complete(const struct ws_utf8 *u);

/* Whether a close code received from a peer is one it may send. */
int nd_ws_close_code_valid(unsigned code);

/* The Sec-WebSocket-Accept value for a Sec-WebSocket-Key: base64 of the
 * SHA-1 of the key and the RFC's GUID. out gets 28 characters and a NUL.
 * Returns -1 if the key is not 24 base64 characters naming 16 bytes. */
int nd_ws_accept_key(const char *key, size_t len, char out[29]);

/* SHA-1 (FIPS 180-4), for the handshake only. */
void nd_ws_sha1(const void *data, size_t len, uint8_t digest[20]);

#endif
