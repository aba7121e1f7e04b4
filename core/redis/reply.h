/* Core: hiredis replies to the SDK's owned kr_redis_reply trees.
 *
 * Every node, str and element array is its own malloc() block, as
 * kirana/redis.h promises, so the SDK's kr_redis_reply_free (or this one)
 * can free a tree. Status replies become KR_REDIS_STRING. */
#ifndef KRC_REDIS_REPLY_H
#define KRC_REDIS_REPLY_H

#include <hiredis/hiredis.h>

#include "kirana/redis.h"

/* any thread. Deep copy of r into *out (caller-owned: krc_redis_reply_free).
 * 0, or KR_ENOMEM / KR_EINTERNAL (a type RESP2 does not have) with *out
 * NULL. */
int krc_redis_reply_copy(const redisReply *r, kr_redis_reply **out);
/* any thread. NULL is fine. */
void krc_redis_reply_free(kr_redis_reply *reply);
/* any thread. Frees replies[0..n) and the array; NULL is fine. */
void krc_redis_replies_free(kr_redis_reply **replies, size_t n);

#endif
