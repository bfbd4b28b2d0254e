/* alarm.c: a module's own timer, not tied to one connection's life (a chat
 * room's batched presence notices): a loop timer behind the opaque handle
 * of module.h, found through a connection or a service of the loop it runs
 * on. */
#include <stdlib.h>

#include "conn.h"
#include "loop.h"
#include "nd/module.h"
#include "nd/util.h"
#include "service.h"

struct nd_alarm {
    struct nd_timer t;
    struct nd_loop *loop;
    void (*fn)(void *arg);
    void *arg;
};

static void
ring(struct nd_loop *loop, struct nd_timer *t)
{
    struct nd_alarm *a = nd_container_of(t, struct nd_alarm, t);

    (void)loop;
    a->fn(a->arg);
}

static struct nd_alarm *
alarm_new(struct nd_loop *loop, void (*fn)(void *arg), void *arg)
{
    struct nd_alarm *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    nd_timer_init(&a->t, ring);
    a->loop = loop;
    a->fn = fn;
    a->arg = arg;
    return a;
}

struct nd_alarm *
nd_alarm_new(struct nd_conn *c, void (*fn)(void *arg), void *arg)
{
    return alarm_new(c->loop, fn, arg);
}

struct nd_alarm *
nd_service_alarm_new(struct nd_service *svc, void (*fn)(void *arg), void *arg)
{
    return alarm_new(svc->loop, fn, arg);
}

int
nd_alarm_set(struct nd_alarm *a, uint64_t ms)
{
    if (ms == 0) {
        nd_timer_stop(a->loop, &a->t);
        return 0;
    }
    return nd_timer_start(a->loop, &a->t, ms);
}

int
nd_alarm_armed(const struct nd_alarm *a)
{
    return a->t.slot != ND_HEAP_NONE;
}

void
nd_alarm_free(struct nd_alarm *a)
{
    if (a == NULL)
        return;
    nd_timer_stop(a->loop, &a->t);
    free(a);
}
