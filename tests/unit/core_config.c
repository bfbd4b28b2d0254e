/* core_config.c: the INI reader and the configuration, read from strings:
 * defaults, and every kind of error with its line number. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "nd/config.h"
#include "nd/module.h"
#include "nd/ini.h"
#include "nd/log.h"

static struct nd_config *
parse(const char *text, struct nd_errors *e)
{
    return nd_config_parse("t.ini", text, strlen(text), nd_modules, e);
}

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

Test(core_config, defaults)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse("; comment\n# another\n\n" SVC, &e);

    cr_assert_not_null(cfg, "%s", e.n ? e.v[0] : "");
    cr_assert_eq(cfg->log_level, LOG_INFO);
    cr_assert_eq(cfg->max_connections, 10000);
    cr_assert_eq(cfg->shutdown_timeout, 10000);
    cr_assert_eq(cfg->nservices, 1);
    cr_assert_str_eq(cfg->services[0].name, "echo");
    cr_assert_eq(cfg->services[0].idle_timeout, 300000);
    cr_assert_eq(cfg->services[0].buffer_size, 65536);
    cr_assert_eq(cfg->services[0].max_connections, 0);
    cr_assert_eq(cfg->services[0].nlisten, 1);
    nd_config_free(cfg);
}

Test(core_config, values_and_whitespace)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse(
        "[netdemo]\r\n  log_level   =   debug  \r\nmax_connections=5\nshutdown_timeout = 1500ms\n"
        "[a]\nmodule = echo\nlisten = tcp://127.0.0.1:7 ,  udp://127.0.0.1:7,unix:/tmp/a\n"
        "idle_timeout = 0\nbuffer_size = 1m\nmax_connections = 3", &e);

    cr_assert_not_null(cfg, "%s", e.n ? e.v[0] : "");
    cr_assert_eq(cfg->log_level, LOG_DEBUG);
    cr_assert_eq(cfg->max_connections, 5);
    cr_assert_eq(cfg->shutdown_timeout, 1500);
    cr_assert_eq(cfg->services[0].nlisten, 3);
    cr_assert_eq(cfg->services[0].idle_timeout, 0);
    cr_assert_eq(cfg->services[0].buffer_size, 1 << 20);
    cr_assert_eq(cfg->services[0].max_connections, 3);
    nd_config_free(cfg);
}

Test(core_config, every_error_kind)
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

Test(core_config, all_errors_in_one_pass)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse(SVC "a = 1\nb = 2\n[x]\nmodule = echo\n", &e);

    cr_assert_null(cfg);
    cr_assert_eq(e.n, 3);
    cr_assert(strstr(e.v[0], "t.ini:4:") && strstr(e.v[1], "t.ini:5:") &&
              strstr(e.v[2], "t.ini:6:"));
    nd_errors_free(&e);
}

Test(core_config, tcp_udp_and_v4_v6_can_share_a_port)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse("[echo]\nmodule = echo\nlisten = tcp://0.0.0.0:7, "
                                  "tcp://[::]:7, udp://0.0.0.0:7\n", &e);

    cr_assert_not_null(cfg, "%s", e.n ? e.v[0] : "");
    nd_config_free(cfg);
}

Test(core_config, select)
{
    struct nd_errors e = { 0 };
    struct nd_config *cfg = parse(SVC "[b]\nmodule = echo\nlisten = tcp://127.0.0.1:8\n", &e);
    char b[] = "b", c[] = "c";
    char *names[] = { b, c };

    cr_assert_not_null(cfg);
    cr_assert_eq(nd_config_select(cfg, names, 1, &e), 0);
    cr_assert(!cfg->services[0].selected && cfg->services[1].selected);
    cr_assert_eq(nd_config_select(cfg, names, 2, &e), -1);
    cr_assert_eq(e.n, 1);
    cr_assert(strstr(e.v[0], "[c]") != NULL);
    nd_errors_free(&e);
    nd_config_free(cfg);
}

struct ev_log {
    char text[4096];
};

static int
record(void *ud, const struct nd_ini_event *ev)
{
    struct ev_log *l = ud;
    size_t n = strlen(l->text);

    snprintf(l->text + n, sizeof(l->text) - n, "%d:%c:%s:%s:%s;", ev->line,
             ev->kind == ND_INI_SECTION ? 'S' : ev->kind == ND_INI_PAIR ? 'P' : 'E',
             ev->section ? ev->section : "-", ev->key ? ev->key : "-",
             ev->value ? ev->value : "-");
    return 0;
}

Test(core_config, ini_events)
{
    static const char text[] = "a=1\n[s]\n k = v w \r\n;c\n#c\nbad\n[t]\nx=";
    struct ev_log l = { "" };

    cr_assert_eq(nd_ini_parse(text, sizeof(text) - 1, record, &l), 0);
    cr_assert_str_eq(l.text, "1:P:-:a:1;2:S:s:-:-;3:P:s:k:v w;"
                             "6:E:s:-:expected 'key = value', '[section]' or a comment;"
                             "7:S:t:-:-;8:P:t:x:;");
}

Test(core_config, ini_nul_and_long_lines)
{
    char text[6000];
    struct ev_log l = { "" };

    memcpy(text, "[a]\nk=v\0w\n", 10);
    memset(text + 10, 'x', 5000);
    text[5010] = '\n';
    cr_assert_eq(nd_ini_parse(text, 5011, record, &l), 0);
    cr_assert(strstr(l.text, "2:E:a:-:NUL byte in line;") != NULL, "%s", l.text);
    cr_assert(strstr(l.text, "3:E:a:-:line longer than 4096 bytes;") != NULL, "%s", l.text);
}
