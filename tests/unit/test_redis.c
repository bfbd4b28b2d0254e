/* test_redis.c: the Redis client against a real redis-server, on a real
 * loop. Each test starts its own server (fork and exec, a free loopback
 * port, no persistence), turns the loop until what it waits for has
 * happened, and stops the server by its pid. Without redis-server they are
 * skipped, saying so. The backoff and a refused connect need no server. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nd/addr.h"
#include "nd/buf.h"
#include "nd/module.h"
#include "loop.h"
#include "redis.h"
#include "resp.h"
#include "service.h"
#include "fixtures.h"

static struct {
    struct nd_loop loop;
    struct nd_service *svc;
    pid_t pid;
    int port;
    char sock[64];              /* the unix socket, when asked for */
    const char *pass;           /* requirepass, when asked for */
    int open;
} t;

static int
have_redis(void)
{
    const char *path = getenv("PATH");
    char dir[4096], file[4200];

    while (path != NULL && *path) {
        size_t n = strcspn(path, ":");

        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(file, sizeof(file), "%s/redis-server", dir);
        if (access(file, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

static int
free_port(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    cr_assert_geq(fd, 0);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* The server answers: a PING gets +PONG, or -NOAUTH when it wants a
 * password. Polled, since a fresh server needs a moment to listen. */
static int
answers(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)t.port) };
    char b[64] = "";
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
    ssize_t n;

    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6 && (n = recv(fd, b, sizeof(b) - 1, 0)) > 0)
        ok = strncmp(b, "+PONG", 5) == 0 || strncmp(b, "-NOAUTH", 7) == 0;
    close(fd);
    return ok;
}

static void
server_start(void)
{
    char port[16];
    const char *argv[24];
    int argc = 0;

    snprintf(port, sizeof(port), "%d", t.port);
    argv[argc++] = "redis-server";
    argv[argc++] = "--port";
    argv[argc++] = port;
    argv[argc++] = "--bind";
    argv[argc++] = "127.0.0.1";
    argv[argc++] = "--save";
    argv[argc++] = "";
    argv[argc++] = "--appendonly";
    argv[argc++] = "no";
    argv[argc++] = "--dir";
    argv[argc++] = "/tmp";
    argv[argc++] = "--loglevel";
    argv[argc++] = "warning";
    if (t.pass) {
        argv[argc++] = "--requirepass";
        argv[argc++] = t.pass;
    }
    if (t.sock[0]) {
        argv[argc++] = "--unixsocket";
        argv[argc++] = t.sock;
    }
    argv[argc] = NULL;
    t.pid = fork();
    cr_assert_geq(t.pid, 0);
    if (t.pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1);
        dup2(null, 2);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (;;) {
        struct timespec pause = { 0, 10 * 1000 * 1000 };
        int status;

        if (answers())
            return;
        cr_assert_eq(waitpid(t.pid, &status, WNOHANG), 0, "redis-server exited at start");
        nanosleep(&pause, NULL);    /* a poll until it listens, not a wait for time */
    }
}

static void
server_stop(void)
{
    int status;

    if (t.pid <= 0)
        return;
    kill(t.pid, SIGCONT);
    kill(t.pid, SIGKILL);
    waitpid(t.pid, &status, 0);
    t.pid = 0;
}

static void
rig_close(void)
{
    server_stop();
    if (!t.open)
        return;
    nd_loop_fini(&t.loop);
    nd_service_unref(t.svc);
    nd_buf_pool_drain();
    if (t.sock[0])
        unlink(t.sock);
    memset(&t, 0, sizeof(t));
}

/* A loop, a service to hang clients on, and a server (skipped without). */
static void
rig_open(const char *pass, int unix_sock)
{
    if (!have_redis())
        cr_skip_test("redis-server is not installed (apt-get install redis-server)");
    memset(&t, 0, sizeof(t));
    cr_assert_eq(nd_loop_init(&t.loop), 0);
    t.svc = nd_service_new("redis-test", nd_module_find("echo"), NULL, NULL, &t.loop);
    cr_assert_not_null(t.svc);
    t.open = 1;
    t.port = free_port();
    t.pass = pass;
    if (unix_sock)
        snprintf(t.sock, sizeof(t.sock), "/tmp/nd-test-redis-%d.sock", (int)getpid());
    server_start();
}

static void
done(void)
{
    rig_close();
    nd_test_no_leaks();
}

TestSuite(redis, .fini = rig_close, .timeout = 120);

static void
turn(void)
{
    int n = nd_loop_once(&t.loop, -1);

    cr_assert_geq(n, 0, "nd_loop_once: %s", strerror(-n));
}

#define UNTIL(cond)         \
    do {                    \
        while (!(cond))     \
            turn();         \
    } while (0)

static struct nd_addr
tcp_addr(int port)
{
    struct nd_addr a;
    char s[64], err[128];

    snprintf(s, sizeof(s), "tcp://127.0.0.1:%d", port);
    cr_assert_eq(nd_addr_parse(&a, s, err, sizeof(err)), 0, "%s", err);
    return a;
}

/* What a client's user sees. */
struct seen {
    int up;                     /* -1: nothing said yet */
    int ups, downs;
    int subscribed, unsubscribed;
    int messages, pmessages, smessages;
    char last[64];
};

static void
on_state(void *arg, int up)
{
    struct seen *s = arg;

    s->up = up;
    if (up)
        s->ups++;
    else
        s->downs++;
}

static struct nd_redis *
client(struct nd_redis_opts o, struct seen *s)
{
    struct nd_addr a = tcp_addr(t.port);
    struct nd_redis *r;

    s->up = -1;
    o.state = on_state;
    o.arg = s;
    r = nd_redis_new(t.svc, &a, &o);
    cr_assert_not_null(r);
    return r;
}

/* One command's outcome. */
struct outcome {
    int done;
    enum nd_resp_type type;
    char text[128];             /* a string's bytes, an error's, or the failure */
    const char *failed;
    long long num;
};

static void
keep(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct outcome *o = arg;

    o->done++;
    o->failed = failed;
    if (reply == NULL)
        return;
    o->type = reply->type;
    o->num = reply->num;
    if (reply->str)
        snprintf(o->text, sizeof(o->text), "%.*s", (int)reply->len, reply->str);
}

static void
cmd(struct nd_redis *r, struct outcome *o, int argc, const char *const argv[])
{
    memset(o, 0, sizeof(*o));
    cr_assert_eq(nd_redis_command(r, argc, argv, NULL, keep, o), 0, "%s", strerror(errno));
}

/* Runs a command to its end and returns its outcome. */
static struct outcome
run(struct nd_redis *r, int argc, const char *const argv[])
{
    struct outcome o;

    cmd(r, &o, argc, argv);
    UNTIL(o.done);
    cr_assert_eq(o.done, 1);
    return o;
}

#define RUN(r, ...)                                                                     \
    run(r, (int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)),      \
        (const char *const[]){ __VA_ARGS__ })

