/* test_config.c: nd_config_parse on strings. A good file and its defaults,
 * then every kind of error with its exact "FILE:LINE: " prefix, and a file
 * with many mistakes reporting all of them in one pass. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "nd/module.h"
#include "fixtures.h"

#define PATH "t.ini"

static struct nd_config *
parse(const char *text, struct nd_errors *errs)
{
    return nd_config_parse(PATH, text, strlen(text), nd_modules, errs);
}

static int
starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void
show(const struct nd_errors *errs)
{
    size_t i;

    for (i = 0; i < errs->n; i++)
        cr_log_warn("error %zu: %s", i, errs->v[i]);
}

/* The text must be refused with exactly the errors in want (NULL-terminated),
 * each matched as a prefix, in any order, each used once. */
static void
expect_errors(const char *text, const char *const *want)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = parse(text, &errs);
    size_t nwant = 0, i, j;
    int used[32] = { 0 };

    while (want[nwant] != NULL)
        nwant++;
    cr_assert_lt(errs.n, 32);
    if (cfg != NULL || errs.n != nwant)
        show(&errs);
    cr_expect_null(cfg, "a bad configuration was accepted");
    nd_config_free(cfg);
    cr_expect_eq(errs.n, nwant, "%zu errors, expected %zu", errs.n, nwant);
    for (i = 0; i < nwant; i++) {
        for (j = 0; j < errs.n; j++) {
            if (!used[j] && starts_with(errs.v[j], want[i])) {
                used[j] = 1;
                break;
            }
        }
        cr_expect_lt(j, errs.n, "no error starting with \"%s\"", want[i]);
    }
    nd_errors_free(&errs);
    nd_test_no_leaks();
}

/* The text must be refused with exactly one error, starting with want. */
static void
expect_error(const char *text, const char *want)
{
    expect_errors(text, (const char *const[]){ want, NULL });
}

#define ERRORS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* A service that is fine, to put beside the mistake under test. */
#define ECHO "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7007\n"

/* Frees a configuration, and checks that nothing else was left behind. */
static void
done(struct nd_config *cfg)
{
    nd_config_free(cfg);
    nd_test_no_leaks();
}

static struct nd_config *
parse_ok(const char *text)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = parse(text, &errs);

    if (cfg == NULL || errs.n != 0)
        show(&errs);
    cr_assert_not_null(cfg);
    cr_assert_eq(errs.n, 0);
    nd_errors_free(&errs);
    return cfg;
}

Test(config, defaults)
{
    struct nd_config *cfg = parse_ok(ECHO);
    const struct nd_service_conf *s;

    cr_assert_str_eq(cfg->path, PATH);
    cr_assert_eq(cfg->log_level, LOG_INFO);
    cr_assert_eq(cfg->log_level, 6);
    cr_assert_eq(cfg->max_connections, 10000);
    cr_assert_eq(cfg->shutdown_timeout, 10000);
    cr_assert_eq(cfg->nservices, 1);
    s = &cfg->services[0];
    cr_assert_str_eq(s->name, "echo");
    cr_assert_eq(s->line, 1);
    cr_assert_eq(s->module, nd_module_find("echo"));
    cr_assert_not_null(s->module);
    cr_assert_eq(s->nlisten, 1);
    cr_assert_str_eq(s->listen[0].addr.text, "tcp://127.0.0.1:7007");
    cr_assert_eq(s->listen[0].line, 3);
    cr_assert_eq(s->idle_timeout, 300000);
    cr_assert_eq(s->max_connections, 0);
    cr_assert_eq(s->buffer_size, 65536);
    cr_assert(s->selected);
    done(cfg);
}

