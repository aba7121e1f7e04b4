/* Core: Redis URLs and single blocking connections.
 *
 * Shared by the kr_redis pool and the queue runner (which needs connections
 * of its own for blocking commands). */
#ifndef KRC_REDIS_CONN_H
#define KRC_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct krc_redis_url {
    char host[256];
    int port;          /* default 6379 */
    char password[256]; /* empty: no AUTH */
    int db;            /* default 0 */
} krc_redis_url;

/* any thread. Parses redis://[:password@]host[:port][/db]. Returns 0, or -1
 * with a one-line reason in err. */
int krc_redis_url_parse(const char *url, krc_redis_url *out, char *err, size_t errlen);

/* worker. Connects with connect/command timeouts of timeout_ms, sends AUTH
 * and SELECT as the URL says. Caller-owned (redisFree); NULL with a reason
 * in err. */
redisContext *krc_redis_connect(const krc_redis_url *url, int timeout_ms, char *err, size_t errlen);

#endif
