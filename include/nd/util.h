/* util.h: the few macros every file of netdemo leans on. */
#ifndef ND_UTIL_H
#define ND_UTIL_H

#include <stddef.h>

#define ND_VERSION "0.1.0"

#define nd_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#define ND_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define ND_UNUSED(x) ((void)(x))

#endif