Test(redis, backoff_doubles_to_five_seconds)
{
    uint64_t want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000 };
    uint64_t d = 0;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        d = nd_redis_backoff(d);
        cr_assert_eq(d, want[i], "step %zu: %llu ms, not %llu", i, (unsigned long long)d,
                     (unsigned long long)want[i]);
    }
}

/* Nothing listens: the connect fails, the user hears "down" once, the
 * command waits and fails at its time limit, and the loop was never held. */
Test(redis, refused_connect_reports_down_and_times_out)
{
    struct seen s = { 0 };
    struct nd_redis_opts o = { .timeout_ms = 200 };
    struct outcome out;
    struct nd_redis *r;
    const char *ping[] = { "PING" };

    memset(&t, 0, sizeof(t));
    cr_assert_eq(nd_loop_init(&t.loop), 0);
    t.svc = nd_service_new("redis-test", nd_module_find("echo"), NULL, NULL, &t.loop);
    t.open = 1;
    t.port = free_port();
    r = client(o, &s);
    cmd(r, &out, 1, ping);
    UNTIL(out.done);
    cr_assert_str_eq(out.failed, "not sent: timeout");
    cr_assert(nd_redis_not_sent(out.failed));
    cr_assert_eq(s.up, 0);
    cr_assert_eq(s.downs, 1, "down is said once, not for every failed attempt");
    cr_assert_eq(s.ups, 0);
    {
        struct nd_redis_opts so = { .subscriber = 1 };
        struct seen ss = { 0 };
        struct nd_redis *sub = client(so, &ss);

        cr_assert_eq(nd_redis_command(sub, 1, ping, NULL, keep, &out), -1);
        cr_assert_eq(errno, EINVAL);
        nd_redis_free(sub);
    }
    nd_redis_free(r);
    done();
}

