/* modules.c: the list of protocol modules. A new module is a file and a
 * line here. */
#include <string.h>

#include "nd/module.h"

extern const struct nd_module nd_mod_echo;
extern const struct nd_module nd_mod_http;
extern const struct nd_module nd_mod_discard;
extern const struct nd_module nd_mod_chargen;
extern const struct nd_module nd_mod_daytime;
extern const struct nd_module nd_mod_time;

const struct nd_module *const nd_modules[] = {
    &nd_mod_echo,
    &nd_mod_http,
    &nd_mod_discard,
    &nd_mod_chargen,
    &nd_mod_daytime,
    &nd_mod_time,
    NULL,
};

const struct nd_module *
nd_module_find(const char *name)
{
    size_t i;

    for (i = 0; nd_modules[i] != NULL; i++)
        if (strcmp(nd_modules[i]->name, name) == 0)
            return nd_modules[i];
    return NULL;
}
