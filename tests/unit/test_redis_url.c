/* test_redis_url.c: the chat_backend value: local, redis:// with user,
 * password and database, redis+unix:, and what is refused. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "conf_key.h"
#include "redis_url.h"

static struct nd_redis_url u;
static char err[256];

Test(redis_url, local)
{
    cr_assert_eq(nd_redis_url_parse("local", &u, err, sizeof(err)), 0);
    cr_assert(u.local);
}

Test(redis_url, tcp_forms)
{
    cr_assert_eq(nd_redis_url_parse("redis://127.0.0.1:6380", &u, err, sizeof(err)), 0, "%s", err);
    cr_assert(!u.local);
    cr_assert_str_eq(u.addr, "tcp://127.0.0.1:6380");
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "");
    cr_assert_eq(u.db, 0);
    cr_assert_eq(nd_redis_url_parse("redis://10.0.0.1", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.addr, "tcp://10.0.0.1:6379");
    cr_assert_eq(nd_redis_url_parse("redis://[::1]:7000/3", &u, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(u.addr, "tcp://[::1]:7000");
    cr_assert_eq(u.db, 3);
    cr_assert_eq(nd_redis_url_parse("redis://:s%40cret@127.0.0.1:6379/15", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "s@cret");
    cr_assert_eq(u.db, 15);
    cr_assert_eq(nd_redis_url_parse("redis://chat:pw:with:colons@127.0.0.1:1", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.user, "chat");
    cr_assert_str_eq(u.password, "pw:with:colons");
    cr_assert_str_eq(u.addr, "tcp://127.0.0.1:1");
}

Test(redis_url, unix_socket)
{
    cr_assert_eq(nd_redis_url_parse("redis+unix:/run/redis/redis.sock", &u, err, sizeof(err)), 0);
    cr_assert_str_eq(u.addr, "unix:/run/redis/redis.sock");
}

Test(redis_url, refused)
{
    static const char *const bad[] = {
        "", "Local", "redis:/127.0.0.1", "http://127.0.0.1:6379", "redis://",
        "redis://:6379", "redis://127.0.0.1:", "redis://127.0.0.1:0", "redis://127.0.0.1:65536",
        "redis://127.0.0.1:63x9", "redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/x",
        "redis://127.0.0.1:6379/65536", "redis://user@127.0.0.1", "redis://:@127.0.0.1",
        "redis://:a%4@127.0.0.1", "redis://:a%zz@127.0.0.1", "redis://:a%00@127.0.0.1",
        "redis://[::1", "redis://[::1]x:1", "redis://[]:1", "redis+unix:", "redis+unix:relative",
        "redis+unix:/",
    };
    size_t i, off, len;
    char named[128];

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_assert_eq(nd_redis_url_parse(bad[i], &u, err, sizeof(err)), -1, "accepted '%s'", bad[i]);
        /* the message names the value, its password masked */
        if (nd_conf_url_password(bad[i], &off, &len))
            snprintf(named, sizeof(named), "'%.*s%s%s'", (int)off, bad[i], ND_CONF_MASK,
                     bad[i] + off + len);
        else
            snprintf(named, sizeof(named), "'%s'", bad[i]);
        cr_assert_neq(strstr(err, named), NULL, "'%s': %s", bad[i], err);
    }
}

Test(redis_url, refused_without_its_password)
{
    cr_assert_eq(nd_redis_url_parse("redis://app:topsecret@127.0.0.1:0", &u, err, sizeof(err)),
                 -1);
    cr_assert_str_eq(err, "'redis://app:********@127.0.0.1:0': the port is not a number "
                     "from 1 to 65535");
}