Test(config, every_key_set)
{
    struct nd_config *cfg = parse_ok(
        "; a full file\n"
        "[netdemo]\n"
        "log_level = debug\n"
        "max_connections = 500\n"
        "shutdown_timeout = 1500ms\n"
        "\n"
        "[echo]\n"
        "module = echo\n"
        "listen = tcp://127.0.0.1:7007 , tcp://[::1]:7007,udp://127.0.0.1:7007,"
        " unix:/tmp/nd-echo.sock, unix:@nd-echo\n"
        "idle_timeout = 90s\n"
        "max_connections = 20\n"
        "buffer_size = 1m\n"
        "\n"
        "[web]\n"
        "module = http\n"
        "listen = tcp://0.0.0.0:8080\n"
        "probes = on\n");
    const struct nd_service_conf *e, *w;

    cr_assert_eq(cfg->log_level, LOG_DEBUG);
    cr_assert_eq(cfg->max_connections, 500);
    cr_assert_eq(cfg->shutdown_timeout, 1500);
    cr_assert_eq(cfg->nservices, 2);
    e = &cfg->services[0];
    w = &cfg->services[1];
    cr_assert_str_eq(e->name, "echo");
    cr_assert_eq(e->line, 7);
    cr_assert_eq(e->nlisten, 5);
    cr_assert_str_eq(e->listen[0].addr.text, "tcp://127.0.0.1:7007");
    cr_assert_str_eq(e->listen[1].addr.text, "tcp://[::1]:7007");
    cr_assert_str_eq(e->listen[2].addr.text, "udp://127.0.0.1:7007");
    cr_assert_str_eq(e->listen[3].addr.text, "unix:/tmp/nd-echo.sock");
    cr_assert_str_eq(e->listen[4].addr.text, "unix:@nd-echo");
    cr_assert_eq(e->listen[4].line, 9);
    cr_assert_eq(e->idle_timeout, 90000);
    cr_assert_eq(e->max_connections, 20);
    cr_assert_eq(e->buffer_size, 1024 * 1024);
    cr_assert_str_eq(w->name, "web");
    cr_assert_eq(w->line, 14);
    cr_assert_eq(w->module, nd_module_find("http"));
    cr_assert_not_null(w->mconf);
    cr_assert_eq(w->nlisten, 1);
    done(cfg);
}

Test(config, tcp_and_udp_on_one_port_are_two_sockets)
{
    done(parse_ok(
        "[echo]\nmodule = echo\n"
        "listen = tcp://127.0.0.1:7007, udp://127.0.0.1:7007\n"));
}

Test(config, ipv4_and_ipv6_wildcards_on_one_port_are_two_sockets)
{
    done(parse_ok(
        "[echo]\nmodule = echo\nlisten = tcp://0.0.0.0:7007, tcp://[::]:7007\n"));
}

Test(config, a_unix_path_and_an_abstract_name_alike_are_two_sockets)
{
    done(parse_ok(
        "[echo]\nmodule = echo\nlisten = unix:/tmp/nd-x, unix:@/tmp/nd-x\n"));
}

Test(config, no_service)
{
    expect_error("[netdemo]\nlog_level = info\n", "t.ini: no service defined");
    expect_error("", "t.ini: no service defined");
}

Test(config, unknown_key_in_netdemo)
{
    expect_error("[netdemo]\nlog_level = info\nlisten = tcp://127.0.0.1:1\n" ECHO,
                 "t.ini:3: unknown key 'listen' in [netdemo]");
}

Test(config, unknown_key_in_a_service)
{
    expect_error(ECHO "root = /srv\n",
                 "t.ini:4: unknown key 'root' in [echo] (module echo)");
}

Test(config, unknown_key_in_a_service_without_module)
{
    expect_errors("[echo]\nlisten = tcp://127.0.0.1:1\ncolour = blue\n",
                  ERRORS("t.ini:1: [echo]: missing 'module = NAME'",
                         "t.ini:3: unknown key 'colour' in [echo]"));
}

Test(config, bad_value_of_a_module_key)
{
    expect_error("[web]\nmodule = http\nlisten = tcp://127.0.0.1:1\nprobes = maybe\n",
                 "t.ini:4: probes: 'maybe' is not a boolean (on/off, yes/no, true/false, 1/0)");
}

/* The http module declares a table (nd_conf_set): its values get the core's
 * messages, key first. */
