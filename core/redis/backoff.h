/* Core: reconnect backoff, shared by the pool and the subscriber.
 *
 * After a failure the next connection attempt waits 50 ms, doubling up to
 * 2 s, so a down Redis is probed a few times a second at most and callers
 * fail fast meanwhile; a success resets it. Not locked: the owner guards it. */
#ifndef KRC_REDIS_BACKOFF_H
#define KRC_REDIS_BACKOFF_H

#include <stdint.h>

#define KRC_REDIS_BACKOFF_MIN_MS 50
#define KRC_REDIS_BACKOFF_MAX_MS 2000

typedef struct krc_redis_backoff {
    int64_t delay_ms; /* 0: healthy */
    int64_t next_ms;  /* monotonic time before which no attempt is made */
} krc_redis_backoff;

/* any thread. Monotonic clock in milliseconds. */
int64_t krc_redis_now_ms(void);
/* any thread. Records a failure at now_ms; failures within one wait (many
 * callers failing together) count once. */
void krc_redis_backoff_failed(krc_redis_backoff *b, int64_t now_ms);
/* any thread. Records a success. */
void krc_redis_backoff_reset(krc_redis_backoff *b);
/* any thread. Milliseconds until an attempt is allowed (0: now). */
int64_t krc_redis_backoff_wait_ms(const krc_redis_backoff *b, int64_t now_ms);

#endif