struct order {
    size_t next;                /* the index the next reply must have */
    size_t n;
    int bad;
};

struct order_arg {
    struct order *o;
    size_t i;
    int get;
};

static void
in_order(void *arg, const struct nd_resp_node *reply, const char *failed)
{
    struct order_arg *a = arg;
    char want[32];

    if (failed || a->i != a->o->next) {
        a->o->bad++;
    } else if (a->get) {
        snprintf(want, sizeof(want), "v%zu", a->i % (a->o->n / 2));
        if (!(reply->type == ND_RESP_BULK && reply->len == strlen(want) &&
              memcmp(reply->str, want, reply->len) == 0))
            a->o->bad++;
    } else if (!nd_resp_eq(reply, "OK")) {
        a->o->bad++;
    }
    a->o->next++;
}

/* 10k SETs and 10k GETs, pipelined; the first hundred are queued before
 * the connection is up. Every reply comes to its own callback, in order. */
Test(redis, ten_thousand_pipelined_in_order)
{
    enum { N = 10000 };
    struct seen s = { 0 };
    struct nd_redis_opts o = { .max_pending = 2 * N, .timeout_ms = 30000 };
    struct order ord = { .n = 2 * N };
    struct order_arg *args = calloc(2 * N, sizeof(*args));
    struct nd_redis *r;

    rig_open(NULL, 0);
    r = client(o, &s);
    for (size_t i = 0; i < 2 * N; i++) {
        char k[32], v[32];
        const char *set[] = { "SET", k, v }, *get[] = { "GET", k };

        if (i == 100)
            UNTIL(s.up == 1);
        snprintf(k, sizeof(k), "k%zu", i % N);
        snprintf(v, sizeof(v), "v%zu", i % N);
        args[i] = (struct order_arg){ &ord, i, i >= N };
        cr_assert_eq(nd_redis_command(r, i < N ? 3 : 2, i < N ? set : get, NULL, in_order,
                                      &args[i]), 0);
    }
    cr_assert_eq(nd_redis_pending(r), 2 * N - ord.next);
    UNTIL(ord.next == 2 * N);
    cr_assert_eq(ord.bad, 0, "%d replies wrong or out of order", ord.bad);
    cr_assert_eq(nd_redis_pending(r), 0);
    nd_redis_free(r);
    free(args);
    done();
}

/* At max_pending commands outstanding the next is refused at once. */
Test(redis, outstanding_cap_refuses)
{
    struct seen s = { 0 };
    struct nd_redis_opts o = { .max_pending = 4 };
    struct outcome out[5];
    struct nd_redis *r;
    const char *ping[] = { "PING" };

    rig_open(NULL, 0);
    r = client(o, &s);
    UNTIL(s.up == 1);
    for (int i = 0; i < 4; i++)
        cmd(r, &out[i], 1, ping);
    memset(&out[4], 0, sizeof(out[4]));
    cr_assert_eq(nd_redis_command(r, 1, ping, NULL, keep, &out[4]), -1);
    cr_assert_eq(errno, ENOBUFS);
    UNTIL(out[3].done);
    for (int i = 0; i < 4; i++)
        cr_assert_str_eq(out[i].text, "PONG");
    cr_assert_eq(out[4].done, 0, "a refused command's callback never runs");
    cr_assert_str_eq(RUN(r, "PING").text, "PONG", "room again once replies came");
    nd_redis_free(r);
    done();
}

