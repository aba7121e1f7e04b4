/* Core: the process's Redis pub/sub subscriber (the SSE fan-out's source).
 *
 * One connection on its own thread, opened lazily. After Redis goes away the
 * thread reconnects with the pool's backoff and subscribes to every channel
 * again. Messages published while it was disconnected are lost (pub/sub is
 * at most once), so a consumer re-reads current state when it needs it. A
 * silent connection is pinged every few seconds and replaced when the PONG
 * does not come within timeout_ms, so a stopped or unreachable server is
 * noticed without traffic. */
#ifndef KRC_REDIS_SUB_H
#define KRC_REDIS_SUB_H

#include <stddef.h>

typedef struct krc_redis_sub krc_redis_sub;

/* Runs on the subscriber thread, one message at a time; must not block for
 * long nor call krc_redis_sub_stop. channel and msg (len bytes, binary-safe, NUL-terminated too) are
 * borrowed for the duration of the call. */
typedef void (*krc_redis_sub_fn)(void *udata, const char *channel, const char *msg, size_t len);

/* main. Parses url (see conn.h) and starts the thread, which connects in the
 * background. timeout_ms 1..600000. Caller-owned (krc_redis_sub_stop); NULL
 * with the reason in krc_err_msg(). */
krc_redis_sub *krc_redis_subscribe_start(const char *url, int timeout_ms, krc_redis_sub_fn on_message, void *udata);
/* any thread. Subscribes to channel (copied) now if connected, else on
 * connect; the SUBSCRIBE is sent asynchronously. Adding a channel twice is a
 * no-op. 0, or KR_EINVAL / KR_ENOMEM. */
int krc_redis_sub_add(krc_redis_sub *sub, const char *channel);
/* main. Stops and joins the thread, closes the connection, frees sub (NULL
 * is fine). No callback runs after it returns. */
void krc_redis_sub_stop(krc_redis_sub *sub);

#endif
