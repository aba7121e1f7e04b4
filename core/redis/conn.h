/* Core: Redis URLs and single blocking connections.
 *
 * Shared by the kr_redis pool, the pub/sub subscriber and the queue runner
 * (which needs connections of its own for blocking commands). */
#ifndef KRC_REDIS_CONN_H
#define KRC_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct krc_redis_url {
    char host[256];
    int port;           /* default 6379 */
    char password[256]; /* empty: no AUTH unless user is set */
    int db;             /* default 0 */
    char user[256];     /* ACL user; empty: the default user */
} krc_redis_url;

/* any thread. Parses redis://[[user]:password@]host[:port][/db] (also
 * redis://password@host, and [v6addr] hosts); user and password may be
 * percent-encoded. Returns 0, or -1 with a one-line reason in err that never
 * repeats the password. */
int krc_redis_url_parse(const char *url, krc_redis_url *out, char *err, size_t errlen);

/* worker. Connects with connect/command timeouts of timeout_ms (> 0), sends
 * AUTH and SELECT as the URL says. Caller-owned (redisFree); NULL with a
 * reason "redis HOST:PORT: ..." in err. The first call sets SIGPIPE to
 * SIG_IGN if it is SIG_DFL, because hiredis writes with write(2) and a
 * server that went away would otherwise kill the process. */
redisContext *krc_redis_connect(const krc_redis_url *url, int timeout_ms, char *err, size_t errlen);

/* any thread, right after a hiredis call on c failed: c->errstr, or "timed
 * out" for a read or write that hit the timeout (hiredis reports EAGAIN as
 * "Resource temporarily unavailable"). Borrowed from c (or static). */
const char *krc_redis_conn_error(const redisContext *c);

#endif
