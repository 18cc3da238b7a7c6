/* modules: the certified-module list lookup (see modules.h). */
#include "pki/modules.h"

#include <string.h>

const struct sn_certified_module *
sn_modules_find(const struct sn_certified_module *v, size_t n,
                const char *manufacturer, const char *model)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(v[i].manufacturer, manufacturer) == 0 &&
            strcmp(v[i].model, model) == 0)
            return &v[i];
    return NULL;
}