Test(config, module_keys_from_a_table)
{
#define WEB "[web]\nmodule = http\nlisten = tcp://127.0.0.1:1\n"
    expect_error(WEB "root =\n", "t.ini:4: root: empty value");
    expect_error(WEB "max_headers = 1001\n",
                 "t.ini:4: max_headers = 1001 is out of range (1 to 1000)");
    expect_error(WEB "header_timeout = soon\n",
                 "t.ini:4: header_timeout: 'soon' is not a duration");
    expect_error(WEB "colour = blue\n",
                 "t.ini:4: unknown key 'colour' in [web] (module http)");
    expect_errors(WEB "drain = on\nroot = /nonexistent-nd-dir\nroot = /x\n",
                  ERRORS("t.ini:6: duplicate key 'root' in [web] (first at line 5)",
                         "t.ini:5: root: /nonexistent-nd-dir: "
                         "No such file or directory"));
#undef WEB
}

Test(config, reuseport_is_a_bool)
{
    struct nd_config *cfg = parse_ok(ECHO "reuseport = on\n");

    cr_assert_eq(cfg->services[0].reuseport, 1);
    done(cfg);
}

Test(config, access_log_is_a_bool_and_off_by_default)
{
    struct nd_config *cfg = parse_ok(ECHO "");

    cr_assert_eq(cfg->services[0].access_log, 0);
    done(cfg);
    cfg = parse_ok(ECHO "access_log = on\n");
    cr_assert_eq(cfg->services[0].access_log, 1);
    done(cfg);
}

Test(config, duplicate_key)
{
    expect_error(ECHO "listen = tcp://127.0.0.1:7008\n",
                 "t.ini:4: duplicate key 'listen' in [echo] (first at line 3)");
    expect_error("[netdemo]\nlog_level = info\n\nlog_level = debug\n" ECHO,
                 "t.ini:4: duplicate key 'log_level' in [netdemo] (first at line 2)");
}

Test(config, duplicate_section)
{
    expect_error(ECHO "\n[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7008\n",
                 "t.ini:5: duplicate section [echo] (first at line 1)");
}

Test(config, key_outside_any_section)
{
    expect_error("\nlog_level = info\n" ECHO,
                 "t.ini:2: key 'log_level' outside any section");
}

Test(config, missing_module)
{
    expect_error("\n[echo]\nlisten = tcp://127.0.0.1:1\n",
                 "t.ini:2: [echo]: missing 'module = NAME'");
}

Test(config, missing_listen)
{
    expect_error("[echo]\nmodule = echo\n",
                 "t.ini:1: [echo]: missing 'listen = ADDRESS[, ADDRESS...]'");
}

Test(config, unknown_module)
{
    expect_error("[echo]\nlisten = tcp://127.0.0.1:1\nmodule = ehco\n",
                 "t.ini:3: unknown module 'ehco'");
}

Test(config, module_that_does_not_serve_the_transport)
{
    expect_error("[web]\nmodule = http\nlisten = udp://127.0.0.1:80\n",
                 "t.ini:3: listen: module http does not serve udp://");
}

/* A service whose listen line (line 3) is value. */
static void
expect_listen_error(const char *value, const char *want)
{
    char text[512];

    snprintf(text, sizeof(text), "[echo]\nmodule = echo\nlisten = %s\n", value);
    expect_error(text, want);
}

Test(config, bad_addresses)
{
    char value[200], want[300];

    expect_listen_error("127.0.0.1:7007",
                        "t.ini:3: listen: bad address '127.0.0.1:7007': expected");
    expect_listen_error("http://127.0.0.1:80", "t.ini:3: listen: bad address 'http://");
    expect_listen_error("tcp://127.0.0.256:7007",
                        "t.ini:3: listen: '127.0.0.256' is not an IPv4 address");
    expect_listen_error("tcp://localhost:7007",
                        "t.ini:3: listen: 'localhost' is not an IPv4 address");
    expect_listen_error("tcp://::1:7007",
                        "t.ini:3: listen: '::1:7007': write IPv6 addresses as [ADDR]:PORT");
    expect_listen_error("tcp://[::1]", "t.ini:3: listen: '[::1]': expected [IPv6]:PORT");
    expect_listen_error("tcp://[::g]:1", "t.ini:3: listen: '::g' is not an IPv6 address");
    expect_listen_error("tcp://127.0.0.1", "t.ini:3: listen: '127.0.0.1': expected HOST:PORT");
    expect_listen_error("tcp://127.0.0.1:0",
                        "t.ini:3: listen: port 0 is out of range 1-65535");
    expect_listen_error("udp://[::1]:65536",
                        "t.ini:3: listen: port 65536 is out of range 1-65535");
    expect_listen_error("tcp://127.0.0.1:http", "t.ini:3: listen: bad port 'http'");
    expect_listen_error("unix:", "t.ini:3: listen: empty unix socket path");
    expect_listen_error("unix:@", "t.ini:3: listen: empty unix socket path");
    /* "/" and 107 more bytes: one too many for sun_path with its NUL. */
    memcpy(value, "unix:/", 6);
    memset(value + 6, 'p', 107);
    value[113] = '\0';
    snprintf(want, sizeof(want), "t.ini:3: listen: unix socket path '%s' is longer "
             "than 107 bytes", value + 5);
    expect_listen_error(value, want);
}

