/* kirana SDK: error codes.
 *
 * Every SDK call that can fail returns 0 (KR_OK) or one of these negative
 * codes. The human-readable reason of the last failure on the calling thread
 * is kr_errmsg(). The mapping of codes to HTTP statuses lives in one place in
 * the core (a handler may simply return the code it got).
 */
#ifndef KIRANA_ERROR_H
#define KIRANA_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kr_err {
    KR_OK = 0,
    KR_EINVAL = -1,       /* bad argument or input (HTTP 400) */
    KR_ENOTFOUND = -2,    /* no such thing (404) */
    KR_EDUPLICATE = -3,   /* unique constraint violated (409) */
    KR_ECONFLICT = -4,    /* guard or state conflict (409) */
    KR_EUNAVAILABLE = -5, /* dependency down or timed out (503) */
    KR_ENOMEM = -6,       /* out of memory (500) */
    KR_EINTERNAL = -7,    /* bug or unexpected reply (500) */
    KR_ETOOBIG = -8,      /* payload too large (413) */
    KR_EAUTH = -9,        /* not authenticated (401) */
    KR_EFORBIDDEN = -10,  /* authenticated but not allowed (403) */
    KR_ELIMIT = -11,      /* rate limited (429) */
    KR_EUNPROCESSABLE = -12, /* well-formed but unacceptable (422) */
} kr_err;

/* any thread. Static string naming the code ("KR_EINVAL"); never NULL. */
const char *kr_strerror(int err);

/* any thread. Message of the last failed SDK call made by this thread
 * through the host that owns `handle` (any kirana handle: kr_plugin_ctx,
 * kr_req, kr_db, kr_coll, kr_redis, kr_queue, kr_job). Borrowed; valid until
 * the next SDK call on this thread. Never NULL (empty when none). */
const char *kr_errmsg(const void *handle);

/* any thread. Sets the calling thread's error message (what kr_errmsg,
 * the loader's refusal line and 4xx problem details show) and returns err,
 * so a plugin can write `return kr_error(ctx, KR_EINVAL, "bad %s", x);`.
 * handle: any kirana handle. */
int kr_error(const void *handle, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
