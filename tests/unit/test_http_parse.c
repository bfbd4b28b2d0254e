/* test_http_parse.c: nd_http_parse_request on a table of valid and invalid
 * heads, each fed whole, one byte at a time with one struct http_scan (as the
 * module does), and split at every offset into two calls. Every call gets a
 * copy of exactly the bytes it is given, so ASan sees any read past them. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

static const struct http_limits lim_default = { 8192, 16384, 100 };
/* Small enough to reach each limit with a short request. */
static const struct http_limits lim_small = { 32, 64, 3 };

struct hcase {
    const char *what;
    const char *req;
    size_t len;
    const struct http_limits *lim;  /* NULL: lim_default */
    int result;                     /* 1, or the status */
    size_t err_at;                  /* the prefix at which the error shows (0: any) */
    enum http_method method;
    const char *mname;              /* the method token, for HTTP_OTHER */
    const char *target;
    int minor;
    int keep_alive;
    enum http_body body;
    uint64_t length;
    const char *host;               /* NULL: no Host field */
    size_t nheaders;
    const char *hname, *hvalue;     /* fields to look up (lower-case names) */
    const char *hname2, *hvalue2;
};

#define REQ(s) .req = (s), .len = sizeof(s) - 1
#define H11 " HTTP/1.1\r\nHost: a\r\n"
#define BAD(w, s, st) { .what = (w), REQ(s), .result = (st) }