Test(config, the_longest_unix_path)
{
    char text[300];
    struct nd_config *cfg;
    int n = snprintf(text, sizeof(text), "[echo]\nmodule = echo\nlisten = unix:/");

    memset(text + n, 'p', 106);
    strcpy(text + n + 106, "\n");
    cfg = parse_ok(text);
    cr_assert_eq(strlen(cfg->services[0].listen[0].addr.text), 5 + 107);
    done(cfg);
}

Test(config, a_bad_address_in_a_list_is_reported_once)
{
    expect_listen_error("tcp://127.0.0.1:1, tcp://127.0.0.1:0, udp://127.0.0.1:1",
                        "t.ini:3: listen: port 0 is out of range");
}

Test(config, bad_numbers_and_units)
{
    expect_error(ECHO "idle_timeout = 5x\n",
                 "t.ini:4: idle_timeout: '5x': a duration takes ms, s, m or h");
    expect_error(ECHO "buffer_size = abc\n", "t.ini:4: buffer_size: 'abc' is not a size");
    expect_error(ECHO "max_connections = -1\n",
                 "t.ini:4: max_connections: '-1' is not a number");
    expect_error("[netdemo]\nmax_connections = -1\n" ECHO,
                 "t.ini:2: max_connections: '-1' is not a number");
    expect_error("[netdemo]\nshutdown_timeout = soon\n" ECHO,
                 "t.ini:2: shutdown_timeout: 'soon' is not a duration");
    expect_error(ECHO "idle_timeout = \n", "t.ini:4: idle_timeout: '' is not a duration");
}

Test(config, values_out_of_range)
{
    expect_error("[netdemo]\nmax_connections = 0\n" ECHO,
                 "t.ini:2: max_connections = 0 is out of range (1 to 1000000)");
    expect_error(ECHO "max_connections = 0\n",
                 "t.ini:4: max_connections = 0 is out of range (1 to 1000000)");
    expect_error(ECHO "buffer_size = 10\n",
                 "t.ini:4: buffer_size = 10 is out of range (1k to 64m)");
    expect_error(ECHO "buffer_size = 1g\n",
                 "t.ini:4: buffer_size = 1g is out of range (1k to 64m)");
    expect_error("[netdemo]\nshutdown_timeout = 2h\n" ECHO,
                 "t.ini:2: shutdown_timeout = 2h is out of range (0 to 1h)");
    expect_error(ECHO "idle_timeout = 169h\n",
                 "t.ini:4: idle_timeout = 169h is out of range (0 to 168h)");
}

Test(config, range_limits_are_inclusive)
{
    struct nd_config *cfg = parse_ok(
        "[netdemo]\nmax_connections = 1000000\nshutdown_timeout = 1h\n"
        ECHO "buffer_size = 1k\nidle_timeout = 0\nmax_connections = 1\n");

    cr_assert_eq(cfg->max_connections, 1000000);
    cr_assert_eq(cfg->shutdown_timeout, 3600000);
    cr_assert_eq(cfg->services[0].buffer_size, 1024);
    cr_assert_eq(cfg->services[0].idle_timeout, 0);
    cr_assert_eq(cfg->services[0].max_connections, 1);
    done(cfg);
}

Test(config, one_address_twice_in_a_service)
{
    expect_listen_error("tcp://127.0.0.1:7007, tcp://127.0.0.1:7007",
                        "t.ini:3: tcp://127.0.0.1:7007 is already a listener of [echo] "
                        "(line 3)");
    /* The same socket spelt differently is still the same socket. */
    expect_listen_error("tcp://[::1]:7007, tcp://[0:0:0:0:0:0:0:1]:7007",
                        "t.ini:3: tcp://[::1]:7007 is already a listener of [echo]");
    expect_listen_error("unix:@x, unix:@x",
                        "t.ini:3: unix:@x is already a listener of [echo]");
}