/* requirepass: AUTH with the password, AUTH with a user of the ACL, and a
 * wrong password that never comes up. */
Test(redis, auth_password_and_user)
{
    struct seen s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
    struct nd_redis_opts o1 = { .password = "sekret" };
    struct nd_redis_opts o2 = { .user = "alice", .password = "wonder" };
    struct nd_redis_opts o3 = { .password = "wrong", .timeout_ms = 300 };
    struct nd_redis *r1, *r2, *r3;
    struct outcome out;
    const char *ping[] = { "PING" };

    rig_open("sekret", 0);
    r1 = client(o1, &s1);
    cr_assert_str_eq(RUN(r1, "SET", "a", "1").text, "OK");
    cr_assert_str_eq(RUN(r1, "ACL", "SETUSER", "alice", "on", ">wonder", "~*", "&*", "+@all").text,
                     "OK");
    r2 = client(o2, &s2);
    cr_assert_str_eq(RUN(r2, "GET", "a").text, "1");
    cr_assert_str_eq(RUN(r2, "ACL", "WHOAMI").text, "alice");
    r3 = client(o3, &s3);
    cmd(r3, &out, 1, ping);
    UNTIL(out.done);
    cr_assert_str_eq(out.failed, "not sent: timeout");
    cr_assert_eq(s3.up, 0);
    cr_assert_eq(s3.ups, 0);
    cr_assert_eq(nd_redis_up(r3), 0);
    nd_redis_free(r1);
    nd_redis_free(r2);
    nd_redis_free(r3);
    done();
}

/* SELECT: a key set in db 5 is there in db 5 and not in db 0; and the
 * client reaches Redis over a unix socket as well. */
Test(redis, select_db_and_unix_socket)
{
    struct seen s5 = { 0 }, s0 = { 0 }, su = { 0 };
    struct nd_redis_opts o5 = { .db = 5 }, o0 = { 0 };
    struct nd_redis *r5, *r0, *ru;
    struct nd_addr ua;
    char us[128], err[128];
    struct outcome got;

    rig_open(NULL, 1);
    r5 = client(o5, &s5);
    r0 = client(o0, &s0);
    cr_assert_str_eq(RUN(r5, "SET", "only5", "here").text, "OK");
    cr_assert_str_eq(RUN(r5, "GET", "only5").text, "here");
    got = RUN(r0, "GET", "only5");
    cr_assert_eq(got.type, ND_RESP_NULL);
    snprintf(us, sizeof(us), "unix:%s", t.sock);
    cr_assert_eq(nd_addr_parse(&ua, us, err, sizeof(err)), 0, "%s", err);
    su.up = -1;
    ru = nd_redis_new(t.svc, &ua, &(struct nd_redis_opts){ .db = 5, .state = on_state, .arg = &su });
    cr_assert_not_null(ru);
    cr_assert_str_eq(RUN(ru, "GET", "only5").text, "here");
    cr_assert_eq(su.up, 1);
    nd_redis_free(r5);
    nd_redis_free(r0);
    nd_redis_free(ru);
    done();
}

static void
on_message(void *arg, const struct nd_redis_msg *m)
{
    struct seen *s = arg;

    switch (m->kind) {
    case ND_REDIS_SUBSCRIBED:
        s->subscribed++;
        return;
    case ND_REDIS_UNSUBSCRIBED:
        s->unsubscribed++;
        return;
    case ND_REDIS_MESSAGE:
        s->messages++;
        break;
    case ND_REDIS_PMESSAGE:
        cr_assert_eq(m->pattern_len, 2);
        cr_assert_eq(memcmp(m->pattern, "n*", 2), 0);
        s->pmessages++;
        break;
    case ND_REDIS_SMESSAGE:
        s->smessages++;
        break;
    }
    snprintf(s->last, sizeof(s->last), "%.*s=%.*s", (int)m->channel_len, m->channel,
             (int)m->len, m->data);
}

/* SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE, a PUBLISH round trip; then the
 * server is killed and started again: the client reconnects (with
 * backoff), subscribes again by itself, and messages flow again. A
 * command queued while Redis is gone goes out once it is back. */
Test(redis, subscribe_publish_and_resubscribe_after_restart)
{
    struct seen ss = { 0 }, sc = { 0 };
    struct nd_redis_opts so = { .subscriber = 1, .message = on_message };
    struct nd_redis_opts co = { .timeout_ms = 60000 };
    struct nd_redis *sub, *r;
    struct outcome queued;
    const char *incr[] = { "INCR", "counter" };
    int status;

    rig_open(NULL, 0);
    so.arg = &ss;
    sub = client(so, &ss);
    ss.up = -1;
    r = client(co, &sc);
    cr_assert_eq(nd_redis_subscribe(sub, ND_REDIS_CHANNEL, "news", 4), 0);
    cr_assert_eq(nd_redis_subscribe(sub, ND_REDIS_PATTERN, "n*", 2), 0);
    cr_assert_eq(nd_redis_subscribe(sub, ND_REDIS_SHARD, "shard1", 6), 0);
    cr_assert_eq(nd_redis_subscribe(sub, ND_REDIS_CHANNEL, "news", 4), 0, "one subscription");
    UNTIL(ss.subscribed == 3);
    cr_assert_eq(RUN(r, "PUBLISH", "news", "hello").num, 2, "the channel and the pattern");
    UNTIL(ss.messages == 1 && ss.pmessages == 1);
    cr_assert_str_eq(ss.last, "news=hello");
    cr_assert_eq(RUN(r, "SPUBLISH", "shard1", "hi").num, 1);
    UNTIL(ss.smessages == 1);
    cr_assert_str_eq(ss.last, "shard1=hi");

    /* Killed: both clients see it, and try again with backoff. */
    kill(t.pid, SIGKILL);
    waitpid(t.pid, &status, 0);
    t.pid = 0;
    UNTIL(ss.up == 0 && sc.up == 0);
    cr_assert_eq(nd_redis_up(sub), 0);
    cmd(r, &queued, 2, incr);
    server_start();
    UNTIL(queued.done);
    cr_assert_null(queued.failed, "the queued command failed: %s", queued.failed);
    cr_assert_eq(queued.num, 1);
    UNTIL(ss.subscribed == 6);
    cr_assert_eq(ss.ups, 2);
    cr_assert_eq(RUN(r, "PUBLISH", "news", "again").num, 2);
    UNTIL(ss.messages == 2 && ss.pmessages == 2);
    cr_assert_str_eq(ss.last, "news=again");
    cr_assert_eq(nd_redis_unsubscribe(sub, ND_REDIS_CHANNEL, "news", 4), 0);
    UNTIL(ss.unsubscribed == 1);
    cr_assert_eq(RUN(r, "PUBLISH", "news", "gone").num, 1, "only the pattern now");
    nd_redis_free(sub);
    nd_redis_free(r);
    done();
}

struct ticker {
    struct nd_alarm *a;
    struct nd_redis *r;
    int ticks, while_waiting;
};

static void
tick(void *arg)
{
    struct ticker *k = arg;

    k->ticks++;
    if (nd_redis_pending(k->r) > 0)
        k->while_waiting++;
    nd_alarm_set(k->a, 10);
}

/* nd_redis_free tells a command that went out ("closed": it may have
 * run) from one that was still waiting for a connection ("not sent:
 * closed": it did not). */