static const struct hcase cases[] = {
    /* ---- valid ---- */
    { "simple GET", REQ("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
      .host = "example.com", .nheaders = 1, .hname = "host", .hvalue = "example.com" },
    { "HEAD with several fields",
      REQ("HEAD /index.html HTTP/1.1\r\nHost: a\r\nUser-Agent: t/1.0\r\nAccept: */*\r\n\r\n"),
      .result = 1, .method = HTTP_HEAD, .target = "/index.html", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 3, .hname = "user-agent", .hvalue = "t/1.0",
      .hname2 = "accept", .hvalue2 = "*/*" },
    { "POST with Content-Length",
      REQ("POST /form HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/form", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 11, .host = "a", .nheaders = 3,
      .hname = "content-type", .hvalue = "text/plain", .hname2 = "content-length", .hvalue2 = "11" },
    { "POST chunked", REQ("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/up", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_CHUNKED, .host = "a", .nheaders = 2,
      .hname = "transfer-encoding", .hvalue = "chunked" },
    { "chunked in any case, with OWS",
      REQ("PUT /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding:  CHunKED \t\r\n\r\n"),
      .result = 1, .method = HTTP_PUT, .target = "/x", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_CHUNKED, .host = "a", .nheaders = 2,
      .hname = "transfer-encoding", .hvalue = "CHunKED" },
    { "Transfer-Encoding with an empty list element",
      REQ("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/x", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_CHUNKED, .host = "a", .nheaders = 2 },
    { "unknown method token", REQ("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_OTHER, .mname = "BREW", .target = "/pot", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 1 },
    { "method with every tchar punctuation",
      REQ("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_OTHER, .mname = "!#$%&'*+-.^_`|~09azAZ", .target = "/", .minor = 1,
      .keep_alive = 1, .host = "a", .nheaders = 1 },
    { "methods are case-sensitive", REQ("get / HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_OTHER, .mname = "get", .target = "/", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 1 },
    { "a known method's prefix is not that method", REQ("GETS / HTTP/1.1\r\nHost: a\r\n\r\n"),
      .result = 1, .method = HTTP_OTHER, .mname = "GETS", .target = "/", .minor = 1,
      .keep_alive = 1, .host = "a", .nheaders = 1 },
    { "DELETE", REQ("DELETE /r/1 HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_DELETE, .target = "/r/1", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 1 },
    { "PATCH", REQ("PATCH /r/1 HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_PATCH, .target = "/r/1", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 1 },
    { "TRACE", REQ("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_TRACE, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 1 },
    { "CONNECT authority-form",
      REQ("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"), .result = 1,
      .method = HTTP_CONNECT, .target = "example.com:443", .minor = 1, .keep_alive = 1,
      .host = "example.com:443", .nheaders = 1 },
    { "absolute-form target",
      REQ("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "http://example.com/a?b=c", .minor = 1, .keep_alive = 1,
      .host = "example.com", .nheaders = 1 },
    { "OPTIONS *", REQ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_OPTIONS, .target = "*", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 1 },
    { "target with every allowed punctuation",
      REQ("GET /a-b_c.d~e!$&'()*+,;=:@%20[]{}|\\^`\"<>?x=/&y HTTP/1.1\r\nHost: a\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/a-b_c.d~e!$&'()*+,;=:@%20[]{}|\\^`\"<>?x=/&y",
      .minor = 1, .keep_alive = 1, .host = "a", .nheaders = 1 },
    { "leading CRLFs are skipped", REQ("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 1 },
    { "one leading CRLF", REQ("\r\nGET /one HTTP/1.0\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/one", .minor = 0 },
    { "HTTP/1.0 without Host", REQ("GET / HTTP/1.0\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 0, .keep_alive = 0 },
    { "HTTP/1.0 with a Host", REQ("GET / HTTP/1.0\r\nHost: h\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 0, .host = "h", .nheaders = 1 },
    { "HTTP/1.0 keep-alive", REQ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 0, .keep_alive = 1,
      .nheaders = 1, .hname = "connection", .hvalue = "keep-alive" },
    { "HTTP/1.0 Keep-Alive in a list, any case",
      REQ("GET / HTTP/1.0\r\nCONNECTION: Upgrade,KEEP-ALIVE\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 0, .keep_alive = 1, .nheaders = 1 },
    { "HTTP/1.0 keep-alive then close", REQ("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 0, .keep_alive = 0,
      .nheaders = 1 },
    { "HTTP/1.0 close", REQ("GET / HTTP/1.0\r\nConnection: close\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 0, .keep_alive = 0, .nheaders = 1 },
    { "HTTP/1.1 close", REQ("GET /" H11 "Connection: close\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 0, .host = "a",
      .nheaders = 2 },
    { "HTTP/1.1 CLOSE in a list", REQ("GET /" H11 "Connection: Upgrade ,\tCLOSE \r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 0,
      .host = "a", .nheaders = 2, .hname = "connection", .hvalue = "Upgrade ,\tCLOSE" },
    { "HTTP/1.1 close in a second Connection field",
      REQ("GET /" H11 "Connection: keep-alive\r\nConnection: close\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 0, .host = "a",
      .nheaders = 3, .hname = "connection", .hvalue = "keep-alive" },
    { "HTTP/1.1 keep-alive", REQ("GET /" H11 "Connection: Keep-Alive\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2 },
    { "closed and x-close are not close", REQ("GET /" H11 "Connection: closed, x-close\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 2 },
    { "a close value in another field", REQ("GET /" H11 "X-Connection: close\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 2 },
    { "surrounding whitespace trimmed, inner kept",
      REQ("GET /" H11 "X-Pad: \t value  with\tinner  spaces \t \r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2, .hname = "x-pad", .hvalue = "value  with\tinner  spaces" },
    { "empty values", REQ("GET /" H11 "X-Empty:\r\nX-Blank: \t \r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 3, .hname = "x-empty", .hvalue = "", .hname2 = "x-blank", .hvalue2 = "" },
    { "empty Host value", REQ("GET / HTTP/1.1\r\nHost:\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "",
      .nheaders = 1 },
    { "Host in upper case, with a port", REQ("GET / HTTP/1.1\r\nHOST: example.com:8080 \r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
      .host = "example.com:8080", .nheaders = 1 },
    { "Host of an IPv6 literal with a port", REQ("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"),
      .result = 1, .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
      .host = "[::1]:8080", .nheaders = 1 },
    { "HEAD with a query on HTTP/1.0", REQ("HEAD /x?y HTTP/1.0\r\n\r\n"), .result = 1,
      .method = HTTP_HEAD, .target = "/x?y", .minor = 0, .keep_alive = 0 },
    { "obs-text in a value",
      REQ("GET /" H11 "X-Text: caf\xc3\xa9 \x80\xff\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2, .hname = "x-text", .hvalue = "caf\xc3\xa9 \x80\xff" },
    { "delimiters and colons in a value",
      REQ("GET /" H11 "X-Q: a:b \"c\"(d),;=\\{}~\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2, .hname = "x-q", .hvalue = "a:b \"c\"(d),;=\\{}~" },
    { "field name of tchars", REQ("GET /" H11 "X-A_b.c~!#$%&'*+^`|9: v\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2, .hname = "x-a_b.c~!#$%&'*+^`|9", .hvalue = "v" },
    { "no space after the colon", REQ("GET /" H11 "X:v\r\n\r\n"), .result = 1,
      .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1, .host = "a",
      .nheaders = 2, .hname = "x", .hvalue = "v" },
    { "Content-Length 0 is no body", REQ("POST /" H11 "Content-Length: 0\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_NONE, .length = 0, .host = "a", .nheaders = 2 },
    { "Content-Length 000", REQ("POST /" H11 "Content-Length: 000\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_NONE, .length = 0, .host = "a", .nheaders = 2 },
    { "Content-Length with leading zeros", REQ("POST /" H11 "Content-Length: 00000000000000000000000005\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 5, .host = "a", .nheaders = 2 },
    { "Content-Length 5, 5 is 5", REQ("POST /" H11 "Content-Length: 5, 5\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 5, .host = "a", .nheaders = 2 },
    { "Content-Length 5 ,5,5", REQ("POST /" H11 "Content-Length: 5 ,5,5\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 5, .host = "a", .nheaders = 2 },
    { "two equal Content-Length fields",
      REQ("POST /" H11 "Content-Length: 7\r\ncontent-length: 7\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 7, .host = "a", .nheaders = 3 },
    { "Content-Length of 19 digits", REQ("POST /" H11 "Content-Length: 9999999999999999999\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 1,
      .body = HTTP_BODY_LENGTH, .length = 9999999999999999999ULL, .host = "a", .nheaders = 2 },
    { "Content-Length on HTTP/1.0", REQ("POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n"),
      .result = 1, .method = HTTP_POST, .target = "/", .minor = 0, .keep_alive = 0,
      .body = HTTP_BODY_LENGTH, .length = 3, .nheaders = 1 },
    { "chunked and Connection: close",
      REQ("POST /" H11 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), .result = 1,
      .method = HTTP_POST, .target = "/", .minor = 1, .keep_alive = 0,
      .body = HTTP_BODY_CHUNKED, .host = "a", .nheaders = 3 },
    { "request line of exactly the limit",
      REQ("GET /aaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"), .lim = &lim_small, .result = 1,
      .method = HTTP_GET, .target = "/aaaaaaaaaaaaaaaaaa", .minor = 1, .keep_alive = 1,
      .host = "a", .nheaders = 1 },
    { "leading CRLFs do not count against the request line",
      REQ("\r\n\r\nGET /aaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"), .lim = &lim_small,
      .result = 1, .method = HTTP_GET, .target = "/aaaaaaaaaaaaaaaaaa", .minor = 1,
      .keep_alive = 1, .host = "a", .nheaders = 1 },
    /* Host: a\r\n (9) + "X: " (3) + 52 bytes: the last one at offset 63. */
    { "header section of exactly the limit",
      REQ("GET / HTTP/1.1\r\nHost: a\r\nX: "
          "0123456789012345678901234567890123456789012345678901\r\n\r\n"),
      .lim = &lim_small, .result = 1, .method = HTTP_GET, .target = "/", .minor = 1,
      .keep_alive = 1, .host = "a", .nheaders = 2 },
    { "exactly max_headers fields", REQ("GET / HTTP/1.1\r\nHost: a\r\nB: 2\r\nC: 3\r\n\r\n"),
      .lim = &lim_small, .result = 1, .method = HTTP_GET, .target = "/", .minor = 1,
      .keep_alive = 1, .host = "a", .nheaders = 3, .hname = "c", .hvalue = "3" },

    /* ---- Host ---- */
    BAD("HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400),
    BAD("HTTP/1.1 with fields but no Host", "GET / HTTP/1.1\r\nX: y\r\nHosts: a\r\n\r\n", 400),
    BAD("two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400),
    BAD("two equal Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    BAD("two Host fields in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    BAD("space in the Host value", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD("a list in the Host value", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400),
    BAD("a path and userinfo in the Host value", "GET / HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400),

    /* ---- field syntax ---- */
    BAD("space before the colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    BAD("tab before the colon", "GET /" H11 "X\t: y\r\n\r\n", 400),
    BAD("obs-fold with SP", "GET /" H11 "X: a\r\n b\r\n\r\n", 400),
    BAD("obs-fold with HTAB", "GET /" H11 "X: a\r\n\tb\r\n\r\n", 400),
    BAD("first field line starts with SP", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    BAD("NUL in a value", "GET /" H11 "X: a\0b\r\n\r\n", 400),
    BAD("SOH in a value", "GET /" H11 "X: a\x01" "b\r\n\r\n", 400),
    BAD("ESC in a value", "GET /" H11 "X: \x1b[0m\r\n\r\n", 400),
    BAD("DEL in a value", "GET /" H11 "X: a\x7f" "b\r\n\r\n", 400),
    BAD("VT in a value", "GET /" H11 "X: a\v\r\n\r\n", 400),
    BAD("NUL in the Host value", "GET / HTTP/1.1\r\nHost: a\0.evil\r\n\r\n", 400),
    BAD("invalid character in a field name: (", "GET /" H11 "X(Y): z\r\n\r\n", 400),
    BAD("invalid character in a field name: \"", "GET /" H11 "X\"Y: z\r\n\r\n", 400),
    BAD("invalid character in a field name: /", "GET /" H11 "X/Y: z\r\n\r\n", 400),
    BAD("invalid character in a field name: @", "GET /" H11 "X@Y: z\r\n\r\n", 400),
    BAD("invalid character in a field name: 0x80", "GET /" H11 "X\x80Y: z\r\n\r\n", 400),
    BAD("NUL in a field name", "GET /" H11 "X\0Y: z\r\n\r\n", 400),
    BAD("empty field name", "GET /" H11 ": z\r\n\r\n", 400),
    BAD("field line without a colon", "GET /" H11 "NoColon\r\n\r\n", 400),

    /* ---- line endings ---- */
    { "bare CR in the target", REQ("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n"), .result = 400, .err_at = 7 },
    { "bare CR ends the request line", REQ("GET / HTTP/1.1\rHost: a\r\n\r\n"), .result = 400, .err_at = 16 },
    BAD("CR CR LF after the request line", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400),
    { "bare CR in a value", REQ("GET /" H11 "X: a\rb\r\n\r\n"), .result = 400, .err_at = 31 },
    BAD("CR CR LF after a field", "GET /" H11 "X: a\r\r\n\r\n", 400),
    BAD("bare CR in the final empty line", "GET /" H11 "\rX\r\n\r\n", 400),
    BAD("bare CR before the request line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CR CR LF before the request line", "\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    { "bare LF ends the request line", REQ("GET / HTTP/1.1\nHost: a\r\n\r\n"), .result = 400, .err_at = 15 },
    BAD("bare LF ends a field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400),
    BAD("bare LF in a value", "GET /" H11 "X: a\nb\r\n\r\n", 400),
    BAD("bare LF as the final empty line", "GET /" H11 "\n", 400),
    BAD("bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("CRLF LF before the request line", "\r\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("bare LF everywhere", "GET / HTTP/1.1\nHost: a\n\n", 400),

    /* ---- request line ---- */
    BAD("invalid method character: (", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("invalid method character: @", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("invalid method character: \"", "\"GET\" / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("control byte in the method", "GE\x01T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("byte >= 0x80 in the method", "G\xc9T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("NUL in the method", "GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("tab after the method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("double space after the method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("double space before the version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    BAD("missing version", "GET /\r\nHost: a\r\n\r\n", 400),
    BAD("empty version", "GET / \r\nHost: a\r\n\r\n", 400),
    BAD("method only", "GET\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/0.9 simple request", "GET /\r\n\r\n", 400),
    BAD("lowercase http/1.1", "GET / http/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("HTTPS/1.1", "GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/11", "GET / HTTP/11\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/1.x", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/x.1", "GET / HTTP/x.1\r\nHost: a\r\n\r\n", 400),
    BAD("HTTP/1,1", "GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400),
    BAD("space inside the target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("control byte in the target", "GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("tab in the target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("NUL in the target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("DEL in the target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("0x80 in the target", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("UTF-8 in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    BAD("0xff in the target", "GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400),

    /* ---- framing ---- */
    BAD("Content-Length and Transfer-Encoding",
        "POST /" H11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding and Content-Length",
        "POST /" H11 "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", 400),
    BAD("last coding not chunked", "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 400),
    BAD("chunked then gzip", "POST /" H11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400),
    BAD("chunked then gzip in two fields",
        "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    BAD("empty Transfer-Encoding", "POST /" H11 "Transfer-Encoding:\r\n\r\n", 400),
    BAD("chunk is not chunked", "POST /" H11 "Transfer-Encoding: chunk\r\n\r\n", 400),
    BAD("chunked with parameters", "POST /" H11 "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    BAD("two tokens without a comma", "POST /" H11 "Transfer-Encoding: gzip chunked\r\n\r\n", 400),
    BAD("a coding that is not a token", "POST /" H11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400),
    BAD("chunked twice", "POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400),
    BAD("chunked twice in two fields",
        "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD("chunked, gzip, chunked", "POST /" H11 "Transfer-Encoding: chunked, gzip, chunked\r\n\r\n", 400),
    BAD("Transfer-Encoding in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    { "unknown coding before chunked", REQ("POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n"),
      .result = 501 },
    { "unknown coding in an earlier field",
      REQ("POST /" H11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
      .result = 501 },
    { "unknown coding with parameters", REQ("POST /" H11 "Transfer-Encoding: x;a=1, chunked\r\n\r\n"),
      .result = 501 },
    BAD("Content-Length 1, 2", "POST /" H11 "Content-Length: 1, 2\r\n\r\n", 400),
    BAD("Content-Length 5, 5, 6", "POST /" H11 "Content-Length: 5, 5, 6\r\n\r\n", 400),
    BAD("conflicting Content-Length fields",
        "POST /" H11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    BAD("Content-Length +5", "POST /" H11 "Content-Length: +5\r\n\r\n", 400),
    BAD("Content-Length 0x5", "POST /" H11 "Content-Length: 0x5\r\n\r\n", 400),
    BAD("Content-Length -1", "POST /" H11 "Content-Length: -1\r\n\r\n", 400),
    BAD("Content-Length empty", "POST /" H11 "Content-Length:\r\n\r\n", 400),
    BAD("Content-Length blank", "POST /" H11 "Content-Length:   \r\n\r\n", 400),
    BAD("Content-Length 5a", "POST /" H11 "Content-Length: 5a\r\n\r\n", 400),
    BAD("Content-Length 5 5", "POST /" H11 "Content-Length: 5 5\r\n\r\n", 400),
    BAD("Content-Length 5.0", "POST /" H11 "Content-Length: 5.0\r\n\r\n", 400),
    BAD("Content-Length 5,", "POST /" H11 "Content-Length: 5,\r\n\r\n", 400),
    BAD("Content-Length ,5", "POST /" H11 "Content-Length: ,5\r\n\r\n", 400),
    BAD("Content-Length of 20 nines", "POST /" H11 "Content-Length: 99999999999999999999\r\n\r\n", 400),
    BAD("Content-Length 2^64", "POST /" H11 "Content-Length: 18446744073709551616\r\n\r\n", 400),
    BAD("Content-Length of 21 digits", "POST /" H11 "Content-Length: 184467440737095516160\r\n\r\n", 400),
    BAD("Content-Length invalid on HTTP/1.0", "POST / HTTP/1.0\r\nContent-Length: -1\r\n\r\n", 400),

    /* ---- versions ---- */
    BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
    BAD("HTTP/1.9", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505),

    /* ---- limits (lim_small: 32, 64, 3) ---- */
    { "request line one over the limit", REQ("GET /aaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"),
      .lim = &lim_small, .result = 414, .err_at = 33 },
    { "request line over the limit before its CRLF", REQ("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
      .lim = &lim_small, .result = 414, .err_at = 33 },
    { "request line over the limit after leading CRLFs",
      REQ("\r\n\r\nGET /aaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n"),
      .lim = &lim_small, .result = 414, .err_at = 37 },
    { "header section one over the limit",
      REQ("GET / HTTP/1.1\r\nHost: a\r\nX: "
          "01234567890123456789012345678901234567890123456789012\r\n\r\n"),
      .lim = &lim_small, .result = 431, .err_at = 16 + 64 + 1 },
    { "header section over the limit before its end",
      REQ("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n"
          "I: 9\r\nJ: 10"),
      .lim = &lim_small, .result = 431, .err_at = 16 + 64 + 1 },
    { "one field too many", REQ("GET / HTTP/1.1\r\nHost: a\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"),
      .lim = &lim_small, .result = 431 },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static const char *
method_str(enum http_method m)
{
    static const char *const names[] = {
        [HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD", [HTTP_POST] = "POST", [HTTP_PUT] = "PUT",
        [HTTP_DELETE] = "DELETE", [HTTP_OPTIONS] = "OPTIONS", [HTTP_PATCH] = "PATCH",
        [HTTP_CONNECT] = "CONNECT", [HTTP_TRACE] = "TRACE",
    };

    return (size_t)m < sizeof(names) / sizeof(names[0]) ? names[m] : NULL;
}

static int
span_is(const char *p, size_t n, const char *s)
{
    return p != NULL && n == strlen(s) && memcmp(p, s, n) == 0;
}

static int
within(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

/* One call on a fresh copy of exactly req[0..n), so that ASan sees a read
 * past the bytes offered. The copy is kept for the checks that follow. */
struct call {
    char *buf;
    struct http_header *headers;
};

static int
call_parse(const struct hcase *c, size_t n, struct http_scan *scan, struct http_request *r,
           struct call *k)
{
    const struct http_limits *lim = c->lim ? c->lim : &lim_default;

    free(k->buf);
    k->buf = malloc(n ? n : 1);
    cr_assert_not_null(k->buf);
    memcpy(k->buf, c->req, n);
    if (k->headers == NULL) {
        /* Exactly max_headers entries: the parser may not write one more. */
        k->headers = malloc(lim->max_headers * sizeof(*k->headers));
        cr_assert_not_null(k->headers);
    }
    memset(r, 0xa5, sizeof(*r));
    return nd_http_parse_request(k->buf, n, scan, lim, r, k->headers);
}

static void
call_free(struct call *k)
{
    free(k->buf);
    free(k->headers);
    k->buf = NULL;
    k->headers = NULL;
}

static void
check_complete(const struct hcase *c, const struct http_request *r, const struct call *k,
               const char *mode)
{
    const char *buf = k->buf, *mname = c->mname ? c->mname : method_str(c->method);
    const struct http_header *h;
    size_t i;

    cr_assert_null(r->error, "%s (%s): error set on success: %s", c->what, mode, r->error);
    cr_assert_eq(r->head_len, c->len, "%s (%s): head_len %zu", c->what, mode, r->head_len);
    cr_assert_eq(r->method, c->method, "%s (%s): method %d", c->what, mode, (int)r->method);
    cr_assert(mname != NULL && span_is(r->method_name, r->method_len, mname),
              "%s (%s): method name '%.*s'", c->what, mode, (int)r->method_len, r->method_name);
    cr_assert(within(r->method_name, r->method_len, buf, c->len), "%s: method outside", c->what);
    cr_assert(span_is(r->target, r->target_len, c->target),
              "%s (%s): target '%.*s'", c->what, mode, (int)r->target_len, r->target);
    cr_assert(within(r->target, r->target_len, buf, c->len), "%s: target outside", c->what);
    cr_assert_eq(r->minor, c->minor, "%s (%s): minor %d", c->what, mode, r->minor);
    cr_assert_eq(r->keep_alive, c->keep_alive, "%s (%s): keep_alive %d", c->what, mode,
                 r->keep_alive);
    cr_assert_eq(r->body, c->body, "%s (%s): body %d", c->what, mode, (int)r->body);
    cr_assert_eq(r->content_length, c->length, "%s (%s): content_length %llu", c->what, mode,
                 (unsigned long long)r->content_length);
    if (c->host == NULL) {
        cr_assert_null(r->host, "%s (%s): host set", c->what, mode);
    } else {
        cr_assert(span_is(r->host, r->host_len, c->host), "%s (%s): host '%.*s'",
                  c->what, mode, (int)r->host_len, r->host ? r->host : "");
        cr_assert(within(r->host, r->host_len, buf, c->len), "%s: host outside", c->what);
    }
    cr_assert_eq(r->headers, k->headers, "%s: headers array", c->what);
    cr_assert_eq(r->nheaders, c->nheaders, "%s (%s): %zu headers", c->what, mode, r->nheaders);
    for (i = 0; i < r->nheaders; i++) {
        h = &r->headers[i];
        cr_assert(h->name_len > 0 && within(h->name, h->name_len, buf, c->len) &&
                  h->name[h->name_len] == ':', "%s: header %zu name", c->what, i);
        cr_assert(within(h->value, h->value_len, buf, c->len), "%s: header %zu value", c->what, i);
        if (h->value_len > 0)
            cr_assert(h->value[0] != ' ' && h->value[0] != '\t' &&
                      h->value[h->value_len - 1] != ' ' && h->value[h->value_len - 1] != '\t',
                      "%s: header %zu value not trimmed", c->what, i);
    }
    if (c->hname != NULL) {
        h = nd_http_header_find(r, c->hname);
        cr_assert_not_null(h, "%s: no %s field", c->what, c->hname);
        cr_assert(span_is(h->value, h->value_len, c->hvalue), "%s: %s is '%.*s'", c->what,
                  c->hname, (int)h->value_len, h->value);
    }
    if (c->hname2 != NULL) {
        h = nd_http_header_find(r, c->hname2);
        cr_assert_not_null(h, "%s: no %s field", c->what, c->hname2);
        cr_assert(span_is(h->value, h->value_len, c->hvalue2), "%s: %s is '%.*s'", c->what,
                  c->hname2, (int)h->value_len, h->value);
    }
}

static void
check_final(const struct hcase *c, int rc, const struct http_request *r, const struct call *k,
            const char *mode)
{
    cr_assert_eq(rc, c->result, "%s (%s): got %d, want %d (%s)", c->what, mode, rc, c->result,
                 rc > 1 && r->error ? r->error : "");
    if (rc == 1)
        check_complete(c, r, k, mode);
    else
        cr_assert_not_null(r->error, "%s (%s): no error string", c->what, mode);
}

static void
run_whole(const struct hcase *c)
{
    struct http_scan scan = { 0 };
    struct http_request r;
    struct call k = { 0 };
    int rc;

    rc = call_parse(c, c->len, &scan, &r, &k);
    check_final(c, rc, &r, &k, "whole");
    call_free(&k);
}

/* The growing prefix, one byte more each time, with one scan state. */
static void
run_bytewise(const struct hcase *c)
{
    struct http_scan scan = { 0 };
    struct http_request r;
    struct call k = { 0 };
    size_t n;
    int rc = 0;

    for (n = 1; n <= c->len; n++) {
        rc = call_parse(c, n, &scan, &r, &k);
        if (rc != 0)
            break;
    }
    if (rc != 0 && n < c->len) {
        cr_assert_neq(c->result, 1, "%s: returned %d (%s) at byte %zu of %zu", c->what, rc,
                      rc > 1 && r.error ? r.error : "", n, c->len);
    }
    if (rc != 0 && c->err_at != 0)
        cr_assert_eq(n, c->err_at, "%s: error %d at byte %zu, want %zu", c->what, rc, n,
                     c->err_at);
    check_final(c, rc, &r, &k, "bytewise");
    call_free(&k);
}

/* Two calls: the first n bytes, then all of them. */
static void
run_splits(const struct hcase *c)
{
    for (size_t n = 1; n < c->len; n++) {
        struct http_scan scan = { 0 };
        struct http_request r;
        struct call k = { 0 };
        char mode[40];
        int rc;

        snprintf(mode, sizeof(mode), "split at %zu", n);
        rc = call_parse(c, n, &scan, &r, &k);
        if (rc == 0)
            rc = call_parse(c, c->len, &scan, &r, &k);
        else
            cr_assert_neq(c->result, 1, "%s: %d at the first %zu bytes", c->what, rc, n);
        check_final(c, rc, &r, &k, mode);
        call_free(&k);
    }
}

static void
run_case(const struct hcase *c)
{
    run_whole(c);
    run_bytewise(c);
    run_splits(c);
}

ParameterizedTestParameters(http_parse, table)
{
    static size_t idx[NCASES];

    for (size_t i = 0; i < NCASES; i++)
        idx[i] = i;
    return cr_make_param_array(size_t, idx, NCASES);
}

ParameterizedTest(size_t *i, http_parse, table)
{
    run_case(&cases[*i]);
}

/* ---- the default limits at their boundaries, with generated requests ---- */

static char *
build_line(size_t line_len)
{
    static const char pre[] = "GET /", post[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t fill = line_len - (sizeof(pre) - 1) - strlen(" HTTP/1.1");
    char *s = malloc(line_len + 32);

    cr_assert_not_null(s);
    memcpy(s, pre, sizeof(pre) - 1);
    memset(s + sizeof(pre) - 1, 'a', fill);
    strcpy(s + sizeof(pre) - 1 + fill, post);
    return s;
}

Test(http_parse, request_line_8192_is_accepted)
{
    char *s = build_line(8192);
    struct hcase c = { .what = "8192-byte request line", .req = s, .len = strlen(s),
                       .result = 1, .method = HTTP_GET, .minor = 1, .keep_alive = 1,
                       .host = "a", .nheaders = 1 };
    char *t = strndup(s + 4, 8192 - 4 - 9);

    c.target = t;
    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(t);
    free(s);
}

Test(http_parse, request_line_8193_is_414)
{
    char *s = build_line(8193);
    struct hcase c = { .what = "8193-byte request line", .req = s, .len = strlen(s),
                       .result = 414, .err_at = 8193 };

    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(s);
}

/* Fields "X: ...." after "Host: a": the last byte of the section at
 * offset last (from the start of the header section). */
static char *
build_section(size_t last)
{
    static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
    size_t fill = last + 1 - (sizeof(pre) - 1 - 16);
    char *s = malloc(sizeof(pre) + fill + 8);

    cr_assert_not_null(s);
    memcpy(s, pre, sizeof(pre) - 1);
    memset(s + sizeof(pre) - 1, 'v', fill);
    strcpy(s + sizeof(pre) - 1 + fill, "\r\n\r\n");
    return s;
}

Test(http_parse, header_section_16384_is_accepted)
{
    char *s = build_section(16383);
    struct hcase c = { .what = "16384-byte header section", .req = s, .len = strlen(s),
                       .result = 1, .method = HTTP_GET, .target = "/", .minor = 1,
                       .keep_alive = 1, .host = "a", .nheaders = 2 };

    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(s);
}

Test(http_parse, header_section_16385_is_431)
{
    char *s = build_section(16384);
    struct hcase c = { .what = "16385-byte header section", .req = s, .len = strlen(s),
                       .result = 431, .err_at = 16 + 16384 + 1 };

    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(s);
}

static char *
build_fields(size_t nfields)
{
    char *s = malloc(32 + nfields * 16), *p = s;

    cr_assert_not_null(s);
    p += sprintf(p, "GET / HTTP/1.1\r\nHost: a\r\n");
    for (size_t i = 1; i < nfields; i++)
        p += sprintf(p, "F%zu: %zu\r\n", i, i);
    strcpy(p, "\r\n");
    return s;
}

Test(http_parse, one_hundred_fields_are_accepted)
{
    char *s = build_fields(100);
    struct hcase c = { .what = "100 fields", .req = s, .len = strlen(s), .result = 1,
                       .method = HTTP_GET, .target = "/", .minor = 1, .keep_alive = 1,
                       .host = "a", .nheaders = 100, .hname = "f99", .hvalue = "99",
                       .hname2 = "f1", .hvalue2 = "1" };

    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(s);
}

Test(http_parse, one_hundred_and_one_fields_are_431)
{
    char *s = build_fields(101);
    struct hcase c = { .what = "101 fields", .req = s, .len = strlen(s), .result = 431 };

    run_whole(&c);
    run_bytewise(&c);
    run_splits(&c);
    free(s);
}

/* ---- pipelining ---- */

/* Parses the head at buf[off..len) byte by byte and whole; returns head_len. */
static size_t
parse_at(const char *buf, size_t len, size_t off, const char *target)
{
    struct http_header hdrs[100];
    struct http_scan scan = { 0 };
    struct http_request r;
    size_t n, head = 0;
    int rc = 0;

    for (n = 1; n <= len - off; n++) {
        rc = nd_http_parse_request(buf + off, n, &scan, &lim_default, &r, hdrs);
        if (rc != 0)
            break;
    }
    cr_assert_eq(rc, 1, "pipelined head at %zu: %d", off, rc);
    head = r.head_len;
    cr_assert_eq(n, head, "complete at byte %zu, head_len %zu", n, head);
    cr_assert(span_is(r.target, r.target_len, target), "target '%.*s' at %zu",
              (int)r.target_len, r.target, off);

    memset(&scan, 0, sizeof(scan));
    rc = nd_http_parse_request(buf + off, len - off, &scan, &lim_default, &r, hdrs);
    cr_assert_eq(rc, 1);
    cr_assert_eq(r.head_len, head, "whole: head_len %zu, bytewise %zu", r.head_len, head);
    return head;
}

Test(http_parse, pipelined_heads)
{
    static const char a[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char b[] = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
    static const char c[] = "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[256];
    size_t len, off = 0;

    len = (size_t)snprintf(buf, sizeof(buf), "%s%shello%sGARBAGE", a, b, c);
    off += parse_at(buf, len, off, "/a");
    cr_assert_eq(off, sizeof(a) - 1);
    off += parse_at(buf, len, off, "/b");
    cr_assert_eq(off, sizeof(a) - 1 + sizeof(b) - 1);
    cr_assert(memcmp(buf + off, "hello", 5) == 0);
    off += 5;
    off += parse_at(buf, len, off, "/c");
    cr_assert_str_eq(buf + off, "GARBAGE");
}

Test(http_parse, pipelined_after_a_stray_crlf)
{
    /* Some clients end a POST body with an extra CRLF: it is skipped. */
    static const char two[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t first = parse_at(two, sizeof(two) - 1, 0, "/a");

    cr_assert_eq(first, 28);
    cr_assert_eq(first + parse_at(two, sizeof(two) - 1, first, "/b"), sizeof(two) - 1);
}

/* ---- the small helpers the module routes with ---- */

Test(http_parse, token_and_list_helpers)
{
    cr_assert(nd_http_token_eq("Upgrade", 7, "upgrade"));
    cr_assert(nd_http_token_eq("UPGRADE", 7, "upgrade"));
    cr_assert_not(nd_http_token_eq("Upgrad", 6, "upgrade"));
    cr_assert_not(nd_http_token_eq("Upgrades", 8, "upgrade"));
    cr_assert(nd_http_token_eq("", 0, ""));

    cr_assert(nd_http_list_has("close", 5, "close"));
    cr_assert(nd_http_list_has("keep-alive, Upgrade", 19, "upgrade"));
    cr_assert(nd_http_list_has(" ,\tUpgrade\t, ", 13, "upgrade"));
    cr_assert_not(nd_http_list_has("Upgrades", 8, "upgrade"));
    cr_assert_not(nd_http_list_has("x-upgrade", 9, "upgrade"));
    cr_assert_not(nd_http_list_has("", 0, "upgrade"));
    cr_assert_not(nd_http_list_has("upgrade", 6, "upgrade"), "only n bytes are read");
}