Test(config, one_address_in_two_services)
{
    expect_error("[a]\nmodule = echo\nlisten = udp://127.0.0.1:9\n"
                 "\n"
                 "[b]\nlisten = tcp://127.0.0.1:9, udp://127.0.0.1:9\nmodule = echo\n",
                 "t.ini:6: udp://127.0.0.1:9 is already a listener of [a] (line 3)");
}

Test(config, empty_item_in_a_listen_list)
{
    expect_listen_error("tcp://127.0.0.1:1,,tcp://127.0.0.1:2",
                        "t.ini:3: listen: empty address in list");
    expect_listen_error("tcp://127.0.0.1:1, tcp://127.0.0.1:2,",
                        "t.ini:3: listen: empty address in list");
    expect_listen_error("tcp://127.0.0.1:1, \t ,tcp://127.0.0.1:2",
                        "t.ini:3: listen: empty address in list");
    expect_listen_error(", tcp://127.0.0.1:1", "t.ini:3: listen: empty address in list");
    expect_listen_error("", "t.ini:3: listen: empty address in list");
}

Test(config, unknown_log_level)
{
    expect_error("[netdemo]\n\nlog_level = loud\n" ECHO,
                 "t.ini:3: log_level: unknown level 'loud' "
                 "(err, warning, notice, info or debug)");
}

Test(config, syntax_errors_carry_their_line)
{
    expect_errors(ECHO "[oops\nbroken line\n",
                  ERRORS("t.ini:4: missing ']' after section name",
                         "t.ini:5: expected 'key = value', '[section]' or a comment"));
}

Test(config, every_mistake_in_one_pass)
{
    expect_errors(
        "stray = 1\n"                                       /* 1 */
        "[netdemo]\n"                                       /* 2 */
        "log_level = loud\n"                                /* 3 */
        "max_connections = 0\n"                             /* 4 */
        "colour = blue\n"                                   /* 5 */
        "[a]\n"                                             /* 6 */
        "module = echo\n"                                   /* 7 */
        "listen = tcp://127.0.0.1:1,, tcp://127.0.0.1:0\n"  /* 8 */
        "idle_timeout = 5x\n"                               /* 9 */
        "idle_timeout = 6s\n"                               /* 10 */
        "[b]\n"                                             /* 11 */
        "module = nope\n"                                   /* 12 */
        "listen = tcp://127.0.0.1:2\n"                      /* 13 */
        "[c]\n"                                             /* 14 */
        "listen = tcp://127.0.0.1:1\n"                      /* 15 */
        "module = echo\n"                                   /* 16 */
        "buffer_size = 10\n"                                /* 17 */
        "[a]\n"                                             /* 18 */
        "this is not a pair\n"                              /* 19 */
        "[d]\n"                                             /* 20 */
        "module = echo\n",                                  /* 21 */
        ERRORS("t.ini:1: key 'stray' outside any section",
               "t.ini:3: log_level: unknown level 'loud'",
               "t.ini:4: max_connections = 0 is out of range",
               "t.ini:5: unknown key 'colour' in [netdemo]",
               "t.ini:8: listen: port 0 is out of range",
               "t.ini:8: listen: empty address in list",
               "t.ini:9: idle_timeout: '5x': a duration takes",
               "t.ini:10: duplicate key 'idle_timeout' in [a] (first at line 9)",
               "t.ini:12: unknown module 'nope'",
               "t.ini:15: tcp://127.0.0.1:1 is already a listener of [a] (line 8)",
               "t.ini:17: buffer_size = 10 is out of range",
               "t.ini:18: duplicate section [a] (first at line 6)",
               "t.ini:19: expected 'key = value'",
               "t.ini:20: [d]: missing 'listen = "));
}

