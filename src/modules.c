/* modules.c: the list of protocol modules. A new module is a file and a
 * line here. */
#include <string.h>

#include "nd/module.h"
#include "nd/util.h"

extern const struct nd_module nd_mod_echo;
extern const struct nd_module nd_mod_http;
extern const struct nd_module nd_mod_discard;
extern const struct nd_module nd_mod_chargen;
extern const struct nd_module nd_mod_daytime;
extern const struct nd_module nd_mod_time;

static const struct nd_module *const modules[] = {
    &nd_mod_echo,
    &nd_mod_http,
    &nd_mod_discard,
    &nd_mod_chargen,
    &nd_mod_daytime,
    &nd_mod_time,
};

const struct nd_module *
nd_module_find(const char *name)
{
    size_t i;

    for (i = 0; i < ND_ARRAY_LEN(modules); i++)
        if (strcmp(modules[i]->name, name) == 0)
            return modules[i];
    return NULL;
}
