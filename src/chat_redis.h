/* chat_redis.h: chat rooms shared through Redis (chat_backend = redis://).
 * A room's seq, epoch and last 100 events live in Redis; publishing runs
 * one script (next seq, history, PUBLISH), and every instance subscribed
 * to the room's channel hands the events to its own members in seq order. */
#ifndef ND_CHAT_REDIS_H
#define ND_CHAT_REDIS_H

#include <stdint.h>

struct chat_backend;
struct nd_redis_url;
struct nd_service;

/* A backend for the rooms of svc, on svc's loop, reaching the Redis at u
 * (copied). ctr: three counters it keeps (NULL: none): 1 while Redis is
 * down, the times it came back, the messages it could not publish. NULL
 * when memory is short or the address is bad. */
struct chat_backend *nd_chat_redis_new(struct nd_service *svc, const struct nd_redis_url *u,
                                       uint64_t *ctr);

/* Lets go of every room using it, then frees it. NULL is fine. */
void nd_chat_redis_free(struct chat_backend *b);

#endif