Test(config, errors_are_appended_to_those_already_there)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg;

    nd_errors_add(&errs, "earlier: %d", 1);
    cfg = parse(ECHO, &errs);
    cr_assert_not_null(cfg, "a good file is refused for an earlier error");
    cr_assert_eq(errs.n, 1);
    nd_config_free(cfg);
    cfg = parse("[echo]\nmodule = echo\n", &errs);
    cr_assert_null(cfg);
    cr_assert_eq(errs.n, 2);
    cr_assert_str_eq(errs.v[0], "earlier: 1");
    cr_assert(starts_with(errs.v[1], "t.ini:1: [echo]: missing 'listen"));
    nd_errors_free(&errs);
    cr_assert_eq(errs.n, 0);
    nd_test_no_leaks();
}

/* A mistaken section header is one mistake. The keys under it belong to
 * the section that was meant, not to the one before. */
Test(config, a_bad_section_header_is_one_error)
{
    expect_error(ECHO "[my echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7008\n",
                 "t.ini:4: section names use only");
    expect_error("[my echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7008\n" ECHO,
                 "t.ini:1: section names use only");
}

/* ---- each mistake alone in a file gives exactly one error, on its line,
 * even where nothing else of the file is left (a lone bad header) ---- */

/* Asserts exactly one error, on `line`, containing `what`. */
static void
one_error(const char *text, int line, const char *what)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse(text, &e);
    char prefix[32];

    cr_assert_null(cfg, "accepted:\n%s", text);
    cr_assert_eq(e.n, 1, "%zu errors for:\n%s\nfirst: %s", e.n, text, e.n ? e.v[0] : "");
    snprintf(prefix, sizeof(prefix), "t.ini:%d: ", line);
    cr_assert(strncmp(e.v[0], prefix, strlen(prefix)) == 0, "%s, want %s", e.v[0], prefix);
    cr_assert(strstr(e.v[0], what) != NULL, "%s, want %s", e.v[0], what);
    nd_errors_free(&e);
}

#define SVC "[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7\n"

Test(config, every_error_kind_alone)
{
    one_error(SVC "bogus = 1\n", 4, "unknown key 'bogus'");
    one_error("[netdemo]\nfoo = 1\n" SVC, 2, "unknown key 'foo'");
    one_error(SVC "idle_timeout = 1s\nidle_timeout = 2s\n", 5, "duplicate key");
    one_error(SVC "[echo]\n", 4, "duplicate section");
    one_error("x = 1\n" SVC, 1, "outside any section");
    one_error("[echo]\nlisten = tcp://127.0.0.1:7\n", 1, "missing 'module");
    one_error("[echo]\nmodule = echo\n", 1, "missing 'listen");
    one_error("[echo]\nmodule = nope\nlisten = tcp://127.0.0.1:7\n", 2, "unknown module");
    one_error("[echo]\nmodule = echo\nlisten = tcp://1.2.3.4.5:7\n", 3, "IPv4");
    one_error(SVC "idle_timeout = 5x\n", 4, "duration");
    one_error(SVC "buffer_size = big\n", 4, "size");
    one_error(SVC "max_connections = 0\n", 4, "out of range");
    one_error(SVC "buffer_size = 100\n", 4, "out of range");
    one_error("[netdemo]\nshutdown_timeout = 2h\n" SVC, 2, "out of range");
    one_error("[netdemo]\nlog_level = chatty\n" SVC, 2, "unknown level");
    one_error("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7, tcp://127.0.0.1:7\n", 3,
              "already a listener");
    one_error(SVC "[b]\nmodule = echo\nlisten = tcp://127.0.0.1:7\n", 6, "already a listener");
    one_error("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7,,udp://127.0.0.1:7\n", 3,
              "empty address");
    one_error("[echo\n", 1, "missing ']'");
    one_error("[echo] x\n", 1, "text after ']'");
    one_error("[]\n", 1, "empty section name");
    one_error("[e cho]\n", 1, "section names");
    one_error(SVC "just words\n", 4, "expected 'key = value'");
    one_error(SVC "= 5\n", 4, "missing key");
    one_error("[web]\nmodule = http\nlisten = udp://127.0.0.1:7\n", 3, "does not serve udp");
}

Test(config, all_errors_in_one_pass)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse(SVC "a = 1\nb = 2\n[x]\nmodule = echo\n", &e);

    cr_assert_null(cfg);
    cr_assert_eq(e.n, 3);
    cr_assert(strstr(e.v[0], "t.ini:4:") && strstr(e.v[1], "t.ini:5:") &&
              strstr(e.v[2], "t.ini:6:"));
    nd_errors_free(&e);
}

