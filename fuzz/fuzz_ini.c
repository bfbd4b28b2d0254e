/* fuzz_ini.c: libFuzzer target for the configuration reader: the INI
 * syntax (nd_ini_parse) on its own, checking what it reports, then the
 * whole of nd_config_parse (sections, keys, values, the modules' conf_set
 * and conf_check, cross-checks) on the same text, freeing everything. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ini.h"
#include "nd/module.h"

#include "check.h"


#define PATH "fuzz.ini"

struct seen {
    int line;
    int lines;      /* lines in the text */
};

static int
name_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
            return 0;
    return 1;
}

static int
trimmed(const char *s)
{
    size_t n = strlen(s);

    return n == 0 || (s[0] != ' ' && s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t');
}

static int
on_event(void *ud, const struct nd_ini_event *ev)
{
    struct seen *st = ud;

    check(ev->line > st->line && ev->line <= st->lines);   /* one event a line */
    st->line = ev->line;
    switch (ev->kind) {
    case ND_INI_SECTION:
        check(ev->section != NULL && name_ok(ev->section));
        break;
    case ND_INI_PAIR:
        check(ev->key != NULL && name_ok(ev->key));
        check(ev->value != NULL && trimmed(ev->value));
        check(ev->section == NULL || name_ok(ev->section));
        break;
    case ND_INI_ERROR:
        check(ev->value != NULL && *ev->value != '\0');
        break;
    default:
        check(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
    const char *text = (const char *)in;
    struct nd_errors errs = { 0 };
    struct seen st = { 0, 0 };
    struct nd_config *cfg;
    size_t i, j, k, l;

    for (i = 0; i < size; i++)
        st.lines += in[i] == '\n';
    st.lines += size > 0 && in[size - 1] != '\n';
    check(nd_ini_parse(text, size, on_event, &st) == 0);

    cfg = nd_config_parse(PATH, text, size, nd_modules, &errs);
    check((cfg == NULL) == (errs.n > 0));
    for (i = 0; i < errs.n; i++)
        check(strncmp(errs.v[i], PATH ":", strlen(PATH) + 1) == 0);
    if (cfg != NULL) {
        char *names[2];

        check(cfg->nservices > 0);
        for (i = 0; i < cfg->nservices; i++) {
            const struct nd_service_conf *sc = &cfg->services[i];

            check(sc->name != NULL && name_ok(sc->name));
            check(sc->module != NULL && sc->nlisten > 0);
            check((sc->mconf != NULL) == (sc->module->conf_new != NULL));
            for (j = 0; j < sc->nlisten; j++) {
                check(memchr(sc->listen[j].addr.text, '\0', ND_ADDR_TEXT) != NULL);
                /* No address twice, within or across services. */
                for (k = 0; k <= i; k++)
                    for (l = 0; l < (k == i ? j : cfg->services[k].nlisten); l++)
                        check(!nd_addr_equal(&sc->listen[j].addr,
                                             &cfg->services[k].listen[l].addr));
            }
        }
        names[0] = cfg->services[0].name;
        names[1] = (char *)"no such service";
        check(nd_config_select(cfg, names, 1, &errs) == 0 && errs.n == 0);
        check(nd_config_select(cfg, names, 2, &errs) < 0 && errs.n == 1);
    }
    nd_config_free(cfg);
    nd_errors_free(&errs);
    return 0;
}
