/* kirana SDK: Redis.
 *
 * A kr_redis handle is a pool of connections; each call checks one out for
 * its duration, so calls are safe from any worker or job thread and never
 * share a connection. Every call blocks: never call from an event-loop
 * thread. A down server is KR_EUNAVAILABLE (the pool reconnects with
 * backoff); a Redis error reply is returned as KR_OK with a reply of type
 * KR_REDIS_ERROR.
 */
#ifndef KIRANA_REDIS_H
#define KIRANA_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "kirana/error.h"
#include "kirana/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kr_redis_type {
    KR_REDIS_NIL = 0,
    KR_REDIS_STRING = 1,  /* bulk or simple string: str, len */
    KR_REDIS_INTEGER = 2, /* integer */
    KR_REDIS_ARRAY = 3,   /* elements, element */
    KR_REDIS_ERROR = 4,   /* str, len */
} kr_redis_type;

/* Every node, its str and its element array are separately malloc()ed, so
 * kr_redis_reply_free can release a tree built by any host. */
typedef struct kr_redis_reply {
    kr_redis_type type;
    long long integer;
    char *str; /* NUL-terminated; len excludes the NUL */
    size_t len;
    size_t elements;
    struct kr_redis_reply **element;
} kr_redis_reply;

/* One command of a pipeline. */
typedef struct kr_redis_cmd {
    int argc;
    const char *const *argv;
    const size_t *argvlen; /* NULL: strlen of each argv */
} kr_redis_cmd;

/* worker. One command; *out is caller-owned (kr_redis_reply_free). */
int kr_redis_command_argv(kr_redis *r, int argc, const char *const *argv,
                          const size_t *argvlen, kr_redis_reply **out);
/* worker. Convenience: NULL-terminated list of NUL-terminated arguments. */
int kr_redis_command(kr_redis *r, kr_redis_reply **out, const char *arg0, ...)
    __attribute__((sentinel));
/* worker. n commands sent in one round trip on one connection; replies[i]
 * (array of n, caller-owned: kr_redis_replies_free) answers cmds[i]. */
int kr_redis_pipeline(kr_redis *r, size_t n, const kr_redis_cmd *cmds,
                      kr_redis_reply ***replies);
/* any thread. NULL is fine. */
void kr_redis_reply_free(kr_redis_reply *reply);
void kr_redis_replies_free(kr_redis_reply **replies, size_t n);

#ifdef __cplusplus
}
#endif
#endif