static struct nd_config *
three_services(void)
{
    return parse_ok("[a]\nmodule = echo\nlisten = tcp://127.0.0.1:1\n"
                    "[b]\nmodule = echo\nlisten = tcp://127.0.0.1:2\n"
                    "[c]\nmodule = echo\nlisten = tcp://127.0.0.1:3\n");
}

Test(config, select_all)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = three_services();

    cr_assert_eq(nd_config_select(cfg, NULL, 0, &errs), 0);
    cr_assert_eq(errs.n, 0);
    cr_assert(cfg->services[0].selected && cfg->services[1].selected &&
              cfg->services[2].selected);
    done(cfg);
}

Test(config, select_known_names)
{
    static char a[] = "a", c[] = "c";
    char *names[] = { c, a };
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = three_services();

    cr_assert_eq(nd_config_select(cfg, names, 2, &errs), 0);
    cr_assert_eq(errs.n, 0);
    cr_assert(cfg->services[0].selected);
    cr_assert_not(cfg->services[1].selected);
    cr_assert(cfg->services[2].selected);
    done(cfg);
}

Test(config, select_an_unknown_name)
{
    static char b[] = "b", zz[] = "zz";
    char *names[] = { b, zz };
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = three_services();

    cr_assert_eq(nd_config_select(cfg, names, 2, &errs), -1);
    cr_assert_eq(errs.n, 1);
    cr_assert_str_eq(errs.v[0], "t.ini: no service [zz] in this file (-s zz)");
    cr_assert(cfg->services[1].selected);
    nd_errors_free(&errs);
    done(cfg);
}

/* ---- errors that teach: in line order, with the nearest name, at the
 * key's line, and a summary ---- */

/* The text must be refused with exactly the errors in want, in that order,
 * each equal to its want. */
static void
expect_exactly(const char *text, const char *const *want)
{
    struct nd_errors errs = { 0 };
    struct nd_config *cfg = parse(text, &errs);
    size_t n = 0, i;

    while (want[n] != NULL)
        n++;
    if (errs.n != n)
        show(&errs);
    cr_expect_null(cfg, "a bad configuration was accepted");
    nd_config_free(cfg);
    cr_assert_eq(errs.n, n, "%zu errors, expected %zu", errs.n, n);
    for (i = 0; i < n; i++)
        cr_expect_str_eq(errs.v[i], want[i], "error %zu", i);
    nd_errors_free(&errs);
    nd_test_no_leaks();
}

Test(config, errors_come_in_line_order)
{
    /* found as 5 (keys), 3 (conf_check), 9 (listen, at the section's end),
     * 12 ([netdemo] read in its place), 8 (addresses, across sections) */
    expect_exactly(
        "[web]\n"                                           /* 1 */
        "module = http\n"                                   /* 2 */
        "root = /nonexistent-nd-dir\n"                      /* 3 */
        "listen = tcp://127.0.0.1:1\n"                      /* 4 */
        "colour = blue\n"                                   /* 5 */
        "[b]\n"                                             /* 6 */
        "module = echo\n"                                   /* 7 */
        "listen = tcp://127.0.0.1:1\n"                      /* 8 */
        "[c]\n"                                             /* 9 */
        "module = echo\n"                                   /* 10 */
        "[netdemo]\n"                                       /* 11 */
        "foo = 1\n",                                        /* 12 */
        ERRORS("t.ini:3: root: /nonexistent-nd-dir: No such file or directory",
               "t.ini:5: unknown key 'colour' in [web] (module http)",
               "t.ini:8: tcp://127.0.0.1:1 is already a listener of [web] (line 4)",
               "t.ini:9: [c]: missing 'listen = ADDRESS[, ADDRESS...]'",
               "t.ini:12: unknown key 'foo' in [netdemo]"));
}

