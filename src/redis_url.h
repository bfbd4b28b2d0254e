/* redis_url.h: where a chat backend lives, as the http module's
 * chat_backend key gives it: "local", "redis://[USER:PASSWORD@]HOST[:PORT][/DB]"
 * or "redis+unix:/PATH". Pure: no sockets, no allocation. */
#ifndef ND_REDIS_URL_H
#define ND_REDIS_URL_H

#include <stddef.h>

struct nd_redis_url {
    int local;                  /* "local": this process's rooms, no Redis */
    char addr[300];             /* "tcp://HOST:PORT" or "unix:/PATH", for nd_addr_parse */
    char user[128];             /* ACL user name; "" for none */
    char password[256];         /* "" for none */
    unsigned db;                /* SELECT */
};

/* Parses s into u. 0, or -1 with err saying why. USER and PASSWORD may
 * carry %XX escapes; PORT is 6379 when absent; HOST is an IP address
 * ([::1] for IPv6). */
int nd_redis_url_parse(const char *s, struct nd_redis_url *u, char *err, size_t errlen);

#endif
