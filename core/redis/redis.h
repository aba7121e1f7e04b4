/* Core: the kr_redis pool handed to plugins.
 *
 * At most pool_size hiredis connections, opened lazily; each call checks one
 * out for its duration, so a connection is never used by two threads at
 * once. timeout_ms bounds every wait of a call: for a free connection, for a
 * connect, and for each reply. A transport failure (refused, timeout, EOF)
 * drops that connection and is KR_EUNAVAILABLE; new connections after a
 * failure back off (50 ms doubling to 2 s), and while they do, callers that
 * would need a new connection fail at once with KR_EUNAVAILABLE instead of
 * each waiting for a connect timeout. The pool recovers by itself when Redis
 * is back. A new connection must answer PING before use, because a stopped
 * server still completes TCP handshakes from its listen backlog. */
#ifndef KRC_REDIS_REDIS_H
#define KRC_REDIS_REDIS_H

#include <stddef.h>

#include "kirana/host.h"

/* Begins with a kr_handle, so it is handed to plugins as kr_redis*. */
typedef struct krc_redis krc_redis;

/* main. Parses url (see conn.h) and never connects, so the server starts with
 * Redis down. pool_size 1..1024, timeout_ms 1..600000; host is borrowed and
 * must outlive the pool. Caller-owned (krc_redis_close); NULL with a reason in
 * err. */
krc_redis *krc_redis_open(const char *url, int pool_size, int timeout_ms, const kr_host *host, char *err,
                          size_t errlen);
/* main, at exit, when no call is in progress. Frees the pool and its
 * connections; NULL is fine. */
void krc_redis_close(krc_redis *r);
/* worker. PING through the pool: 0, or KR_EUNAVAILABLE with a reason in msg
 * (also when Redis answers PING with an error, e.g. LOADING or NOAUTH). */
int krc_redis_ready(krc_redis *r, char *msg, size_t msglen);
/* any thread. Sets h->redis_command_argv and h->redis_pipeline; the handles
 * they take must come from krc_redis_open. */
void krc_redis_host_fill(kr_host *h);

#endif
