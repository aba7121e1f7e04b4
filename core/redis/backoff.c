#include "core/redis/backoff.h"

#include <time.h>

int64_t krc_redis_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void krc_redis_backoff_failed(krc_redis_backoff *b, int64_t now_ms)
{
    if (b->delay_ms != 0 && now_ms < b->next_ms)
        return;
    b->delay_ms = b->delay_ms == 0 ? KRC_REDIS_BACKOFF_MIN_MS : b->delay_ms * 2;
    if (b->delay_ms > KRC_REDIS_BACKOFF_MAX_MS)
        b->delay_ms = KRC_REDIS_BACKOFF_MAX_MS;
    b->next_ms = now_ms + b->delay_ms;
}

void krc_redis_backoff_reset(krc_redis_backoff *b)
{
    b->delay_ms = 0;
    b->next_ms = 0;
}

int64_t krc_redis_backoff_wait_ms(const krc_redis_backoff *b, int64_t now_ms)
{
    return b->next_ms > now_ms ? b->next_ms - now_ms : 0;
}