Test(redis, free_tells_sent_from_unsent)
{
    struct seen s1 = { 0 }, s2 = { 0 };
    struct nd_redis_opts o = { 0 };
    struct outcome sent, waiting;
    struct nd_redis *r1, *r2;
    struct nd_addr nowhere;
    const char *get[] = { "GET", "x" };

    rig_open(NULL, 0);
    r1 = client(o, &s1);
    UNTIL(s1.up == 1);
    kill(t.pid, SIGSTOP);           /* it will not answer: the command stays out */
    cmd(r1, &sent, 2, get);
    nowhere = tcp_addr(free_port());
    o.state = on_state;
    o.arg = &s2;
    s2.up = -1;
    r2 = nd_redis_new(t.svc, &nowhere, &o);
    cr_assert_not_null(r2);
    cmd(r2, &waiting, 2, get);
    UNTIL(s2.up == 0);              /* its connect was refused: the command waits */
    cr_assert_eq(waiting.done, 0);
    nd_redis_free(r1);
    nd_redis_free(r2);
    cr_assert_eq(sent.done, 1);
    cr_assert_str_eq(sent.failed, "closed");
    cr_assert_not(nd_redis_not_sent(sent.failed));
    cr_assert_eq(waiting.done, 1);
    cr_assert_str_eq(waiting.failed, "not sent: closed");
    cr_assert(nd_redis_not_sent(waiting.failed));
    done();
}

/* The server stops (SIGSTOP): the reply does not come, the command fails
 * with "timeout" after the default second, the connection is dropped; all
 * the while the loop serves a timer. Once the server goes on (SIGCONT)
 * the client is back. */
Test(redis, reply_timeout_without_blocking_the_loop)
{
    struct seen s = { 0 };
    struct nd_redis_opts o = { 0 };
    struct ticker k = { 0 };
    struct outcome out;
    struct nd_redis *r;
    const char *get[] = { "GET", "x" };

    rig_open(NULL, 0);
    r = client(o, &s);
    UNTIL(s.up == 1);
    k.r = r;
    k.a = nd_service_alarm_new(t.svc, tick, &k);
    cr_assert_not_null(k.a);
    nd_alarm_set(k.a, 10);
    kill(t.pid, SIGSTOP);
    cmd(r, &out, 2, get);
    UNTIL(out.done);
    cr_assert_str_eq(out.failed, "timeout");
    cr_assert_not(nd_redis_not_sent(out.failed), "it went out: it may have run");
    cr_assert_gt(k.while_waiting, 0, "the timer never ran while the reply was awaited");
    cr_assert_eq(s.up, 0);
    cr_assert_eq(nd_redis_up(r), 0);
    kill(t.pid, SIGCONT);
    UNTIL(s.up == 1);
    cr_assert_str_eq(RUN(r, "PING").text, "PONG");
    nd_alarm_free(k.a);
    nd_redis_free(r);
    done();
}

/* A subscriber hears nothing while no one publishes, so it PINGs: a
 * server that stops answering (SIGSTOP) is noticed, reported down, and
 * once it goes on the subscriptions are made again. */
Test(redis, subscriber_notices_a_stopped_server)
{
    struct seen ss = { 0 };
    struct nd_redis_opts so = { .subscriber = 1, .message = on_message, .ping_ms = 50,
                                .timeout_ms = 300 };
    struct nd_redis *sub;

    rig_open(NULL, 0);
    sub = client(so, &ss);
    cr_assert_eq(nd_redis_subscribe(sub, ND_REDIS_CHANNEL, "quiet", 5), 0);
    UNTIL(ss.subscribed == 1);
    kill(t.pid, SIGSTOP);
    UNTIL(ss.up == 0);
    cr_assert_eq(nd_redis_up(sub), 0);
    kill(t.pid, SIGCONT);
    UNTIL(ss.subscribed == 2);
    cr_assert_eq(ss.up, 1);
    nd_redis_free(sub);
    done();
}