Test(config, unknown_key_suggests_the_nearest)
{
    expect_exactly("[netdemo]\nlog_levle = info\n" ECHO,
                   ERRORS("t.ini:2: unknown key 'log_levle' in [netdemo]; "
                          "did you mean 'log_level'?"));
    expect_exactly(ECHO "idle_timout = 5s\n",
                   ERRORS("t.ini:4: unknown key 'idle_timout' in [echo] (module echo); "
                          "did you mean 'idle_timeout'?"));
    /* a module's key, for a service of that module only */
    expect_exactly("[web]\nmodule = http\nlisten = tcp://127.0.0.1:1\nroots = /srv\n",
                   ERRORS("t.ini:4: unknown key 'roots' in [web] (module http); "
                          "did you mean 'root'?"));
    expect_exactly(ECHO "roots = /srv\n",
                   ERRORS("t.ini:4: unknown key 'roots' in [echo] (module echo)"));
    /* [netdemo] keys are not offered in a service, nor a service's there */
    expect_exactly("[netdemo]\nidle_timeout = 5s\n" ECHO,
                   ERRORS("t.ini:2: unknown key 'idle_timeout' in [netdemo]"));
}

#define MODULES "(modules: echo, http, discard, chargen, daytime, time)"

Test(config, unknown_module_suggests_and_lists)
{
    expect_exactly("[web]\nmodule = htp\nlisten = tcp://127.0.0.1:1\n",
                   ERRORS("t.ini:2: unknown module 'htp'; did you mean 'http'? " MODULES));
    expect_exactly("[web]\nmodule = gopher\nlisten = tcp://127.0.0.1:1\n",
                   ERRORS("t.ini:2: unknown module 'gopher' " MODULES));
}

/* A misspelt `module` line: one error for it, one for the missing module,
 * none for the module's own keys; a key no module has is still one. */
Test(config, no_pile_up_under_a_missing_or_unknown_module)
{
    expect_exactly("[web]\n"
                   "modle = http\n"
                   "listen = tcp://127.0.0.1:1\n"
                   "probes = on\n"
                   "root = /nonexistent-nd-dir\n"
                   "colour = blue\n"
                   "idle_timeout = 9999h\n",
                   ERRORS("t.ini:1: [web]: missing 'module = NAME' " MODULES,
                          "t.ini:2: unknown key 'modle' in [web]; did you mean 'module'?",
                          "t.ini:6: unknown key 'colour' in [web]",
                          "t.ini:7: idle_timeout = 9999h is out of range (0 to 168h)"));
    expect_exactly("[web]\nmodule = htp\nlisten = tcp://127.0.0.1:1\nprobes = on\n"
                   "rooot = /srv\n",
                   ERRORS("t.ini:2: unknown module 'htp'; did you mean 'http'? " MODULES,
                          "t.ini:5: unknown key 'rooot' in [web]; did you mean 'root'?"));
}

Test(config, comment_after_a_value_is_explained)
{
#define HINT " (comments are whole lines: a line whose first non-blank character is ';' or '#')"
    expect_exactly(ECHO "reuseport = on ; for two processes\n",
                   ERRORS("t.ini:4: reuseport: 'on ; for two processes' is not a boolean "
                          "(on/off, yes/no, true/false, 1/0)" HINT));
    expect_exactly("[echo]\nmodule = echo\nlisten = tcp://127.0.0.1:7 # main\n",
                   ERRORS("t.ini:3: listen: bad port '7 # main'" HINT));
    /* a string takes it as it is; opening it as a directory then fails */
    expect_exactly("[web]\nmodule = http\nlisten = tcp://127.0.0.1:1\n"
                   "root = /nonexistent-nd-dir ; docs\n",
                   ERRORS("t.ini:4: root: /nonexistent-nd-dir ; docs: "
                          "No such file or directory" HINT));
#undef HINT
}

Test(config, summary)
{
    struct nd_errors errs = { 0 };
    char buf[128];

    nd_errors_add(&errs, "one");
    nd_errors_summary(&errs, "/etc/x.ini", buf, sizeof(buf));
    cr_assert_str_eq(buf, "/etc/x.ini: 1 error, configuration not loaded");
    nd_errors_add(&errs, "two");
    nd_errors_add(&errs, "three");
    nd_errors_summary(&errs, "/etc/x.ini", buf, sizeof(buf));
    cr_assert_str_eq(buf, "/etc/x.ini: 3 errors, configuration not loaded");
    nd_errors_free(&errs);
}
